"""How long `segue learn` takes, and what each context source adds, on synthetic libraries.

    python bench/learn.py [--sizes 1000 10000 100000] [--runs 3] [--quality]

Speed: synthetic libraries (segue.learn.synthetic: albums of 10 tracks in artist/album folders,
one playlist file and one listening session per 100 tracks, one skip per 1,000) are written
once into bench/out/learn-N.db; then, for each size, the command a user runs,
``segue --db learn-N.db learn --json``, in a fresh process on ONE core (taskset -c 0 where
available, and OMP/OpenBLAS/MKL at one thread). Baseline, measured in the same run: a fresh
process that imports segue and reads the head's inputs from the same store (the floor any
training on the stored vectors pays). Medians of --runs runs. The skip-gram variant
(``--method sgns``) is timed at the sizes in --sgns-sizes (default 1,000).

Quality (--quality): style precision@10 with the query's artist and album excluded on a 2,000
track library whose style is too faint for albums alone (style strength 0.25), for each source
set and both Track2Vec methods, against the raw vectors.
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

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
CACHE = REPO / "bench" / "out"
ONE_CORE_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def library(n: int) -> Path:
    from segue.learn.synthetic import synthetic_library
    from segue.library.store import Store

    CACHE.mkdir(parents=True, exist_ok=True)
    db = CACHE / f"learn-{n}.db"
    if not db.exists():
        tmp = db.with_suffix(".tmp.db")
        tmp.unlink(missing_ok=True)
        with Store(tmp) as store:
            synthetic_library(store, n, seed=0, playlists=n // 100, sessions=n // 100,
                              skips=max(1, n // 1000))  # fmt: skip
        tmp.rename(db)
    return db


def one_core(cmd: list[str]) -> list[str]:
    return (["taskset", "-c", "0"] if shutil.which("taskset") else []) + cmd


def timed(cmd: list[str]) -> tuple[float, str]:
    env = {**os.environ, **ONE_CORE_ENV, "PYTHONPATH": str(REPO / "src")}
    started = time.perf_counter()
    out = subprocess.run(one_core(cmd), capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return time.perf_counter() - started, out.stdout


def speed(sizes: list[int], runs: int, sgns_sizes: list[int]) -> None:
    segue = [sys.executable, "-m", "segue.cli"]
    read = ("from segue.library.store import Store; from segue.learn.features import "
            "library_inputs; import sys; library_inputs(Store(sys.argv[1]))")  # fmt: skip
    print("| tracks | method | read inputs (baseline) s | segue learn s | vs baseline | "
          "contexts | dims | held-out loss learned / pretrained |")
    print("|---:|---|---:|---:|---:|---|---:|---|")
    for n in sizes:
        db = library(n)
        methods = ["cooccurrence"] + (["sgns"] if n in sgns_sizes else [])
        for method in methods:
            base, learn, summary = [], [], {}
            for _ in range(runs):
                base.append(timed([sys.executable, "-c", read, str(db)])[0])
                seconds, out = timed([*segue, "--db", str(db), "learn", "--method", method, "--json"])
                learn.append(seconds)
                summary = json.loads(out)
            b, t = statistics.median(base), statistics.median(learn)
            c = summary["contexts"]
            held = summary.get("held_out") or {}
            print(f"| {n:,} | {method} | {b:.1f} | {t:.1f} | {t / b:.1f} | {c['album']} albums, "
                  f"{c['playlist']} playlists, {c['session']} sessions, {c['skip_pairs']} skips "
                  f"| {summary['dims']} | {held.get('learned')} / {held.get('pretrained')} |",
                  flush=True)  # fmt: skip


def quality() -> None:
    import tempfile

    import numpy as np

    from segue.evaluate import evaluate
    from segue.learn import learn
    from segue.learn.features import library_inputs
    from segue.learn.synthetic import synthetic_library
    from segue.library.store import Store
    from segue.playlist.catalog import Catalog

    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "q.db") as store:
        truth = synthetic_library(store, 2000, seed=1, style_strength=0.25, playlists=60,
                                  sessions=60, skips=40)  # fmt: skip
        _, x = library_inputs(store, truth.hashes)

        def score(vectors: np.ndarray) -> tuple[float, float]:
            cat = Catalog(ids=np.arange(1, len(vectors) + 1), vectors=vectors, path=truth.paths,
                          artist=[f"a{a}" for a in truth.artist],
                          album=[f"b{b}" for b in truth.album],
                          genre=[f"s{s}" for s in truth.style])  # fmt: skip
            r = evaluate(cat, None, 10, n_journeys=0, n_queries=1000)
            return r["genre_precision_artist_album_filtered"]["value"], r["hubness"]["skewness"]

        print("| vectors | style P@10 (other artist & album) | k-occ. skew | dims | held-out loss "
              "learned / pretrained |")
        print("|---|---:|---:|---:|---|")
        p, sk = score(x[:, :200])
        print(f"| raw vectors (pretrained) | {p:.3f} | {sk:.2f} | 200 | |")
        for method in ("cooccurrence", "sgns"):
            for sources in (["album"], ["album", "folder"], ["album", "folder", "playlist"],
                            ["album", "folder", "playlist", "session"]):  # fmt: skip
                if method == "sgns" and len(sources) < 4:
                    continue
                s, model = learn(store, sources=sources, method=method, save=False)
                if model is None:
                    print(f"| {method}: {' + '.join(sources)} | kept pretrained | | | |")
                    continue
                p, sk = score(model.place_rows(x))
                h = s.held_out or {}
                print(f"| {method}: {' + '.join(sources)} | {p:.3f} | {sk:.2f} | {s.dims} "
                      f"| {h.get('learned')} / {h.get('pretrained')} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--sgns-sizes", type=int, nargs="*", default=[1000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quality", action="store_true")
    args = parser.parse_args()
    print("command: python bench/learn.py " + " ".join(sys.argv[1:]))
    if args.quality:
        quality()
    else:
        speed(args.sizes, args.runs, args.sgns_sizes)


if __name__ == "__main__":
    main()
