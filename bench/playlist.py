"""Playlist engine latency and memory at 10k, 100k and 1M tracks (synthetic 200-d vectors).

    python bench/playlist.py                      # all sizes, one subprocess per size
    python bench/playlist.py --sizes 10000 100000 --runs 30

Each size runs in its own process (so RSS is that size's alone).  Search runs single-threaded
(OMP/BLAS/faiss threads = 1, set before numpy is imported); only the index build may use
``--build-threads``.  Reported per size: synthetic generation and index build time, IVF
recall@10 against exact search for radio-like queries (normalised mean of 3 tracks of one
album), p50/p99 over ``--runs`` runs (after 3 warm-up runs) of:

- ``radio``: a 20-track radio playlist, default rules (artist gap 3, near-duplicates), X = 0;
- ``radio_x0.3``: the same with noise 0.3;
- ``journey``: 2 random waypoints, 10 steps between them;

and resident memory (VmRSS now, VmHWM peak) of the process.  Goal: radio p50 <= 10 ms at 100k
and <= 50 ms at 1M.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from segue.playlist.catalog import Catalog  # noqa: E402
from segue.playlist.journey import journey  # noqa: E402
from segue.playlist.radio import radio  # noqa: E402
from segue.playlist.rules import Rules  # noqa: E402


def rss_mb() -> tuple[float, float]:
    now = peak = float("nan")
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    return now, peak


def one_size(n: int, d: int, runs: int, build_threads: int, seed: int) -> dict:
    import faiss

    out: dict = {"n": n, "d": d, "runs": runs}
    t = time.perf_counter()
    cat = Catalog.synthetic(
        n,
        d,
        seed=seed,
        n_genres=20,
        artists_per_genre=max(5, n // 2000),
        albums_per_artist=8,
        artist_spread=1.0,
        track_spread=1.2,
        transitions=True,
    )
    out["generate_s"] = round(time.perf_counter() - t, 2)
    faiss.omp_set_num_threads(build_threads)
    t = time.perf_counter()
    index = cat.get_index()
    out["build_s"] = round(time.perf_counter() - t, 2)
    out["backend"] = index.backend
    if index.backend == "ivf":
        out["nlist"], out["nprobe"] = index.nlist, index.nprobe
    faiss.omp_set_num_threads(1)

    # recall@10 of the index for radio-like queries, against brute force
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(n, 200, replace=False)
    q = cat.vectors[np.clip(rows[:, None] + np.arange(3), 0, n - 1)].sum(axis=1)
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    got, _ = index.search(q, 10)
    want, _ = _chunked_exact(cat.vectors, q, 10)
    out["recall_at_10"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])), 4)

    rules = Rules()

    def timed(fn) -> dict:
        for k in range(3):
            fn(k)
        ts, cpu = [], []
        for k in range(runs):
            t0, c0 = time.perf_counter(), time.process_time()
            fn(1000 + k)
            cpu.append((time.process_time() - c0) * 1e3)
            ts.append((time.perf_counter() - t0) * 1e3)
        return {
            "p50_ms": round(float(np.percentile(ts, 50)), 2),
            "p99_ms": round(float(np.percentile(ts, 99)), 2),
            "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
        }

    seeds = np.random.default_rng(seed + 2).integers(0, n, size=runs + 3 + 1000 + runs)
    out["radio"] = timed(lambda k: radio(cat, [int(seeds[k])], 20, rules=rules, index=index))
    out["radio_x0.3"] = timed(lambda k: radio(cat, [int(seeds[k])], 20, noise=0.3, rng=k, rules=rules, index=index))

    def one_journey(k: int) -> None:
        a, b = int(seeds[k]), int(seeds[-1 - k])
        if cat.group[a] == cat.group[b]:
            b = (b + 1) % n
        journey(cat, [a, b], 10, rules, index=index)

    out["journey"] = timed(one_journey)
    now, peak = rss_mb()
    out["rss_mb"], out["peak_rss_mb"] = round(now), round(peak)
    out["data_mb"] = round((cat.vectors.nbytes + cat.intro.nbytes + cat.outro.nbytes) / 2**20)
    out["index_mb"] = round(index.memory_bytes() / 2**20)
    return out


def _chunked_exact(v: np.ndarray, q: np.ndarray, k: int) -> tuple[np.ndarray, None]:
    best_s = np.full((len(q), k), -np.inf, np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for s in range(0, len(v), 200_000):
        sc = q @ v[s : s + 200_000].T
        part = np.argpartition(-sc, k - 1, axis=1)[:, :k]
        cs = np.take_along_axis(sc, part, 1)
        alls = np.hstack([best_s, cs])
        alli = np.hstack([best_i, part + s])
        o = np.argsort(-alls, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(alls, o, 1), np.take_along_axis(alli, o, 1)
    return best_i, None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--dim", type=int, default=200)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--build-threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_size(args.sizes[0], args.dim, args.runs, args.build_threads, args.seed)))
        return
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, single-threaded search, "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for n in args.sizes:
        cmd = [sys.executable, __file__, "--one", "--sizes", str(n), "--dim", str(args.dim),
               "--runs", str(args.runs), "--build-threads", str(args.build_threads), "--seed", str(args.seed)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            print(res.stderr, file=sys.stderr)
            raise SystemExit(f"size {n} failed")
        r = json.loads(res.stdout.strip().splitlines()[-1])
        rows.append(r)
        print(json.dumps(r), flush=True)
    print()
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"(wall times inflate when other processes share the CPUs; CPU time does less)")
    print()
    print("ms: wall p50 / wall p99 (CPU p50)")
    print("| tracks | backend | build s | recall@10 | radio 20 | radio 20, X=0.3 "
          "| journey 10 steps | RSS MB (peak) |")
    print("|---|---|---|---|---|---|---|---|")

    def cell(t: dict) -> str:
        return f"{t['p50_ms']} / {t['p99_ms']} ({t['cpu_p50_ms']})"

    for r in rows:
        print(
            f"| {r['n']:,} | {r['backend']}{' nprobe ' + str(r['nprobe']) if 'nprobe' in r else ''} "
            f"| {r['build_s']} | {r['recall_at_10']} | {cell(r['radio'])} "
            f"| {cell(r['radio_x0.3'])} | {cell(r['journey'])} "
            f"| {r['rss_mb']} ({r['peak_rss_mb']}) |"
        )


if __name__ == "__main__":
    main()
