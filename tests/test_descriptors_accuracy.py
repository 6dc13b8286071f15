"""Accuracy of tempo, beats, downbeats and key against synthesized ground truth, and a smoke run
over real corpus tracks. Floors are set a little under what the method achieves on these seeds
(the bench, bench/descriptors.py, runs larger suites and prints the figures)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from descriptor_signals import SR, key_suite, tempo_suite
from segue.listen import key as K
from segue.listen.descriptors import ANALYSIS_SR, FEATURE_LENGTHS, analyse, compute_descriptors

STEADY = ("four", "rock", "click", "swing")


def tempo_scores(est: float, truth: float) -> tuple[bool, bool]:
    """MIREX acc1 (within 4 %) and acc2 (also x2, x1/2, x3, x1/3)."""
    if not math.isfinite(est):
        return False, False
    r = est / truth
    return abs(r - 1) <= 0.04, any(abs(r / m - 1) <= 0.04 for m in (1, 2, 0.5, 3, 1 / 3))


def beat_hits(est: np.ndarray, truth: np.ndarray, tol: float = 0.05) -> float:
    """Share of true beats inside the tracked span with an estimated beat within ``tol`` s."""
    if len(est) == 0:
        return 0.0
    t = truth[(truth >= est.min() - tol) & (truth <= est.max() + tol)]
    if len(t) == 0:
        return 0.0
    return float(np.mean([np.min(np.abs(est - x)) <= tol for x in t]))


@pytest.fixture(scope="module")
def tempo_results():
    loops = tempo_suite(3, seconds=20.0, seed=11)
    out = []
    for loop in loops:
        d = compute_descriptors(loop.audio, SR)
        a1, a2 = tempo_scores(d.bpm, loop.bpm)
        out.append((loop, d, a1, a2))
    return out


def test_tempo_acc1_acc2(tempo_results):
    acc1 = np.mean([r[2] for r in tempo_results])
    acc2 = np.mean([r[3] for r in tempo_results])
    misses = [(r[0].style, r[0].bpm, r[1].bpm) for r in tempo_results if not r[3]]
    assert acc2 >= 0.95, misses
    assert acc1 >= 0.65, [(r[0].style, r[0].bpm, r[1].bpm) for r in tempo_results if not r[2]]


def test_tempo_on_steady_loops_is_exact(tempo_results):
    # the notated tempo of steady grooves (not half-time or breakbeat) and a tight BPM value
    steady = [r for r in tempo_results if r[0].style in STEADY]
    assert np.mean([r[2] for r in steady]) >= 0.9
    for loop, d, a1, _ in steady:
        if a1:
            assert d.bpm == pytest.approx(loop.bpm, abs=0.5)
            assert d.bpm_confidence > 0.5


def test_beats_within_50ms(tempo_results):
    hits = [beat_hits(np.array(d.beats), loop.beats) for loop, d, a1, _ in tempo_results
            if a1 and loop.style in STEADY]
    assert len(hits) >= 8
    assert np.mean(hits) >= 0.95 and min(hits) >= 0.85, hits


def test_downbeats(tempo_results):
    shares = []
    for loop, d, a1, _ in tempo_results:
        if not a1 or loop.style not in STEADY:
            continue
        shares.append(beat_hits(np.array(d.downbeats), loop.downbeats, 0.07)
                      if d.downbeats else 0.0)
    assert np.mean(shares) >= 0.9, shares


@pytest.fixture(scope="module")
def key_results():
    out = []
    for audio, pc, mode, kind in key_suite(seconds=12.0, seed=12):
        name, conf = K.estimate_key(audio.mean(axis=0), SR)
        truth = K.camelot_of(pc, mode)
        est = K.parse_camelot_or_key(name) if name else None
        out.append((truth, est, conf, kind))
    return out


def test_key_accuracy(key_results):
    correct = np.mean([t == e for t, e, _, _ in key_results])
    near = np.mean([e is not None and K.camelot_distance(t, e) <= 1 for t, e, _, _ in key_results])
    assert correct >= 0.8, [(t, e) for t, e, _, _ in key_results if t != e]
    assert near >= 0.95


def test_key_through_compute_descriptors():
    for audio, pc, mode, _ in key_suite(seconds=10.0, seed=13, kinds=("chords",))[::8]:
        d = compute_descriptors(audio, SR)
        assert K.camelot_distance(d.camelot, K.camelot_of(pc, mode)) <= 1
        assert d.key is not None and K.parse_camelot_or_key(d.key) == d.camelot


# ---------------------------------------------------------------------------------------------
# Real corpus (shared/ beside the repository)

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MANIFEST = SHARED / "corpus" / "dev" / "manifest.csv"


def decode(path: Path, sr: int = ANALYSIS_SR) -> np.ndarray:
    import av

    chunks = []
    with av.open(str(path), metadata_errors="replace") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=sr)
        for frame in container.decode(stream):
            chunks.extend(f.to_ndarray() for f in resampler.resample(frame))
        chunks.extend(f.to_ndarray() for f in resampler.resample(None))
    return np.concatenate(chunks, axis=1).astype(np.float32)


@pytest.mark.skipif(not MANIFEST.exists(), reason=f"no corpus manifest at {MANIFEST}")
def test_corpus_tracks_produce_every_descriptor():
    with MANIFEST.open(newline="") as f:
        rows = list(csv.DictReader(f))
    picks = rows[:: max(1, len(rows) // 4)][:4]
    for row in picks:
        audio = decode(MANIFEST.parent / row["path"])
        d, feats = analyse(audio, ANALYSIS_SR)
        out = d.to_dict()
        assert out["duration"] == pytest.approx(audio.shape[1] / ANALYSIS_SR)
        for k in ("loudness_lufs", "true_peak_dbtp", "replaygain_db", "music_start",
                  "music_end", "bpm"):
            assert out[k] is not None and math.isfinite(out[k]), (row["id"], k)
        assert out["key"] and out["camelot"], row["id"]
        assert len(out["beats"]) > 10 and len(out["intro_energy"]) > 0, row["id"]
        assert 50 <= out["bpm"] <= 220
        for k, n in FEATURE_LENGTHS.items():
            assert feats[k].shape == (n,) and np.all(np.isfinite(feats[k])), (row["id"], k)
