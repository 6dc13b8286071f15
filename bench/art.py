"""Art benchmarks: GAN training speed, projection time, poster render time.

    python bench/art.py [--runs 3] [--sizes 10000,100000] [--skip-gan] [--skip-proj] [--device cpu]

(a) GAN training images/s at 128×128 with the defaults of ``segue art train`` (width 32,
    batch 32, conditional on 50 tags), on CPU with 1 thread and with all threads (or on
    ``--device cuda``): 2 warm-up steps, then the median over --runs runs of 5 steps each.
(b) openTSNE (500 iterations, perplexity 30, 1 job per core) and UMAP (15 neighbours) wall time
    on synthetic clustered 200-d vectors (the size of MusiCNN track vectors), one run per size
    (they are long); the projection cache is bypassed.
(c) poster render time: layout + draw + PNG save of a 20- and a 60-track poster (1240×1754),
    median of --runs runs.
(d) ``--quality SECONDS``: GAN diversity and fidelity after SECONDS of training each, on a
    synthetic cover set (320 covers in 8 styles, each with its own tag vector, at
    ``--quality-size`` px): the GAN of ``--baseline-rev`` (default ``main``, read with
    ``git show``), today's GAN, and today's GAN with the small-data techniques off, all at the
    same size, width (``--quality-width``) and batch (32). Features: a fixed,
    hand-made image descriptor (OKLab 4×4 block means and spreads, gradient histograms at two
    scales; no pretrained network is available offline). Fidelity: the Fréchet distance
    between Gaussians fitted to the features of 320 samples (real conditions) and of the real
    covers ("FD", a small FID; lower is better; two halves of the real set give the floor).
    Diversity: the mean pairwise feature distance of 8 samples of one condition, averaged over
    8 conditions, relative to the real covers' mean pairwise distance (1 = as varied as them).
    Sample grids go to test-output/art/bench-gan-*.png.
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


def gan_speed(runs: int, threads: int, device: str, size: int = 128) -> float:
    import torch

    from segue.art.gan import GanConfig, Trainer

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, size, size, 3), dtype=np.uint8)
    cond = rng.random((256, 50)).astype(np.float32)
    t = Trainer(GanConfig(size=size, cond_dim=50), images, cond, device=device)
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


# -- (d) quality ------------------------------------------------------------------------------------
def synthetic_covers(n: int = 320, size: int = 128, styles: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cover-like images in ``styles`` styles (a palette family, a kind of shape) and a 50-d tag
    vector per image (its style's tag profile plus noise): data a conditional GAN can learn."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    profiles = rng.dirichlet(np.full(50, 0.3), styles).astype(np.float32)
    hues = rng.uniform(0, 2 * np.pi, styles)
    from segue.art.colours import oklab_to_rgb

    images = np.empty((n, size, size, 3), np.uint8)
    tags = np.empty((n, 50), np.float32)
    for i in range(n):
        k = i % styles
        h = hues[k] + rng.normal(0, 0.3)
        bg = np.array([rng.uniform(0.3, 0.85), 0.1 * np.cos(h), 0.1 * np.sin(h)])
        fg = np.array([1.1 - bg[0], 0.13 * np.cos(h + 2.5), 0.13 * np.sin(h + 2.5)])
        lab = np.broadcast_to(bg, (size, size, 3)).copy()
        kind = k % 4
        cx, cy = rng.uniform(0.25, 0.75, 2)
        if kind == 0:  # a disc
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < rng.uniform(0.02, 0.08)
        elif kind == 1:  # stripes
            mask = np.sin((xx * np.cos(cx * 3) + yy * np.sin(cx * 3)) * rng.uniform(15, 40)) > 0.3
        elif kind == 2:  # a triangle
            mask = (yy > cy - 0.3) & (np.abs(xx - cx) < (yy - cy + 0.3) * 0.6) & (yy < cy + 0.3)
        else:  # blocks
            mask = ((np.floor(xx * 4) + np.floor(yy * 4)) % 2 == 0) & (xx > cx - 0.3)
        lab[mask] = fg
        lab[yy > 0.86] = np.array([0.95 - 0.8 * (bg[0] > 0.6), 0, 0]) if rng.random() < 0.5 else lab[yy > 0.86]
        images[i] = oklab_to_rgb(lab)
        tags[i] = np.clip(profiles[k] + rng.normal(0, 0.01, 50), 0, 1)
    return images, tags


def image_features(images: np.ndarray) -> np.ndarray:
    """A fixed descriptor per image (n, 80): OKLab 4×4 block means (48) and lightness spreads
    (16), gradient-magnitude histograms at 64 and 32 px (16)."""
    from PIL import Image

    from segue.art.colours import rgb_to_oklab

    out = []
    for img in images:
        small = np.asarray(Image.fromarray(img).resize((64, 64), Image.Resampling.BILINEAR))
        lab = rgb_to_oklab(small)
        blocks = lab.reshape(4, 16, 4, 16, 3)
        means = blocks.mean(axis=(1, 3)).ravel()
        spreads = blocks[..., 0].std(axis=(1, 3)).ravel()
        hists = []
        for step in (1, 2):
            light = lab[::step, ::step, 0]
            g = np.hypot(np.diff(light, axis=0)[:, :-1], np.diff(light, axis=1)[:-1, :])
            hists.append(np.histogram(g, bins=8, range=(0, 0.4))[0] / g.size)
        out.append(np.concatenate([means, spreads, *hists]))
    return np.asarray(out, np.float64)


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.linalg import sqrtm

    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def _load_gan_module(rev: str):
    import importlib.util
    import subprocess

    src = subprocess.run(["git", "show", f"{rev}:src/segue/art/gan.py"], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).resolve().parents[1]).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / f"gan_{rev.replace('/', '_')}.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def gan_quality(seconds: float, rev: str, threads: int, size: int = 128, width: int = 32, device: str = "cpu") -> None:
    import torch
    from PIL import Image

    from segue.art.gan import image_grid

    torch.set_num_threads(threads)
    real, tags = synthetic_covers(size=size)
    feats = image_features(real)
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    norm = (feats - mu) / sd
    rng = np.random.default_rng(1)
    half = rng.permutation(len(real))
    floor = frechet(norm[half[: len(half) // 2]], norm[half[len(half) // 2 :]])
    real_spread = float(np.mean([np.linalg.norm(norm[i] - norm[j]) for i in range(0, 320, 7) for j in range(3, 320, 11) if i != j]))
    print(f"quality: 320 synthetic covers, 8 styles; FD floor (two halves of the real set) {floor:.1f}; "
          f"{seconds:.0f} s of training each at {size} px, width {width}, batch 32, {threads} threads",
          flush=True)  # fmt: skip
    from segue.art import gan as new

    old = _load_gan_module(rev)
    common = {"size": size, "ngf": width, "ndf": width, "batch_size": 32, "cond_dim": 50}
    variants = [
        (f"{rev} DCGAN", lambda: old.Trainer(old.GanConfig(**common), real, tags, device)),
        ("now", lambda: new.Trainer(new.GanConfig(**common), real, tags, device)),
        ("now, techniques off", lambda: new.Trainer(
            new.GanConfig(**common, augment="", spectral=False, mode_seeking=0.0), real, tags, device)),
    ]  # fmt: skip
    conds = tags[rng.choice(len(tags), 320)]
    probe = tags[np.arange(8) * 37 % 320]
    for name, make in variants:
        t = make()
        start = time.perf_counter()
        steps = 0
        while time.perf_counter() - start < seconds:
            t.step()
            steps += 1
        samples = t.sample(320, conds, seed=5)
        fd = frechet(norm, (image_features(samples) - mu) / sd)
        div = []
        grids = []
        for c in probe:
            s = t.sample(8, np.repeat(c[None], 8, 0), seed=9)
            f = (image_features(s) - mu) / sd
            div.append(np.mean([np.linalg.norm(f[i] - f[j]) for i in range(8) for j in range(i + 1, 8)]))
            grids.append(s)
        rel = float(np.mean(div)) / real_spread
        print(f"{name}: {steps} steps ({steps * t.batch_size / seconds:.1f} images/s); FD {fd:.1f}; "
              f"diversity within one condition {rel:.2f}", flush=True)  # fmt: skip
        out = Path(__file__).resolve().parents[1] / "test-output" / "art"
        out.mkdir(parents=True, exist_ok=True)
        tag = name.split(",")[0].split()[0] + ("-off" if "off" in name else "")
        Image.fromarray(image_grid(np.concatenate(grids), cols=8)).save(out / f"bench-gan-{size}-{tag}.png")
    Image.fromarray(image_grid(real[:64], cols=8)).save(out / f"bench-gan-{size}-real.png")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--methods", default="tsne,umap")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-gan", action="store_true")
    parser.add_argument("--skip-proj", action="store_true")
    parser.add_argument("--skip-poster", action="store_true")
    parser.add_argument("--quality", type=float, default=0, metavar="SECONDS",
                        help="GAN diversity and fidelity after SECONDS of training each (0: skip)")  # fmt: skip
    parser.add_argument("--baseline-rev", default="main", help="the git revision whose GAN is the baseline")
    parser.add_argument("--quality-size", type=int, default=128, help="image size of the quality runs")
    parser.add_argument("--quality-width", type=int, default=32, help="both nets' base width in the quality runs")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print("command: python bench/art.py " + " ".join(sys.argv[1:]), flush=True)
    print(f"cpu cores: {os.cpu_count()}", flush=True)
    if args.quality:
        gan_quality(args.quality, args.baseline_rev, args.threads, args.quality_size, args.quality_width,
                    args.device)  # fmt: skip
    if not args.skip_gan:
        if args.device == "cpu":
            for threads in sorted({1, os.cpu_count() or 1}):
                rate = gan_speed(args.runs, threads, "cpu")
                print(f"gan train 128x128 cpu threads={threads}: {rate:.1f} images/s", flush=True)
        else:
            import torch

            print(f"gan train 128x128 {args.device} ({torch.cuda.get_device_name()}): "
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
