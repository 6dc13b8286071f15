"""Art benchmarks: GAN training speed, projection time, poster render time.

    python bench/art.py [--runs 3] [--sizes 10000,100000] [--skip-gan] [--skip-proj] [--device cpu]

(a) DCGAN training images/s at 64×64 with the defaults of ``segue art train`` (width 32,
    batch 64, conditional on 50 tags), on CPU with 1 thread and with all threads (or on
    ``--device cuda``): 2 warm-up steps, then the median over --runs runs of 5 steps each.
(b) openTSNE (500 iterations, perplexity 30, 1 job per core) and UMAP (15 neighbours) wall time
    on synthetic clustered 200-d vectors (the size of MusiCNN track vectors), one run per size
    (they are long); the projection cache is bypassed.
(c) poster render time: layout + draw + PNG save of a 20- and a 60-track poster (1240×1754),
    median of --runs runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402


def gan_speed(runs: int, threads: int, device: str) -> float:
    import torch

    from segue.art.gan import GanConfig, Trainer

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, 64, 64, 3), dtype=np.uint8)
    cond = rng.random((256, 50)).astype(np.float32)
    t = Trainer(GanConfig(cond_dim=50), images, cond, device=device)
    for _ in range(2):
        t.step()
    rates = []
    for _ in range(runs):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(5):
            t.step()  # .item() on the losses synchronises each step
        rates.append(5 * t.batch_size / (time.perf_counter() - start))
    return statistics.median(rates)


def clustered(n: int, dim: int = 200, k: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)).astype(np.float32) * 3
    return centres[rng.integers(0, k, n)] + rng.normal(size=(n, dim)).astype(np.float32)


def projection_time(method: str, n: int) -> float:
    from segue.art.layout import LayoutParams, _tsne, _umap

    x = clustered(n)
    params = LayoutParams(method=method, metric="euclidean")
    start = time.perf_counter()
    if method == "tsne":
        _tsne(x, params, n_jobs=os.cpu_count() or 1)
    else:
        _umap(x, params)
    return time.perf_counter() - start


def poster_time(runs: int, n: int) -> float:
    from segue.art.colours import dominant_colours
    from segue.art.poster import poster_layout, render_poster

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(n)]
    tracks = [{"artist": f"Artist {i}", "title": f"A song title number {i}", "duration": 200 + i} for i in range(n)]
    palettes = [dominant_colours(img) for img in images]
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            start = time.perf_counter()
            render_poster(poster_layout("Benchmark", tracks, palettes), images).save(Path(tmp) / "p.png")
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--methods", default="tsne,umap")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-gan", action="store_true")
    parser.add_argument("--skip-proj", action="store_true")
    parser.add_argument("--skip-poster", action="store_true")
    args = parser.parse_args()
    print("command: python bench/art.py " + " ".join(sys.argv[1:]), flush=True)
    print(f"cpu cores: {os.cpu_count()}", flush=True)
    if not args.skip_gan:
        if args.device == "cpu":
            for threads in sorted({1, os.cpu_count() or 1}):
                rate = gan_speed(args.runs, threads, "cpu")
                print(f"gan train 64x64 cpu threads={threads}: {rate:.1f} images/s", flush=True)
        else:
            import torch

            print(f"gan train 64x64 {args.device} ({torch.cuda.get_device_name()}): "
                  f"{gan_speed(args.runs, 1, args.device):.1f} images/s", flush=True)  # fmt: skip
    if not args.skip_poster:
        for n in (20, 60):
            print(f"poster render {n} tracks: {poster_time(args.runs, n) * 1000:.0f} ms", flush=True)
    if not args.skip_proj:
        for n in (int(s) for s in args.sizes.split(",")):
            for method in args.methods.split(","):
                print(f"{method} {n} points x 200-d: {projection_time(method, n):.1f} s", flush=True)


if __name__ == "__main__":
    main()
