"""Benchmark: Deej-AI TF-IDF pooling, faiss range search (TfidfPooler) vs the O(n^2) reference.

Synthetic library: 100-d slice vectors, 18 slices per track on average (90-s tracks, 5-s slices),
with planted near-identical slices so that TF and IDF are non-trivial: ~10 % of slices are noisy
copies (cosine distance ~1e-5, far below eps = 1e-3) of "motifs" shared across tracks (Zipf
popularity, so a few motifs are in hundreds of tracks), ~8 % repeat the previous slice of the same
track. Checks that every track vector agrees with the reference to 1e-4 (relative to the largest
norm), then reports medians.

    python bench/pooling.py                      # 1k and 10k tracks
    python bench/pooling.py --sizes 1000 --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from segue.listen.pooling import DEFAULT_EPS, TfidfPooler, tfidf_pool_bruteforce  # noqa: E402


def synthetic_library(n_tracks: int, dim: int = 100, seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_motifs = max(16, n_tracks // 4)
    motifs = rng.standard_normal((n_motifs, dim)).astype(np.float32)
    motifs /= np.linalg.norm(motifs, axis=1, keepdims=True)
    popularity = 1.0 / np.arange(1, n_motifs + 1)
    popularity /= popularity.sum()
    counts = np.clip(rng.poisson(18, n_tracks), 2, None)
    lib = {}
    for t in range(n_tracks):
        n = int(counts[t])
        x = rng.standard_normal((n, dim)).astype(np.float32)
        r = rng.random(n)
        shared = np.flatnonzero(r < 0.10)
        if shared.size:
            m = rng.choice(n_motifs, shared.size, p=popularity)
            noise = rng.standard_normal((shared.size, dim)).astype(np.float32) * (0.004 / 10)
            x[shared] = (motifs[m] + noise) * rng.uniform(0.5, 3, (shared.size, 1))
        for k in np.flatnonzero((r >= 0.10) & (r < 0.18)):
            if k > 0:
                x[k] = x[k - 1] * 1.3 + rng.standard_normal(dim).astype(np.float32) * 1e-4
        lib[t] = x
    return lib


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def faiss_full(lib, index):
    p = TfidfPooler(DEFAULT_EPS, index=index)
    p.add_tracks(lib)
    return p.track_vectors(), p


def max_rel_diff(got, want) -> tuple[float, float]:
    scale = max(float(np.linalg.norm(v)) for v in want.values())
    diffs = np.array([float(np.abs(got[k] - want[k]).max()) for k in want]) / scale
    return float(diffs.max()), float((diffs <= 1e-4).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--repeats", type=int, default=5, help="runs per measurement (<= 2k tracks)")
    ap.add_argument(
        "--repeats-large",
        type=int,
        default=3,
        help="runs per IVF / incremental measurement above 2k tracks",
    )
    ap.add_argument(
        "--quadratic-repeats-large",
        type=int,
        default=1,
        help="runs of the two O(n^2) methods (reference, faiss flat) above 2k tracks",
    )
    args = ap.parse_args()
    print("$ python " + " ".join(shlex.quote(a) for a in sys.argv))
    import faiss

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads), "
        f"numpy {np.__version__}, load avg {os.getloadavg()[0]:.1f}"
    )
    print(f"# eps = {DEFAULT_EPS}; reference distance matrix in float32, 512 rows at a time")
    for n in args.sizes:
        lib = synthetic_library(n)
        n_slices = sum(v.shape[0] for v in lib.values())
        print(f"\n## {n} tracks, {n_slices} slices, dim 100")
        small = n <= 2000
        rep = args.repeats if small else args.repeats_large
        quad_rep = args.repeats if small else args.quadratic_repeats_large
        print(f"# runs: {quad_rep} per O(n^2) method, {rep} for IVF and incremental")
        t_bf, bf_times, ref = timed(
            lambda lib=lib: tfidf_pool_bruteforce(lib, dtype=np.float32), quad_rep
        )
        print(
            f"O(n^2) reference      : median {t_bf:8.2f} s  "
            f"(runs: {', '.join(f'{t:.2f}' for t in bf_times)})"
        )
        t_flat, flat_times, (vec_flat, pooler) = timed(
            lambda lib=lib: faiss_full(lib, "flat"), quad_rep
        )
        d, frac = max_rel_diff(vec_flat, ref)
        stats = [pooler.slice_stats(k) for k in list(lib)[:2000]]
        tf = np.concatenate([s["tf"] for s in stats])
        df = np.concatenate([s["df"] for s in stats])
        print(
            f"faiss flat (exact)    : median {t_flat:8.2f} s  speed-up x{t_bf / t_flat:6.1f}  "
            f"max rel diff {d:.1e}, {frac:.2%} of tracks within 1e-4",
            flush=True,
        )
        print(
            f"  (non-trivial: {np.mean(tf > 1):.1%} of slices TF > 1, {np.mean(df > 1):.1%} df > 1, "
            f"max df {df.max()}; match pairs (slice, other track) {pooler._xpairs.size})"
        )
        assert frac == 1.0, "faiss flat disagrees with the reference"
        t_ivf, _, (vec_ivf, p_ivf) = timed(lambda lib=lib: faiss_full(lib, "ivf"), rep)
        d, frac = max_rel_diff(vec_ivf, ref)
        print(
            f"faiss IVF (nlist {p_ivf._index.nlist}, nprobe {p_ivf._index.nprobe}): "
            f"median {t_ivf:6.2f} s  speed-up x{t_bf / t_ivf:6.1f}  "
            f"max rel diff {d:.1e}, {frac:.2%} of tracks within 1e-4"
        )

        # Incremental scan: one new track into the existing library (flat pooler built above).
        new = synthetic_library(1, seed=12345)[0]

        def add_one(pooler=pooler, new=new):
            pooler.add_tracks({"new": new})
            v = pooler.track_vectors()
            pooler.remove_tracks(["new"])
            return v

        t_inc, _, vec_inc = timed(add_one, rep)
        v = vec_inc["new"]
        line = (
            f"incremental +1 track  : median {t_inc:8.3f} s (search + all {n + 1} vectors) "
            f"vs full recompute {t_flat:.2f} s; |v_new| = {np.linalg.norm(v):.1f}, "
            f"finite {bool(np.isfinite(v).all())}"
        )
        if small:  # a second full O(n^2) build is too slow to repeat at 10k (tests cover 1k)
            full_lib = dict(lib)
            full_lib["new"] = new
            _, p_full = faiss_full(full_lib, "flat")
            d, _ = max_rel_diff(vec_inc, p_full.track_vectors())
            line += f", equals full recompute: max rel diff {d:.1e}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
