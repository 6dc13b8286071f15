"""MusiCNN inference speed on CPU: patches/s for batch sizes 1, 16 and 64, per formulation.

    python bench/musicnn_speed.py [--runs 7] [--threads N] [--batches 1,16,64] [--random]

Formulations (all give the same outputs; the tests check the default one against the fixtures):

* ``reference``: conv -> ReLU -> BN -> max over mel, as the TF graph does it;
* ``fused``: the shipped forward: one conv with sign-flipped filters, max over mel, then ReLU and
  BN on the (B, C, T) result only;
* ``fused+channels_last``: the same with channels-last (NHWC) conv inputs;
* ``fused/chunkN``: the shipped forward, fed N patches at a time.

Prints the median wall-clock patches/s over ``--runs`` timed runs (after one warm-up run) and
the CPU seconds per patch, then the fastest configuration. ``--random`` skips the weights (speed
does not depend on their values). Wall-clock figures are only comparable on an idle machine:
the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

import segue.listen.models.musicnn as mnn  # noqa: E402

SHIPPED = mnn._conv_relu_bn_max_over_mel


def reference_block(x: torch.Tensor, conv: torch.nn.Conv2d, bn: torch.nn.Module) -> torch.Tensor:
    return bn(conv(x).relu()).amax(dim=-1)


def channels_last_block(
    x: torch.Tensor, conv: torch.nn.Conv2d, bn: torch.nn.Module
) -> torch.Tensor:
    return SHIPPED(x.contiguous(memory_format=torch.channels_last), conv, bn)


VARIANTS: dict[str, tuple[Callable, int]] = {  # name -> (front-end block, chunk size; 0 = whole)
    "reference": (reference_block, 0),
    "fused": (SHIPPED, 0),
    "fused+channels_last": (channels_last_block, 0),
    "fused/chunk4": (SHIPPED, 4),
    "fused/chunk8": (SHIPPED, 8),
}


def timed(model: mnn.MusiCNN, x: torch.Tensor, chunk: int, runs: int) -> tuple[float, float]:
    """(median patches/s wall clock, CPU seconds per patch) over ``runs`` runs."""

    def once() -> None:
        if chunk:
            for start in range(0, x.shape[0], chunk):
                model(x[start : start + chunk])
        else:
            model(x)

    walls, cpus = [], []
    with torch.inference_mode():
        once()
        for _ in range(runs):
            c0, w0 = time.process_time(), time.perf_counter()
            once()
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
    return x.shape[0] / statistics.median(walls), statistics.median(cpus) / x.shape[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    parser.add_argument("--batches", default="1,16,64")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--random", action="store_true", help="random weights, no download")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    batches = [int(b) for b in args.batches.split(",")]
    if args.random:
        model = mnn.MusiCNN("MSD_musicnn")
    else:
        model = mnn.load_musicnn("MSD_musicnn", device="cpu")
    print("command: python bench/musicnn_speed.py " + " ".join(sys.argv[1:]))
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start"
    )
    gen = torch.Generator().manual_seed(0)
    inputs = {b: torch.rand(b, mnn.N_FRAMES, mnn.N_MELS, generator=gen) * 4 for b in batches}
    results: dict[tuple[str, int], float] = {}
    print(f"{'variant':<22}" + "".join(f"{f'B={b}':>22}" for b in batches))
    for name in args.variants.split(","):
        block, chunk = VARIANTS[name]
        mnn._conv_relu_bn_max_over_mel = block
        cells = []
        try:
            for b in batches:
                rate, cpu = timed(model, inputs[b], chunk, args.runs)
                results[(name, b)] = rate
                cells.append(f"{rate:8.1f}/s {cpu * 1e3:6.1f} cpu-ms")
        finally:
            mnn._conv_relu_bn_max_over_mel = SHIPPED
        print(f"{name:<22}" + "".join(f"{c:>22}" for c in cells), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    for b in batches:
        best = max((v for v in results if v[1] == b), key=results.__getitem__)
        print(f"fastest at B={b}: {best[0]} ({results[best]:.1f} patches/s)")
    overall = max(results, key=results.__getitem__)
    print(f"fastest overall: {overall[0]} at B={overall[1]} ({results[overall]:.1f} patches/s)")


if __name__ == "__main__":
    main()
