"""Descriptor accuracy on synthetic ground truth, and descriptor cost relative to decoding.

    python bench/descriptors.py [--quick] [--no-corpus] [--corpus-limit N]

Suites (larger than the tests, other seeds):
  tempo     drum loops and click tracks, 60..180 BPM, styles four/rock/halftime/break/click/swing:
            MIREX acc1 (within 4 %) and acc2 (x2, x1/2, x3, x1/3 allowed); beat F-measure-like
            hit rate within 50 ms; downbeat hit rate within 70 ms (on loops with acc1)
  key       24 keys x chords/melody, with random detuning: share correct, share within a fifth
            or relative key (Camelot distance <= 1), MIREX weighted score
  loudness  pink noise at calibrated levels vs pyloudnorm (and FFmpeg's ebur128 through PyAV's
            libavfilter when available), EBU Tech 3342 LRA cases, intersample true peak
  trim      known leading/trailing silence over a noise floor
  corpus    all tracks of shared/corpus/dev: decode time (PyAV -> stereo float32 22050 Hz) vs
            analyse() time (descriptors + feature vectors, one STFT); medians and ratio
"""

from __future__ import annotations

import argparse
import csv
import math
import shlex
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import descriptor_signals as S  # noqa: E402
from segue.listen import key as K  # noqa: E402
from segue.listen import loudness as L  # noqa: E402
from segue.listen.descriptors import ANALYSIS_SR, analyse, compute_descriptors  # noqa: E402
from test_descriptors_accuracy import beat_hits, decode, tempo_scores  # noqa: E402

MANIFEST = ROOT.parent / "shared" / "corpus" / "dev" / "manifest.csv"


def tempo_bench(n_per_style: int, seconds: float) -> None:
    loops = S.tempo_suite(n_per_style, seconds=seconds, seed=101)
    by_style: dict[str, list] = {}
    for loop in loops:
        d = compute_descriptors(loop.audio, S.SR)
        a1, a2 = tempo_scores(d.bpm, loop.bpm)
        bh = beat_hits(np.array(d.beats), loop.beats) if a1 else float("nan")
        dh = (beat_hits(np.array(d.downbeats), loop.downbeats, 0.07) if d.downbeats else 0.0) \
            if a1 else float("nan")
        err = (np.median([np.min(np.abs(np.array(d.beats) - t)) for t in loop.beats
                          if d.beats and min(d.beats) - 0.1 < t < max(d.beats) + 0.1]) * 1000
               if a1 and d.beats else float("nan"))
        by_style.setdefault(loop.style, []).append((a1, a2, bh, dh, err))
    print(f"\n## Tempo ({len(loops)} loops of {seconds:.0f} s, 60..180 BPM)\n")
    print("| style | n | acc1 | acc2 | beats within 50 ms | median beat error ms | downbeats |")
    print("|---|---|---|---|---|---|---|")
    rows = []
    for style, r in [*by_style.items(), ("all", [x for v in by_style.values() for x in v])]:
        a = np.array(r, float)
        rows.append(a)
        print(f"| {style} | {len(a)} | {a[:, 0].mean():.3f} | {a[:, 1].mean():.3f} | "
              f"{np.nanmean(a[:, 2]):.3f} | {np.nanmedian(a[:, 4]):.1f} | {np.nanmean(a[:, 3]):.3f} |")


def key_bench(seconds: float, seeds: list[int]) -> None:
    items = []
    for seed in seeds:
        items += S.key_suite(seconds=seconds, seed=seed, cents_sd=15.0)
    res: dict[str, list] = {}
    for audio, pc, mode, kind in items:
        name, _ = K.estimate_key(audio.mean(axis=0), S.SR)
        truth = K.camelot_of(pc, mode)
        est = K.parse_camelot_or_key(name) if name else None
        correct = est == truth
        near = est is not None and K.camelot_distance(truth, est) <= 1
        # MIREX: 1 correct, 0.5 fifth, 0.3 relative, 0.2 parallel
        score = 1.0 if correct else 0.0
        if est and not correct:
            tp, tm = K.key_of_camelot(truth)
            ep, em = K.key_of_camelot(est)
            if tm == em and (ep - tp) % 12 in (5, 7):
                score = 0.5
            elif tm != em and truth[:-1] == est[:-1]:
                score = 0.3
            elif tm != em and tp == ep:
                score = 0.2
        res.setdefault(f"{kind} {mode}", []).append((correct, near, score))
    print(f"\n## Key ({len(items)} pieces of {seconds:.0f} s, detuned N(0, 15 cents), "
          f"profile {K.PROFILE})\n")
    print("| set | n | correct | within fifth/relative | MIREX score |")
    print("|---|---|---|---|---|")
    for name, r in [*sorted(res.items()), ("all", [x for v in res.values() for x in v])]:
        a = np.array(r, float)
        print(f"| {name} | {len(a)} | {a[:, 0].mean():.3f} | {a[:, 1].mean():.3f} | "
              f"{a[:, 2].mean():.3f} |")


