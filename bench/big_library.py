"""A fresh `segue playlist` on a big library: the first process (which builds the catalogue and
index and saves them beside the library) against the next ones (which map the snapshot back).

    python bench/big_library.py --sizes 100000 1000000 --runs 3 [--features musicnn learned]

Per size a synthetic library is written once with the real Store (200-d track vectors, intro,
outro, 50 tag probabilities of each MusiCNN model and a descriptors document per track, tracks in albums of
artists) under ``bench/out/big/``; then ``segue --db LIB playlist <id> -n 20 --json`` runs as a
fresh process: first with no snapshot (what the first command after a scan pays), then ``--runs``
times with it; for the pretrained MusiCNN catalogue and for the learned one (``segue learn`` runs
once first, untimed: the default space of a library that has learned). Reported: wall
seconds and peak RSS (the child's own ``VmHWM``, polled), medians. The baseline in the same
run is the first (cold) process; the figure is how much of it a later process still pays.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from segue.library.store import Store  # noqa: E402

OUT = ROOT / "bench" / "out" / "big"


def build(n: int, path: Path, d: int = 200, seed: int = 0) -> None:
    """A synthetic analysed library of ``n`` tracks (album structure so playlists mean something)."""
    rng = np.random.default_rng(seed)
    store = Store(path)
    n_albums = max(1, n // 10)
    centres = rng.standard_normal((n_albums, d)).astype(np.float32)
    chunk = 20_000
    started = time.perf_counter()
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        album = np.arange(start, stop) // 10
        vecs = centres[album] + 0.6 * rng.standard_normal((stop - start, d)).astype(np.float32)
        tags = rng.random((stop - start, 50)).astype(np.float32)
        tags_mtt = rng.random((stop - start, 50)).astype(np.float32)
        with store.transaction():
            for j, i in enumerate(range(start, stop)):
                h = f"{i:032x}"
                store.insert_track({
                    "path": f"/music/artist{album[j] // 5:06d}/album{album[j]:07d}/{i % 10:02d}.flac",
                    "size": 1, "mtime_ns": 1, "audio_hash": h, "format": "flac", "codec": "flac",
                    "duration": float(120 + i % 300), "title": f"Track {i}",
                    "artist": f"Artist {album[j] // 5}", "album": f"Album {album[j]}",
                })  # fmt: skip
                v = vecs[j]
                store.record_analysis(h, "musicnn", "bench", {
                    "track": v, "intro": v, "outro": v, "tags_msd": tags[j], "tags_mtt": tags_mtt[j],
                })  # fmt: skip
                store.put_descriptors(h, {"bpm": float(70 + i % 100), "bpm_confidence": 0.8,
                                          "loudness_lufs": -10.0 - i % 8, "camelot": f"{1 + i % 12}A"})  # fmt: skip
        print(f"  {stop}/{n} tracks written ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    store.close()


def learned(db: Path) -> bool:
    """Whether the library already holds a learned space."""
    store = Store(db)
    try:
        return store.learned_model_stamp("learned") is not None
    finally:
        store.close()


def _vm_hwm_kb(pid: int) -> int:
    """The process's own peak RSS so far. Not ``ru_maxrss``: Linux carries that over from the
    parent across (v)fork + exec, so a child of a big bench process would report the parent's peak."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM")), 0)
    except OSError:  # it has just exited
        return 0


def run_once(db: Path, features: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one fresh `segue playlist` process."""
    import tempfile

    cmd = [sys.executable, "-m", "segue.cli", "--db", str(db), "playlist", "1", "-n", "20", "--json",
           "--features", features]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        peak_kb = 0
        while child.poll() is None:
            peak_kb = max(peak_kb, _vm_hwm_kb(child.pid))
            time.sleep(0.01)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(err.read().decode())
        assert len(json.loads(out.read())) == 21
    return wall, peak_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--features", nargs="+", default=["musicnn", "learned"],
                    help="the catalogues timed: musicnn (pretrained) and learned (the library's "
                         "own space: `segue learn` runs once first)")  # fmt: skip
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = {}
    for n in args.sizes:
        db = OUT / f"lib-{n}.db"
        if not db.exists():  # written under another name first: an interrupted build is not reused
            print(f"writing a {n}-track library to {db}", file=sys.stderr)
            partial = db.with_name(db.name + ".partial")
            for leftover in OUT.glob(partial.name + "*"):
                leftover.unlink()
            build(n, partial)
            partial.rename(db)
        for features in args.features:
            if features == "learned" and not learned(db):
                print(f"learning the {n}-track library's space (once, not timed)", file=sys.stderr)
                subprocess.run([sys.executable, "-m", "segue.cli", "--db", str(db), "learn"],
                               check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})  # fmt: skip
            shutil.rmtree(db.with_name(db.name + ".catalog"), ignore_errors=True)
            cold = run_once(db, features)  # builds the catalogue and the index, saves both
            warm = [run_once(db, features) for _ in range(args.runs)]
            results[f"{n} {features}"] = row = {
                "cold_s": round(cold[0], 2), "cold_rss_mb": round(cold[1]),
                "warm_s": round(statistics.median(w for w, _ in warm), 2),
                "warm_rss_mb": round(statistics.median(r for _, r in warm)),
                "warm_share_of_cold": round(statistics.median(w for w, _ in warm) / cold[0], 3),
            }  # fmt: skip
            print(f"{n:>8} tracks, {features}: first process {cold[0]:.1f} s ({cold[1]:.0f} MB), "
                  f"next ones {row['warm_s']:.1f} s ({row['warm_rss_mb']} MB): "
                  f"{row['warm_share_of_cold']:.2f} of the first")  # fmt: skip
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
