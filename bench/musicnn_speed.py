"""MusiCNN inference speed on CPU: patches/s for batch sizes 1, 16 and 64, per formulation.

    python bench/musicnn_speed.py [--runs 7] [--threads N] [--batches 1,16,64] [--random]

Formulations (all give the same outputs; the tests check the default one against the fixtures):

* ``reference``: conv -> ReLU -> BN -> max over mel, as the TF graph does it, whole batch;
* ``fused/whole``: one conv with sign-flipped filters, max over mel, then ReLU and BN on the
  (B, C, T) result only, whole batch at once;
* ``fused/sliced``: the shipped forward: as above, but on CPU each front-end conv runs on slices
  of the batch whose output map fits in ``_CPU_BLOCK_BYTES`` (1-2 patches);
* ``fused/sliced+channels_last``: the same with channels-last (NHWC) conv inputs;
* ``fused/whole/chunk4``: fused/whole fed 4 patches at a time from outside.
* ``int8``: the shipped int8 front end (``precision="int8"``: oneDNN int8 convolutions, one
  patch per call for the timbral branches and four for the temporal ones, channels-last max
  pooling over mel); not the same outputs (close: see the tests and BENCHMARKS.md);
* ``int8/amax``: the same with ``amax`` over the mel axis instead of the pooling;
* ``int8/temporal-step1``: the same with one patch per call for the temporal branches too.
* ``int8/fp32-out``: the same with the convolutions writing float32 maps where the shipped
  path writes bfloat16 (on AVX-512 CPUs; elsewhere both write float32).

Prints the median wall-clock patches/s over ``--runs`` timed runs (after one warm-up run) and
the CPU seconds per patch, then the fastest configuration. ``--random`` skips the weights (speed
does not depend on their values). Wall-clock figures are only comparable on an idle machine:
the load average is printed alongside. CPU ms per patch with ``--threads 1`` is the figure that
survives a busy machine; with 2 threads on 2 shared cores, OpenMP workers spin while the other
core is taken and both rates and CPU times swing by 5x or more between runs.
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


def amax_over_mel(y: torch.Tensor) -> torch.Tensor:
    return y.amax(dim=-1)


SHIPPED_POOL = mnn._max_over_mel_channels_last
SHIPPED_OUT = mnn.int8_output_dtype()
# name -> (max-over-mel function, temporal step, dtype of the convolutions' output maps)
INT8_VARIANTS: dict[str, tuple[Callable, int, torch.dtype]] = {
    "int8": (SHIPPED_POOL, 4, SHIPPED_OUT),
    "int8/amax": (amax_over_mel, 4, SHIPPED_OUT),
    "int8/temporal-step1": (SHIPPED_POOL, 1, SHIPPED_OUT),
    "int8/temporal-step2": (SHIPPED_POOL, 2, SHIPPED_OUT),
    "int8/fp32-out": (SHIPPED_POOL, 4, torch.float32),
}
HUGE = 1 << 62
# name -> (front-end block, external chunk size (0 = whole batch), CPU block bytes)
VARIANTS: dict[str, tuple[Callable, int, int]] = {
    "reference": (reference_block, 0, HUGE),
    "fused/whole": (SHIPPED, 0, HUGE),
    "fused/sliced": (SHIPPED, 0, mnn._CPU_BLOCK_BYTES),
    "fused/sliced+channels_last": (channels_last_block, 0, mnn._CPU_BLOCK_BYTES),
    "fused/whole/chunk4": (SHIPPED, 4, HUGE),
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
    parser.add_argument("--variants", default=",".join([*VARIANTS, *INT8_VARIANTS]))
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
    cpu_cost: dict[tuple[str, int], float] = {}
    print(f"{'variant':<28}" + "".join(f"{f'B={b}':>22}" for b in batches))
    for name in args.variants.split(","):
        cells = []
        if name in INT8_VARIANTS:
            if not mnn.int8_available():
                print(f"{name:<28} (no oneDNN int8 here)")
                continue
            pool, step, out = INT8_VARIANTS[name]
            mnn._max_over_mel_channels_last = pool
            model.set_precision("int8")
            assert model._int8 is not None
            for branch in model._int8[1]:
                branch.step = step
            for branch in model._int8[0] + model._int8[1]:
                branch.out_dtype = out
            block, chunk, block_bytes = SHIPPED, 0, mnn._CPU_BLOCK_BYTES
        else:
            model.set_precision("fp32")
            block, chunk, block_bytes = VARIANTS[name]
        mnn._conv_relu_bn_max_over_mel = block
        mnn._CPU_BLOCK_BYTES = block_bytes
        try:
            for b in batches:
                rate, cpu = timed(model, inputs[b], chunk, args.runs)
                results[(name, b)] = rate
                cpu_cost[(name, b)] = cpu
                cells.append(f"{rate:8.1f}/s {cpu * 1e3:6.1f} cpu-ms")
        finally:
            mnn._max_over_mel_channels_last = SHIPPED_POOL
            mnn._conv_relu_bn_max_over_mel = SHIPPED
            mnn._CPU_BLOCK_BYTES = VARIANTS["fused/sliced"][2]
        print(f"{name:<28}" + "".join(f"{c:>22}" for c in cells), flush=True)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    for b in batches:
        best = max((v for v in results if v[1] == b), key=results.__getitem__)
        frugal = min((v for v in cpu_cost if v[1] == b), key=cpu_cost.__getitem__)
        print(
            f"B={b}: fastest wall clock {best[0]} ({results[best]:.1f} patches/s); "
            f"least CPU {frugal[0]} ({cpu_cost[frugal] * 1e3:.1f} ms/patch)"
        )
    overall = max(results, key=results.__getitem__)
    print(f"fastest overall: {overall[0]} at B={overall[1]} ({results[overall]:.1f} patches/s)")


if __name__ == "__main__":
    main()
