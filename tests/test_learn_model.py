"""Contexts from the store, and the learned model's storage: atomic, versioned, loaded once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from segue.learn import learn, load_model
from segue.learn import model as model_module
from segue.learn.contexts import build_contexts
from segue.learn.synthetic import synthetic_library
from segue.library.store import Store

from conftest import REPO


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "lib.db") as s:
        yield s


def add(store: Store, path: str, audio_hash: str, **tags) -> int:
    return store.insert_track({"path": path, "size": 1, "mtime_ns": 0, "audio_hash": audio_hash,
                               "format": "flac", "duration": 200.0, **tags})  # fmt: skip


def test_albums_folders_playlists_sessions_and_skips(store):
    # a compilation tagged per track artist, in one folder: one album, in running order
    add(store, "/m/comp/02.flac", "h2", artist="B", album="Comp", track_no=2)
    add(store, "/m/comp/01.flac", "h1", artist="A", album="Comp", track_no=1)
    # the same album title in another folder and with an album artist: other albums
    add(store, "/m/other/01.flac", "h3", artist="C", album="Comp", album_artist="C")
    add(store, "/m/other/02.flac", "h4", artist="C", album="Comp", album_artist="C")
    add(store, "/m/loose/x.flac", "h5")
    add(store, "/m/loose/y.flac", "h6", album="Lonely")
    add(store, "/m/loose/z.flac", "h7")
    hashes = ["h1", "h2", "h3", "h4", "h5", "h6", "h7"]
    store.put_playlist_file("/m/l.m3u8", "m3u8", 1, 0, [
        ("loose/x.flac", "/m/loose/x.flac"), ("http://radio", None), ("gone.flac", "/m/gone.flac"),
        ("comp/01.flac", "/m/comp/01.flac"), ("other/01.flac", "/m/other/01.flac")])  # fmt: skip
    t = 1_000_000.0
    plays = [  # (hash, event, position, seconds later)
        ("h5", "start", 0, 0), ("h5", "complete", 200, 200), ("h6", "start", 0, 1),
        ("h6", "complete", 200, 200), ("h7", "start", 0, 1), ("h7", "skip", 12, 12),
        ("h1", "start", 0, 1), ("h1", "skip", 45, 45),  # a late skip says nothing
        ("h3", "start", 0, 4000), ("h3", "complete", 200, 200),  # a new sitting
        ("h4", "start", 0, 1), ("h4", "complete", 200, 200),
    ]  # fmt: skip
    for h, event, position, later in plays:
        t += later
        store.record_play(1, h, event, position, 200.0, at=t)
    ctx = build_contexts(store, hashes)
    by_source = {}
    for c in ctx.contexts:
        by_source.setdefault(c.source, []).append([hashes[i] for i in c.tracks])
    assert sorted(by_source["album"]) == [["h1", "h2"], ["h3", "h4"]]
    # /m/comp and /m/other hold exactly one album each; /m/loose is a folder context
    assert by_source["folder"] == [["h5", "h6", "h7"]]
    assert by_source["playlist"] == [["h5", "h1", "h3"]]
    assert sorted(by_source["session"]) == [["h3", "h4"], ["h5", "h6"]]
    assert [(hashes[a], hashes[b]) for a, b, _ in ctx.negatives] == [("h7", "h6")]
    assert ctx.counts() == {"album": 2, "folder": 1, "playlist": 1, "session": 2, "skip_pairs": 1}
    assert ctx.only(["album"]).counts()["skip_pairs"] == 0


def test_style_labels_never_reach_the_model(store):
    """The leakage guard: genre tags (where a manifest's style would be) change nothing."""
    truth = synthetic_library(store, 300, seed=2)
    _, first = learn(store, save=False, held_out=False)
    for i, style in enumerate(truth.style, 1):
        store.conn.execute("UPDATE tracks SET genre=? WHERE id=?", (f"style {style}", i))
    _, second = learn(store, save=False, held_out=False)
    assert first.to_bytes() == second.to_bytes()


def test_the_model_is_stored_versioned_and_loaded_once(store, monkeypatch):
    synthetic_library(store, 200, seed=7)
    summary, trained = learn(store, held_out=False)
    loaded = load_model(store)
    assert loaded is load_model(store)  # one load per process
    assert loaded.to_bytes() == trained.to_bytes() and loaded.dims == summary.dims
    assert loaded.summary["contexts"]["album"] == 20
    # another process's store connection sees the same row; a retrain replaces it
    with Store(store.path) as other:
        assert load_model(other) is loaded
        time.sleep(0.01)
        learn(other, held_out=False, seed=1)
    assert load_model(store) is not loaded
    # a model from another version of the code is ignored, not misread
    monkeypatch.setattr(model_module, "LEARN_VERSION", "learn-0")
    assert load_model(store) is None
    monkeypatch.undo()
    assert load_model(store) is not None
    # vectors of another analysis version: the head would misread them (checked when the model
    # is loaded: in the next process, or after the retrain the rescan that changed them runs)
    store.conn.execute("UPDATE analyses SET version='musicnn-9'")
    model_module._CACHE.clear()
    assert load_model(store) is None


def test_a_crashed_retrain_leaves_the_old_model(store):
    synthetic_library(store, 200, seed=8)
    learn(store, held_out=False)
    before = store.learned_model("learned")
    store.conn.execute("UPDATE tracks SET album = 'A' || (id / 7)")

    def crash(stage: str) -> None:
        if stage == "fit":
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        learn(store, held_out=False, step=crash)
    after = store.learned_model("learned")
    assert (after.data, after.trained_at) == (before.data, before.trained_at)
    assert load_model(store) is not None


def test_a_killed_retrain_leaves_the_old_model(tmp_path):
    db = tmp_path / "lib.db"
    with Store(db) as store:
        synthetic_library(store, 300, seed=9)
        learn(store, held_out=False)
        before = store.learned_model("learned")
    script = (
        "import sys, time\n"
        "from segue.learn import learn\n"
        "from segue.library.store import Store\n"
        "def stage(name):\n"
        "    print(name, flush=True)\n"
        "    if name == 'save':\n"
        "        time.sleep(60)\n"
        f"learn(Store({str(db)!r}), held_out=False, seed=3, step=stage)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        for line in proc.stdout:  # killed with the new model in hand, just before it is stored
            if line.strip() == "save":
                break
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    with Store(db) as store:
        after = store.learned_model("learned")
        assert (after.data, after.trained_at) == (before.data, before.trained_at)
        assert store.integrity_ok() and load_model(store) is not None
        np.testing.assert_array_equal(
            load_model(store).head.projection, model_module.LearnedModel.from_row(
                before.data, before.version, before.trained_on, before.summary).head.projection)