def ffmpeg_ebur128(audio: np.ndarray, sr: int) -> float | None:
    """Integrated loudness from libavfilter's ebur128 (PyAV), or None if unavailable."""
    try:
        import av
        import av.filter
    except ImportError:
        return None
    try:
        g = av.filter.Graph()
        src = g.add_abuffer(format="fltp", sample_rate=sr, layout="stereo", channels=2)
        eb = g.add("ebur128", "metadata=1")
        sink = g.add("abuffersink")
        src.link_to(eb)
        eb.link_to(sink)
        g.configure()
        last = None
        step = 4096
        for i in range(0, audio.shape[1], step):
            fr = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[:, i:i + step]),
                                            format="fltp", layout="stereo")
            fr.sample_rate = sr
            fr.pts = i
            g.push(fr)
            while True:
                try:
                    out = g.pull()
                except (av.error.BlockingIOError, av.error.EOFError):
                    break
                v = out.metadata.get("lavfi.r128.I")
                if v is not None:
                    last = float(v)
        return last
    except Exception as e:  # the filter API differs between PyAV versions
        print(f"  (ffmpeg ebur128 unavailable: {type(e).__name__}: {e})")
        return None


def loudness_bench() -> None:
    import pyloudnorm

    print("\n## Loudness\n")
    print("| signal | sr | target | segue LUFS | pyloudnorm | ffmpeg ebur128 (running I) |")
    print("|---|---|---|---|---|---|")
    worst = 0.0
    for sr in (22050, 44100, 48000):
        for target in (-8.0, -14.0, -23.0, -31.0, -40.0):
            x = S.pink_noise(20.0, sr, seed=int(-target))
            meter = pyloudnorm.Meter(sr)
            x = (x * 10 ** ((target - meter.integrated_loudness(x.T.astype(np.float64))) / 20)
                 ).astype(np.float32)
            ref = meter.integrated_loudness(x.T.astype(np.float64))
            ours = L.integrated_loudness(L.k_weighted(x, sr), sr)
            ff = ffmpeg_ebur128(x, sr) if sr == 48000 else None
            worst = max(worst, abs(ours - ref))
            ffs = f"{ff:.2f}" if ff is not None else "-"
            print(f"| pink noise | {sr} | {target:.0f} | {ours:.2f} | {ref:.2f} | {ffs} |")
    print(f"\nmax |segue - pyloudnorm| = {worst:.3f} LU")
    x = S.sine(1000.0, 10.0, 0.1)
    print(f"1 kHz sine, -20 dBFS both channels: {L.integrated_loudness(L.k_weighted(x, 22050), 22050):.3f}"
          " LUFS (reference -20.0)")
    print("\n| EBU Tech 3342 case | expected LRA | segue LRA |\n|---|---|---|")
    for i, (levels, lra) in enumerate([([-20, -30], 10), ([-20, -15], 5), ([-40, -20], 20),
                                       ([-50, -35, -20, -35, -50], 15)], 1):
        x = S.tech3342_case(levels)
        print(f"| {i}: {levels} | {lra} +-1 | {L.loudness_range(L.k_weighted(x, 22050), 22050):.2f} |")
    x = S.sine(22050 / 4, 2.0, 1.0, phase=math.pi / 4)
    print(f"\nIntersample peak (fs/4 sine at 45 deg, samples at -3.01 dBFS, true 0.00 dBTP): "
          f"{L.true_peak_dbtp(x):+.3f} dBTP")


