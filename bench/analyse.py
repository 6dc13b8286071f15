"""Analysis speed on the dev corpus: decode-only against analysis, in one run.

    python bench/analyse.py [--runs 3] [--limit N] [--patch-stride S] [--precision P]

(a) decode-only: PyAV decode of every track to the pipeline's two rates (22.05 and 16 kHz);
(b) listening: the same decode plus what the listening issue builds: log-mel patches, both
    MusiCNN networks, pooling, storing the rows in a throwaway library, one track at a time as
    each scan worker does it (``ListeningHook(descriptors=False)``: ``prepare``, ``analyse``, then
    the rows written in a transaction of their own);
(b+) full analysis, what ``segue scan`` does by default: (b) plus the DSP descriptors and the
    classic feature sets;
(c) the descriptors and feature sets alone, on audio decoded beforehand.
Everything runs in this one process on one core (torch threads = 1), so "x real time per core"
is audio seconds per wall second; the ratios b/a and b+/a are the share of decode-only
throughput kept. The same ratios by the process's CPU time are printed too: on a shared host
they leave out time the core spent on other tenants, which moves the wall-clock ratios by
+-0.1 from run to run. Medians over --runs runs, each run timing (a), (c), (b) and (b+) in turn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# one core means one thread for numpy's BLAS too (as in scan workers); before numpy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from segue.audio.decode import read_audio  # noqa: E402
from segue.library.store import Store  # noqa: E402
from segue.listen.pipeline import ListeningHook  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


def analyse_files(files: list[Path], hook: ListeningHook, store: Store) -> tuple[float, dict[str, float]]:
    """Wall time of a scan worker's work on ``files``, one track at a time: decode, prepare
    (log-mel, descriptors), the networks and pooling (``analyse``), and writing the rows."""
    stage = {"decode": 0.0, "prepare": 0.0, "networks": 0.0, "store": 0.0}
    started = time.perf_counter()
    for f in files:
        t0 = time.perf_counter()
        info, audio = read_audio(f, decode_rates=hook.decode_rates)
        t1 = time.perf_counter()
        prepared = hook.prepare(audio)
        t2 = time.perf_counter()
        analysis = hook.analyse([prepared])[0]
        t3 = time.perf_counter()
        audio_hash = info.payload_hash or f.name
        with store.transaction():
            store.record_analysis(audio_hash, hook.model, hook.version, analysis.vectors)
            if analysis.descriptors is not None:
                store.put_descriptors(audio_hash, analysis.descriptors)
        stage["decode"] += t1 - t0
        stage["prepare"] += t2 - t1
        stage["networks"] += t3 - t2
        stage["store"] += time.perf_counter() - t3
    return time.perf_counter() - started, stage


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--patch-stride", type=int, default=None,
                        help="patch subsampling (default: the pipeline's PATCH_STRIDE)")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "int8"))
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"the dev corpus is absent ({CORPUS})")
    print("command: python bench/analyse.py " + " ".join(sys.argv[1:]))
    torch.set_num_threads(1)
    files = sorted((CORPUS / "audio").iterdir())
    if args.limit:
        files = files[: args.limit]
    listen = ListeningHook(device="cpu", descriptors=False, precision=args.precision)
    full = ListeningHook(device="cpu", descriptors=True, precision=args.precision)
    for hook in (listen, full):
        if args.patch_stride:
            hook.patch_stride = args.patch_stride
    listen.load_models()
    full._models = listen._models
    torch.set_num_threads(1)
    msd = listen._models[0]
    print(f"patch stride: {listen.patch_stride}, precision: {msd.precision}")
    rates = listen.decode_rates

    from segue.listen.descriptors import analyse

    _, warm = read_audio(files[0], decode_rates=rates)
    analyse(warm[22050], 22050)  # librosa's numba compilation is not analysis time

    times: dict[str, list[float]] = {"a": [], "b": [], "b+": [], "c": []}
    cpu: dict[str, list[float]] = {"a": [], "b": [], "b+": []}
    stages: dict[str, dict[str, float]] = {}
    audio_seconds = 0.0
    # the hooks store what they analyse, as in a scan: into a throwaway library
    with tempfile.TemporaryDirectory(prefix="segue-bench-") as tmp, Store(Path(tmp) / "a.db") as store:
        for _run in range(args.runs):
            started, cpu0 = time.perf_counter(), time.process_time()
            audio_seconds = 0.0
            for f in files:
                info, _ = read_audio(f, decode_rates=rates)
                audio_seconds += info.duration
            times["a"].append(time.perf_counter() - started)
            cpu["a"].append(time.process_time() - cpu0)

            desc = 0.0
            for f in files:
                _, audio = read_audio(f, decode_rates=rates)
                t0 = time.perf_counter()
                analyse(audio[22050], 22050)
                desc += time.perf_counter() - t0
            times["c"].append(desc)

            for key, hook in (("b", listen), ("b+", full)):
                cpu0 = time.process_time()
                elapsed, stages[key] = analyse_files(files, hook, store)
                times[key].append(elapsed)
                cpu[key].append(time.process_time() - cpu0)

    n = len(files)
    med = {k: statistics.median(v) for k, v in times.items()}
    a = med["a"]
    print(f"tracks: {n} ({audio_seconds / 60:.1f} min of audio), runs: {args.runs} (medians), 1 core")
    print(f"(a)  decode-only:    {n / a:6.2f} tracks/s  {audio_seconds / a:7.1f} x real time")
    for key, label in (("b", "listening:     "), ("b+", "full analysis:")):
        b = med[key]
        print(f"({key}) {label} {n / b:6.2f} tracks/s  {audio_seconds / b:7.1f} x real time"
              f"   {key}/a = {a / b:.3f}   (runs: {', '.join(f'{a_ / b_:.3f}' for a_, b_ in zip(times['a'], times[key], strict=True))})")  # fmt: skip
    # CPU seconds are what this process itself used: on a shared host they leave out the time
    # the core was taken by others, which swings the wall-clock ratios run to run
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    print("by CPU time (this process's CPU seconds, medians): a " + f"{cpu_med['a']:.1f} s, " + ", ".join(
        f"{key} {cpu_med[key]:.1f} s ({key}/a = {cpu_med['a'] / cpu_med[key]:.3f}; runs: "
        + ", ".join(f"{a_ / b_:.3f}" for a_, b_ in zip(cpu["a"], cpu[key], strict=True)) + ")"
        for key in ("b", "b+")))  # fmt: skip
    c = med["c"]
    print(f"(c)  descriptors + feature sets alone: {audio_seconds / c:7.1f} x real time, "
          f"{c / a:.2f} x the decode time")
    for key in ("b", "b+"):
        total = sum(stages[key].values())
        print(f"last ({key}) run by stage: " + ", ".join(
            f"{k} {v:.1f} s ({v / total:.0%})" for k, v in stages[key].items()))  # fmt: skip


if __name__ == "__main__":
    main()
