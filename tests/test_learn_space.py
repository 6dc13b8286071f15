"""The learned space on synthetic libraries whose albums share a hidden style (segue.learn)."""

from __future__ import annotations

import numpy as np
import pytest

from segue.evaluate import evaluate
from segue.learn import learn, load_model
from segue.learn.features import library_inputs
from segue.learn.synthetic import SyntheticTruth, synthetic_library
from segue.library.store import Store
from segue.playlist.catalog import Catalog


def style_precision(truth: SyntheticTruth, vectors: np.ndarray) -> float:
    """Style P@10 with the query's artist and album excluded (the style is never a tag)."""
    n = len(vectors)
    cat = Catalog(
        ids=np.arange(1, n + 1), vectors=vectors, path=truth.paths,
        artist=[f"artist {a}" for a in truth.artist], album=[f"album {b}" for b in truth.album],
        genre=[f"style {s}" for s in truth.style],
    )  # fmt: skip
    r = evaluate(cat, None, 10, n_journeys=0, n_queries=300)
    return r["genre_precision_artist_album_filtered"]["value"]


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "lib.db") as s:
        yield s


def test_learned_space_recovers_the_style_albums_share(store):
    truth = synthetic_library(store, 500, seed=3)
    hashes, x = library_inputs(store, truth.hashes)
    raw = style_precision(truth, x[:, :200])
    summary, model = learn(store)
    assert summary.space == "learned" and model is not None and summary.dims >= 1
    assert summary.contexts["album"] == 50 and summary.tracks_in_contexts == 500
    learned = style_precision(truth, model.place_rows(x))
    # raw neighbours are ruled by a per-track nuisance; the albums say what to ignore
    assert raw < 0.45 and learned > raw + 0.25, (raw, learned)
    # the held-out loss is measured over five folds of albums, in both spaces
    assert summary.held_out["folds"] == 5 and summary.held_out["contexts"] == 50
    assert 0 < summary.held_out["pretrained"] < 2 and 0 < summary.held_out["learned"] < 2
    assert load_model(store) is not None


def test_playlists_and_sessions_add_to_what_albums_say(store):
    # a style too faint for albums alone to pin down; playlists and sessions join albums of one
    # style, which albums alone cannot say
    truth = synthetic_library(store, 400, seed=4, playlists=25, sessions=25, style_strength=0.25)
    _, x = library_inputs(store, truth.hashes)
    precision = {}
    for sources in (["album"], ["album", "playlist"], ["album", "playlist", "session"]):
        summary, model = learn(store, sources=sources, save=False, held_out=False)
        precision[len(sources)] = style_precision(truth, model.place_rows(x))
    assert summary.contexts["playlist"] == 25 and summary.contexts["session"] == 25
    assert precision[1] + 0.2 < precision[2] <= precision[3] + 0.01, precision


def test_a_library_without_albums_keeps_the_pretrained_space(store):
    synthetic_library(store, 200, seed=5, album_tags=False, folders="track")
    summary, model = learn(store)
    assert model is None and summary.space == "pretrained" and summary.dims == 0
    assert summary.reason.startswith("no usable signal")
    assert summary.contexts == {"album": 0, "folder": 0, "playlist": 0, "session": 0,
                                "skip_pairs": 0}  # fmt: skip
    assert load_model(store) is None


def test_albums_unrelated_to_the_sound_are_no_signal_and_drop_an_old_model(store):
    synthetic_library(store, 200, seed=6, album_tags=False, folders="flat")
    # one folder of everything is a dump, not a grouping: no context at all
    summary, model = learn(store)
    assert summary.contexts["folder"] == 0 and model is None
    assert summary.reason.startswith("no usable signal")
    ids = [t.id for t in store.tracks()]
    # albums as the synthetic library made them (ten tracks in a row share one): learned
    for i in ids:
        store.conn.execute("UPDATE tracks SET album=? WHERE id=?", (f"A{(i - 1) // 10}", i))
    assert learn(store, held_out=False)[1] is not None and load_model(store) is not None
    # the same album sizes, tracks dealt at random: no direction beats chance
    shuffled = np.random.default_rng(0).permutation(len(ids))
    for i, j in zip(ids, shuffled, strict=True):
        store.conn.execute("UPDATE tracks SET album=? WHERE id=?", (f"A{j // 10}", i))
    summary, model = learn(store, held_out=False)
    assert model is None and summary.space == "pretrained" and summary.contexts["album"] == 20
    assert summary.reason == "the contexts carry no signal the audio follows beyond chance"
    # and the model from before does not outlive its signal
    assert load_model(store) is None


def test_skips_move_the_skipped_track_away(store):
    truth = synthetic_library(store, 400, seed=1)
    hashes, x = library_inputs(store, truth.hashes)

    def rank_of(model, a: int, b: int) -> int:
        z = model.place_rows(x)
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        sims = z @ z[a]
        sims[a] = -np.inf
        return int((sims > sims[b]).sum())

    _, before = learn(store, save=False, held_out=False)
    a = 0
    z = before.place_rows(x)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    order = np.argsort(-(z @ z[a]))
    b = next(int(j) for j in order[1:] if truth.style[j] != truth.style[a])
    at = 5e9
    for _ in range(3):  # the listener skips b each time it follows a, within seconds
        store.record_play(a + 1, hashes[a], "start", 0.0, 200.0, at=at)
        store.record_play(a + 1, hashes[a], "complete", 200.0, 200.0, at=at + 200)
        store.record_play(b + 1, hashes[b], "start", 0.0, 200.0, at=at + 201)
        store.record_play(b + 1, hashes[b], "skip", 4.0, 200.0, at=at + 205)
        at += 10_000
    summary, after = learn(store, save=False, held_out=False)
    assert summary.contexts["skip_pairs"] == 3
    assert rank_of(after, a, b) > rank_of(before, a, b) + 50