def trim_bench(n: int) -> None:
    rng = np.random.default_rng(7)
    errs = []
    for i in range(n):
        loop = S.drum_loop(float(rng.uniform(70, 170)), ["four", "rock", "break"][i % 3], 10.0,
                           seed=500 + i)
        lead, tail = float(rng.uniform(0.2, 6)), float(rng.uniform(0.2, 6))
        nz = np.flatnonzero(np.abs(loop.audio[0]) > 1e-4)
        floor = [None, -90.0, -75.0][i % 3]
        x = S.with_silence(loop.audio, lead, tail, floor_db=floor, seed=i)
        d = compute_descriptors(x, S.SR)
        errs.append((abs(d.music_start - (lead + nz[0] / S.SR)),
                     abs(d.music_end - (lead + (nz[-1] + 1) / S.SR))))
    e = np.array(errs) * 1000
    print(f"\n## Silence trim ({n} loops, floors: digital zero / -90 / -75 dBFS)\n")
    print(f"start error ms: median {np.median(e[:, 0]):.1f}, max {e[:, 0].max():.1f}; "
          f"end error ms: median {np.median(e[:, 1]):.1f}, max {e[:, 1].max():.1f}; "
          f"within 50 ms: {np.mean(e < 50):.3f}")


def corpus_bench(limit: int | None) -> None:
    if not MANIFEST.exists():
        print(f"\n## Corpus: skipped, no manifest at {MANIFEST}")
        return
    with MANIFEST.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if limit:
        rows = rows[:limit]
    dec, ana, ratio, bpms, fails = [], [], [], [], []
    analyse(np.zeros((2, 10 * ANALYSIS_SR), np.float32) + 1e-3 *  # warm-up (numba JIT)
            np.random.default_rng(0).standard_normal((2, 10 * ANALYSIS_SR)).astype(np.float32),
            ANALYSIS_SR)
    for row in rows:
        path = MANIFEST.parent / row["path"]
        try:
            t0 = time.perf_counter()
            audio = decode(path)
            t1 = time.perf_counter()
            d, feats = analyse(audio, ANALYSIS_SR)
            t2 = time.perf_counter()
        except Exception as e:  # report, keep going
            fails.append(f"{row['id']}: {type(e).__name__}: {e}")
            continue
        dec.append(t1 - t0)
        ana.append(t2 - t1)
        ratio.append((t2 - t1) / (t1 - t0))
        bpms.append((row["id"], row.get("genre", ""), d.bpm, d.bpm_confidence, d.camelot,
                     d.loudness_lufs, d.loudness_range_lu, d.true_peak_dbtp,
                     d.music_start, d.music_end, audio.shape[1] / ANALYSIS_SR))
    print(f"\n## Corpus ({len(dec)} tracks decoded and analysed, {len(fails)} failures)\n")
    if dec:
        print(f"median decode {statistics.median(dec) * 1000:.0f} ms, median analyse "
              f"(descriptors + feature vectors) {statistics.median(ana) * 1000:.0f} ms, "
              f"median ratio analyse/decode {statistics.median(ratio):.2f} "
              f"(total {sum(ana):.1f} s vs {sum(dec):.1f} s decode)")
        print(f"median track duration {statistics.median([b[-1] for b in bpms]):.1f} s")
        lufs = [b[5] for b in bpms if math.isfinite(b[5])]
        conf = [b[3] for b in bpms]
        print(f"LUFS range {min(lufs):.1f}..{max(lufs):.1f}; tracks with a key: "
              f"{sum(b[4] is not None for b in bpms)}; median bpm confidence "
              f"{statistics.median(conf):.2f}; bpm range "
              f"{min(b[2] for b in bpms):.1f}..{max(b[2] for b in bpms):.1f}")
    for f in fails:
        print("FAIL", f)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller synthetic suites")
    ap.add_argument("--no-corpus", action="store_true")
    ap.add_argument("--corpus-limit", type=int, default=None)
    args = ap.parse_args()
    print("command: " + " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]))
    t = time.perf_counter()
    q = args.quick
    tempo_bench(3 if q else 10, 20.0 if q else 30.0)
    key_bench(12.0 if q else 20.0, [201] if q else [201, 202, 203])
    loudness_bench()
    trim_bench(6 if q else 30)
    if not args.no_corpus:
        corpus_bench(args.corpus_limit)
    print(f"\n(bench wall time {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
