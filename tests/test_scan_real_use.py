"""Real scans with the real listening pipeline, used as people use them: the README's Python
example saved as a script, play events recorded while a scan writes, and the GPU layout (central
inference) forced on the CPU against the default one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from segue.config import cache_dir
from segue.library.scan import Scanner
from segue.library.store import Store
from segue.listen.pipeline import MODEL, ListeningHook

from audio_factory import tag_file, write_audio
from conftest import REPO


def readme_python_example() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Python API") :]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.timeout(300)
def test_the_readme_python_example_runs_as_a_script(tmp_path: Path) -> None:
    # Saved as a script without an `if __name__ == "__main__":` guard, it used to hang: every
    # spawned worker re-imported the script, started a scan of its own, died and was replaced.
    home = tmp_path / "home"
    music = home / "Music"
    for i in range(6):
        write_audio(music / f"{i}.ogg", seconds=3.0, seed=40 + i)
    tag_file(music / "0.ogg", title="Gravity", artist="Kenta Cho")
    script = tmp_path / "example.py"
    script.write_text(readme_python_example())
    env = {**os.environ, "HOME": str(home), "SEGUE_CACHE": str(cache_dir()),
           "PYTHONPATH": str(REPO / "src")}  # fmt: skip
    env.pop("SEGUE_DB", None)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          env=env, timeout=240)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Kenta Cho - Gravity" in done.stdout
    assert (home / "music.db").exists()


@pytest.mark.timeout(300)
def test_play_events_are_not_held_up_by_a_scan_of_new_files(tmp_path: Path) -> None:
    # The scan used to run the networks inside its write transaction: a play posted meanwhile
    # waited seconds for the lock (and the web answered 500 "database is locked" after 30 s).
    music = tmp_path / "music"
    n_files = 10  # enough that the scan commits in several transactions, even on a busy machine
    for i in range(n_files):
        write_audio(music / f"{i:02d}.mp3", seconds=8.0, seed=60 + i)
    db = tmp_path / "lib.db"
    Store(db).close()  # the schema exists before both start writing
    scan = subprocess.Popen(
        [sys.executable, "-m", "segue.cli", "--db", str(db), "scan", str(music), "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )  # fmt: skip
    waits, seen_tracks = [], set()
    with Store(db) as store:
        while scan.poll() is None:
            started = time.perf_counter()
            store.record_play(len(waits), f"hash{len(waits)}", "skip", position_s=1.0)
            waits.append(time.perf_counter() - started)
            seen_tracks.add(store.count_tracks())
            time.sleep(0.02)
        assert scan.wait() == 0, scan.stderr.read()
        plays = store.plays()
        analysed = len(store.analysis_status(MODEL))
    assert analysed == n_files
    assert len([t for t in seen_tracks if 0 < t < n_files]) >= 1, "no event was sent mid-scan"
    assert len(plays) == len(waits)  # none lost
    assert {p.track_id for p in plays} == set(range(len(waits)))
    assert max(waits) < 1.0, f"a play waited {max(waits):.2f} s for the scan's lock"


@pytest.mark.timeout(300)
def test_central_inference_stores_what_worker_inference_stores(tmp_path: Path) -> None:
    # The descriptors are computed in the workers either way; the networks are what moves.
    music = tmp_path / "music"
    for i in range(4):
        write_audio(music / f"{i}.flac", seconds=6.0 + 2 * i, seed=80 + i)
    stored = {}
    for inference in ("workers", "central"):
        with Store(tmp_path / f"{inference}.db") as store:
            hook = ListeningHook(inference=inference, descriptors=False)
            report = Scanner(store, workers=2, hook=hook, progress=False).scan([music])
            assert report.analysed == 4
            assert (hook._models is not None) == (inference == "central")
            stored[inference] = {kind: store.vectors(MODEL, kind)
                                 for kind in ("track", "intro", "outro", "tags_mtt", "patches")}  # fmt: skip
    vectors, central = stored["workers"], stored["central"]
    for kind, by_hash in vectors.items():
        assert by_hash.keys() == central[kind].keys() and len(by_hash) == 4
        for h, v in by_hash.items():  # batched with other tracks: equal to float rounding
            np.testing.assert_allclose(central[kind][h].astype(np.float32), v.astype(np.float32),
                                       rtol=1e-3, atol=1e-4)  # fmt: skip
