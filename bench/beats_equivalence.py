"""segue's numpy beat tracker against librosa's (``beat.beat_track``, numba), same input.

    python bench/beats_equivalence.py [--n 124] [--repeats 5] [--cache /tmp/beats-cache]

For every track of shared/corpus/dev (decoded once at 22.05 kHz, cached as .npy under
``--cache``) and for synthetic drum loops (tests/descriptor_signals.py: 6 styles x 8 tempos,
60-180 BPM, 30 s) it builds the beat tracker's input exactly as ``descriptors.analyse`` does
(the onset envelope zeroed outside the music, the tempo after ``metrical_level``) and runs both
trackers. Synthetic loops are also tracked at tempos the pipeline would not pick (x0.97, x1.5,
60 and 200 BPM; the corpus at x0.97 and x1.5), which stresses the dynamic programme's off-tempo
paths.

Prints, per set: tracks whose beats are identical, and the share of beats within one frame
(11.6 ms) of a beat of the other tracker (matched beats over the larger of the two counts).
Timing (``--repeats`` passes over the corpus, librosa warmed up first, BLAS at one thread): the
median per 90 s of audio of our tracker, librosa's, and the whole ``descriptors.analyse``.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))
CORPUS = ROOT.parent / "shared" / "corpus" / "dev" / "audio"
SR = 22050


def tracker_input(audio: np.ndarray, sr: int) -> tuple[np.ndarray, float, int, float] | None:
    """(onset envelope, fps, hop, bpm) as ``descriptors._descriptors`` feeds the beat tracker;
    None where it would not track beats (no music, too short, no tempo)."""
    from segue.listen import descriptors as D
    from segue.listen import loudness as loud
    from segue.listen import tempo

    ac = D._without_dc(D._prepare(audio, sr))
    spec = D.Spectrum(D._mono_at_analysis_rate(ac, sr))
    start, end, _ = loud.music_bounds(ac, sr)
    if not (math.isfinite(start) and math.isfinite(end)) or end - start < D.MIN_RHYTHM_S:
        return None
    fps = spec.fps
    f0, f1 = int(start * fps), int(math.ceil(end * fps))
    env, _low, body = tempo.onset_envelopes(spec)
    for e in (env, body):
        e[:f0] = 0.0
        e[f1:] = 0.0
    bpm, _ = tempo.estimate_tempo(env[f0:f1], fps)
    if not math.isfinite(bpm):
        return None
    return env, fps, spec.hop, tempo.metrical_level(body[f0:f1], fps, bpm)


def librosa_frames(env: np.ndarray, fps: float, hop: int, bpm: float) -> np.ndarray:
    import librosa

    _, frames = librosa.beat.beat_track(onset_envelope=env.astype(np.float64), sr=SR,
                                        hop_length=hop, bpm=bpm, tightness=400, trim=True,
                                        units="frames")
    assert abs(SR / hop - fps) < 1e-9
    return np.asarray(frames, np.int64)


def agreement(ref: np.ndarray, ours: np.ndarray) -> tuple[int, int]:
    """(beats of the larger set that have a partner within one frame, size of that set)."""
    big, small = (ref, ours) if len(ref) >= len(ours) else (ours, ref)
    if not len(big):
        return 0, 0
    if not len(small):
        return 0, len(big)
    j = np.searchsorted(small, big)
    left = small[np.clip(j - 1, 0, len(small) - 1)]
    right = small[np.clip(j, 0, len(small) - 1)]
    near = np.minimum(np.abs(big - left), np.abs(big - right))
    return int(np.sum(near <= 1)), len(big)


def corpus_audio(n: int | None, cache: Path) -> list[tuple[str, np.ndarray]]:
    from segue.audio.decode import read_audio

    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for f in sorted(CORPUS.iterdir())[:n]:
        p = cache / f"{f.stem}.npy"
        if not p.exists():
            _, audio = read_audio(f, decode_rates=(SR,))
            assert audio is not None
            np.save(p, audio[SR])
        out.append((f.stem, np.load(p)))
    return out


def compare(cases: list[tuple[str, np.ndarray, float, int, float]], label: str) -> None:
    from segue.listen.beats import beat_frames

    same = matched = total = 0
    worst = []
    for name, env, fps, hop, bpm in cases:
        ref = librosa_frames(env, fps, hop, bpm)
        ours = beat_frames(env, fps, bpm)
        same += int(np.array_equal(ref, ours))
        m, t = agreement(ref, ours)
        matched, total = matched + m, total + t
        if m < t:
            worst.append(f"{name} @ {bpm:.1f}: {m}/{t}")
    print(f"{label}: {same}/{len(cases)} identical, beats within 1 frame "
          f"{matched}/{total} = {matched / max(total, 1):.4f}")
    for w in worst:
        print("   differs:", w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=None, help="first N corpus tracks (default all)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/segue-beats-cache"))
    args = ap.parse_args()

    import descriptor_signals as S
    from segue.listen.beats import beat_frames
    from segue.listen.descriptors import analyse

    loops = S.tempo_suite(8, seconds=30.0, seed=4)
    synth, stress = [], []
    for loop in loops:
        got = tracker_input(loop.audio, S.SR)
        assert got is not None
        env, fps, hop, bpm = got
        name = f"{loop.style} {loop.bpm}"
        synth.append((name, env, fps, hop, bpm))
        stress += [(name, env, fps, hop, b) for b in (bpm * 0.97, bpm * 1.5, 60.0, 200.0)]
    compare(synth, f"synthetic loops ({len(synth)}), pipeline tempo")
    compare(stress, f"synthetic loops, off tempo ({len(stress)})")

    if not CORPUS.is_dir():
        print(f"no corpus at {CORPUS}: corpus figures skipped")
        return
    tracks = corpus_audio(args.n, args.cache)
    corpus = []
    for name, audio in tracks:
        got = tracker_input(audio, SR)
        if got is not None:
            corpus.append((name, *got))
    print(f"corpus: {len(tracks)} tracks, {len(corpus)} with a tempo")
    compare(corpus, f"corpus ({len(corpus)}), pipeline tempo")
    compare([(n, e, f, h, b * k) for n, e, f, h, b in corpus for k in (0.97, 1.5)],
            f"corpus, off tempo (x0.97, x1.5: {2 * len(corpus)})")

    seconds = sum(len(c[1]) / c[2] for c in corpus)
    librosa_frames(*corpus[0][1:])  # numba compile is not tracking time
    ours_t, lib_t, all_t = [], [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _name, env, fps, _hop, bpm in corpus:
            beat_frames(env, fps, bpm)
        t1 = time.perf_counter()
        for _name, env, fps, hop, bpm in corpus:
            librosa_frames(env, fps, hop, bpm)
        t2 = time.perf_counter()
        ours_t.append((t1 - t0) / seconds * 90)
        lib_t.append((t2 - t1) / seconds * 90)
    for _ in range(max(1, args.repeats // 2)):
        t0 = time.perf_counter()
        for _name, audio in tracks:
            analyse(audio, SR)
        all_t.append((time.perf_counter() - t0) / seconds * 90)
    print(f"per 90 s of audio (median of {args.repeats} passes over the corpus, one thread): "
          f"numpy tracker {statistics.median(ours_t) * 1e3:.1f} ms, librosa (warm) "
          f"{statistics.median(lib_t) * 1e3:.1f} ms, whole descriptors.analyse "
          f"{statistics.median(all_t) * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
