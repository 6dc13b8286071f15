"""Analysis speed on the dev corpus: decode-only against full analysis, in one run.

    python bench/analyse.py [--runs 3] [--limit N] [--no-descriptors] [--patch-stride S]

(a) decode-only: PyAV decode of every track to the pipeline's two rates (22.05 and 16 kHz);
(b) full analysis: the same decode plus everything the pipeline does (log-mel patches, DSP
    descriptors and feature sets, both MusiCNN networks batched across tracks).
Both run in this one process on one core (torch threads = 1), so "x real time per core" is
audio seconds per wall second. The ratio b/a is the share of decode-only throughput kept.
Medians over --runs runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from segue.audio.decode import read_audio  # noqa: E402
from segue.listen.pipeline import ListeningHook  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--no-descriptors", action="store_true")
    parser.add_argument("--patch-stride", type=int, default=None,
                        help="patch subsampling (default: the pipeline's PATCH_STRIDE)")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"the dev corpus is absent ({CORPUS})")
    print("command: python bench/analyse.py " + " ".join(sys.argv[1:]))
    torch.set_num_threads(1)
    files = sorted((CORPUS / "audio").iterdir())
    if args.limit:
        files = files[: args.limit]
    hook = ListeningHook(device="cpu", descriptors=not args.no_descriptors)
    if args.patch_stride:
        hook.patch_stride = args.patch_stride
    print(f"patch stride: {hook.patch_stride}")
    hook.load_models()
    torch.set_num_threads(1)
    rates = hook.decode_rates

    from segue.listen.descriptors import analyse

    decode_times, full_times, desc_times = [], [], []
    audio_seconds = 0.0
    stage = {"decode": 0.0, "prepare": 0.0, "embed": 0.0}
    for _run in range(args.runs):
        started = time.perf_counter()
        audio_seconds = 0.0
        for f in files:
            info, _ = read_audio(f, decode_rates=rates)
            audio_seconds += info.duration
        decode_times.append(time.perf_counter() - started)

        if not args.no_descriptors:
            desc = 0.0
            for f in files:
                _, audio = read_audio(f, decode_rates=rates)
                t0 = time.perf_counter()
                analyse(audio[22050], 22050)
                desc += time.perf_counter() - t0
            desc_times.append(desc)

        started = time.perf_counter()
        stage = dict.fromkeys(stage, 0.0)
        batch = []
        for f in files:
            t0 = time.perf_counter()
            _, audio = read_audio(f, decode_rates=rates)
            t1 = time.perf_counter()
            batch.append(hook.prepare(audio))
            t2 = time.perf_counter()
            stage["decode"] += t1 - t0
            stage["prepare"] += t2 - t1
            if sum(len(p.patches) for p in batch) >= hook.batch_size or f == files[-1]:
                t3 = time.perf_counter()
                per = hook.embed(np.concatenate([p.patches for p in batch]))
                offset = 0
                for p in batch:
                    n = len(p.patches)
                    hook.track_vectors(p, {k: v[offset : offset + n] for k, v in per.items()})
                    offset += n
                stage["embed"] += time.perf_counter() - t3
                batch = []
        full_times.append(time.perf_counter() - started)

    n = len(files)
    a, b = statistics.median(decode_times), statistics.median(full_times)
    print(f"tracks: {n} ({audio_seconds / 60:.1f} min of audio), runs: {args.runs} (medians), 1 core")
    print(f"(a) decode-only:  {n / a:6.2f} tracks/s  {audio_seconds / a:7.1f} x real time")
    print(f"(b) full analysis: {n / b:6.2f} tracks/s  {audio_seconds / b:7.1f} x real time")
    print(f"b/a throughput: {a / b:.3f}")
    if desc_times:
        c = statistics.median(desc_times)
        print(f"(c) descriptors + feature sets alone: {audio_seconds / c:7.1f} x real time, "
              f"{c / a:.2f} x the decode time")
    total = sum(stage.values())
    print("last full run by stage: " + ", ".join(
        f"{k} {v:.1f} s ({v / total:.0%})" for k, v in stage.items()))  # fmt: skip


if __name__ == "__main__":
    main()
