"""Descriptors: loudness against references, trimming, Camelot helpers, robustness, layout."""

from __future__ import annotations

import json
import math

import numpy as np
import pyloudnorm
import pytest

from descriptor_signals import (
    SR,
    drum_loop,
    pink_noise,
    sine,
    tech3342_case,
    with_silence,
)
from segue.errors import UserError
from segue.listen import loudness as L
from segue.listen.descriptors import (
    ANALYSIS_SR,
    DESCRIPTOR_VERSION,
    FEATURE_LENGTHS,
    Descriptors,
    analyse,
    camelot_compatible,
    camelot_distance,
    compute_descriptors,
    feature_vectors,
    parse_camelot_or_key,
)

# ---------------------------------------------------------------------------------------------
# Loudness


def _lufs(audio: np.ndarray, sr: int) -> float:
    return L.integrated_loudness(L.k_weighted(audio, sr), sr)


def test_k_weighting_matches_bs1770_coefficients_at_48k():
    sos = L.k_weighting_sos(48000)
    np.testing.assert_allclose(sos[0, :3], [1.53512485958697, -2.69169618940638, 1.19839281085285],
                               atol=1e-6)
    np.testing.assert_allclose(sos[0, 4:], [-1.69065929318241, 0.73248077421585], atol=1e-6)
    np.testing.assert_allclose(sos[1, 4:], [-1.99004745483398, 0.99007225036621], atol=1e-6)


@pytest.mark.parametrize("sr", [SR, 48000])
def test_sine_reference_level(sr):
    # BS.1770: a 1 kHz sine at -20 dBFS on both channels reads -20 LUFS (+-0.1)
    x = sine(1000.0, 10.0, 0.1, sr)
    assert _lufs(x, sr) == pytest.approx(-20.0, abs=0.1)


@pytest.mark.parametrize("target", [-10.0, -23.0, -35.0])
@pytest.mark.parametrize("sr", [SR, 48000])
def test_integrated_loudness_matches_pyloudnorm(target, sr):
    x = pink_noise(12.0, sr, seed=3)
    meter = pyloudnorm.Meter(sr)
    x = x * 10 ** ((target - meter.integrated_loudness(x.T.astype(np.float64))) / 20)
    ref = meter.integrated_loudness(x.T.astype(np.float64))
    assert _lufs(x, sr) == pytest.approx(ref, abs=0.5)
    assert ref == pytest.approx(target, abs=0.05)


def test_gating_ignores_silence():
    x = with_silence(pink_noise(10.0, seed=1) * 0.05, 10.0, 10.0, floor_db=None)
    assert _lufs(x, SR) == pytest.approx(_lufs(pink_noise(10.0, seed=1) * 0.05, SR), abs=0.3)


@pytest.mark.parametrize(
    "levels, lra",
    [([-20, -30], 10.0), ([-20, -15], 5.0), ([-40, -20], 20.0), ([-50, -35, -20, -35, -50], 15.0)],
)
def test_loudness_range_tech3342_cases(levels, lra):
    # EBU Tech 3342 test signals 1-4 (stereo 1 kHz sine, 20 s per level), tolerance +-1 LU
    x = tech3342_case(levels)
    assert L.loudness_range(L.k_weighted(x, SR), SR) == pytest.approx(lra, abs=1.0)


def test_true_peak_finds_intersample_peak():
    # fs/4 sine at 45 degrees: every sample at +-0.707, the waveform peaks at 1.0 in between
    x = sine(SR / 4, 2.0, 1.0, SR, phase=math.pi / 4)
    sample_peak = 20 * np.log10(np.max(np.abs(x)))
    assert sample_peak == pytest.approx(-3.01, abs=0.05)
    assert L.true_peak_dbtp(x) == pytest.approx(0.0, abs=0.2)
    # a 997 Hz sine's true peak is its amplitude
    assert L.true_peak_dbtp(sine(997.0, 1.0, 0.5)) == pytest.approx(-6.02, abs=0.1)


def test_replaygain_reference():
    d = compute_descriptors(pink_noise(8.0, seed=2) * 0.05, SR)
    assert d.replaygain_db == pytest.approx(-18.0 - d.loudness_lufs, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# Silence trimming and energy curves


@pytest.mark.parametrize("floor_db", [None, -90.0, -70.0])
def test_music_start_end_within_50ms(floor_db):
    loop = drum_loop(120.0, "four", 12.0, seed=4)
    rng = np.random.default_rng(5)
    lead, tail = float(rng.uniform(0.5, 4.0)), float(rng.uniform(0.5, 4.0))
    # measure the loop's own first/last sound so the truth is exact
    nz = np.flatnonzero(np.abs(loop.audio[0]) > 1e-4)
    true_start = lead + nz[0] / SR
    true_end = lead + (nz[-1] + 1) / SR
    x = with_silence(loop.audio, lead, tail, floor_db=floor_db)
    d = compute_descriptors(x, SR)
    assert d.music_start == pytest.approx(true_start, abs=0.05)
    assert d.music_end == pytest.approx(true_end, abs=0.05)
    assert d.duration == pytest.approx(x.shape[1] / SR)
    assert all(d.music_start - 0.06 <= b <= d.music_end + 0.06 for b in d.beats)


def test_energy_curves_follow_a_fade():
    x = pink_noise(60.0, seed=6) * 0.1
    fade_in = np.linspace(0.001, 1.0, 30 * SR)
    x[:, : 30 * SR] *= fade_in
    d = compute_descriptors(x, SR)
    assert len(d.intro_energy) == 60 and len(d.outro_energy) == 60
    assert d.intro_energy[-1] - d.intro_energy[2] > 20  # rising intro
    assert np.ptp(d.outro_energy) < 2  # steady outro


# ---------------------------------------------------------------------------------------------
# Camelot helpers


@pytest.mark.parametrize(
    "text, code",
    [("8A", "8A"), ("08a", "8A"), ("Am", "8A"), ("A minor", "8A"), ("a min", "8A"),
     ("C", "8B"), ("C major", "8B"), ("F#m", "11A"), ("Gb minor", "11A"), ("Db", "3B"),
     ("C# major", "3B"), ("Bbm", "3A"), ("B", "1B"), ("G#m", "1A"), ("E♭ major", "5B"),
     ("12B", "12B"), ("E", "12B")],
)
def test_parse_camelot_or_key(text, code):
    assert parse_camelot_or_key(text) == code


@pytest.mark.parametrize("bad", ["", "13A", "H minor", "8C", "xyz", "0A"])
def test_parse_rejects_nonsense(bad):
    with pytest.raises(UserError):
        parse_camelot_or_key(bad)


def test_camelot_wheel_rules():
    assert camelot_distance("8A", "8A") == 0
    assert camelot_distance("8A", "9A") == 1 and camelot_distance("12B", "1B") == 1
    assert camelot_distance("8A", "8B") == 1  # relative major/minor
    assert camelot_distance("Am", "C major") == 1
    assert camelot_distance("8A", "9B") == 2
    assert camelot_distance("1A", "7A") == 6
    assert camelot_compatible("8A", "7A") and camelot_compatible("8A", "C")
    assert not camelot_compatible("8A", "10A") and not camelot_compatible("8A", "9B")
    assert camelot_compatible("E minor", "G major")  # 9A / 9B


# ---------------------------------------------------------------------------------------------
# Robustness and layout


def _finite_or_none(d: dict) -> None:
    text = json.dumps(d, allow_nan=False)  # raises on NaN/inf
    assert json.loads(text) == d


@pytest.mark.parametrize(
    "name, audio",
    [
        ("silence", np.zeros((2, 10 * SR), np.float32)),
        ("short", (0.1 * np.random.default_rng(0).standard_normal((2, int(0.3 * SR)))).astype(np.float32)),
        ("empty", np.zeros((2, 0), np.float32)),
        ("one sample", np.ones((1, 1), np.float32)),
        ("dc", np.full((2, 5 * SR), 0.5, np.float32)),
        ("mono", sine(440.0, 3.0, 0.3, channels=1)),
        ("nan", np.where(np.arange(SR * 6) % 1000 == 0, np.nan, 0.1).astype(np.float32)[None, :]),
    ],
)
def test_degenerate_inputs_never_crash(name, audio):
    d, feats = analyse(audio, SR)
    out = d.to_dict()
    _finite_or_none(out)
    assert 0.0 <= d.bpm_confidence <= 1.0 and 0.0 <= d.key_confidence <= 1.0
    if name in ("silence", "empty", "dc", "one sample"):
        assert d.bpm_confidence == 0.0 and d.beats == []
    if name in ("silence", "empty"):
        assert out["loudness_lufs"] is None and out["music_start"] is None
        assert d.key is None
    for k, n in FEATURE_LENGTHS.items():
        assert feats[k].shape == (n,) and feats[k].dtype == np.float32
        assert np.all(np.isfinite(feats[k]))


def test_dc_offset_does_not_change_rhythm_or_key():
    loop = drum_loop(100.0, "rock", 20.0, seed=7)
    base = compute_descriptors(loop.audio, SR)
    shifted = compute_descriptors(loop.audio + np.float32(0.2), SR)
    assert shifted.bpm == pytest.approx(base.bpm, rel=0.01)
    assert shifted.music_start == pytest.approx(base.music_start, abs=0.05)


def test_dict_round_trip_and_version():
    loop = drum_loop(128.0, "four", 15.0, seed=8)
    d = compute_descriptors(loop.audio, SR)
    out = d.to_dict()
    _finite_or_none(out)
    assert out["version"] == DESCRIPTOR_VERSION
    back = Descriptors.from_dict(json.loads(json.dumps(out)))
    assert back.to_dict() == out
    assert Descriptors.from_dict(Descriptors().to_dict()).to_dict() == Descriptors().to_dict()


def test_feature_vectors_layout_and_sense():
    loop = drum_loop(120.0, "four", 20.0, seed=9)
    feats = feature_vectors(loop.audio, ANALYSIS_SR)
    assert {k: v.shape[0] for k, v in feats.items()} == {
        "rp": 1440, "ssd": 168, "rh": 60, "timbre": 60}
    # a 120 BPM loop with a kick every beat: the rhythm histogram peaks near 2 Hz (bin ~12 of
    # 0.168 Hz) or its harmonics, never at the slowest modulation bins
    rh = feats["rh"]
    peak_hz = (np.argmax(rh) + 1) * 22050 / 256 / 512
    assert min(abs(peak_hz - h) for h in (2.0, 4.0, 6.0, 8.0)) < 0.3
    # band 24 lies above Nyquist at 22050 Hz: only masking spread from band 23 reaches it
    ssd = feats["ssd"].reshape(24, 7)
    assert ssd[23, 0] < 0.05 * ssd[21, 0]
    assert ssd[:20, 0].min() > 0
    # same vectors from analyse() and from the separate call
    _, feats2 = analyse(loop.audio, ANALYSIS_SR)
    for k in feats:
        np.testing.assert_array_equal(feats[k], feats2[k])


def test_other_sample_rates_are_resampled():
    loop = drum_loop(120.0, "four", 12.0, sr=44100, seed=10)
    d = compute_descriptors(loop.audio, 44100)
    assert d.bpm == pytest.approx(120.0, rel=0.02)
    assert d.duration == pytest.approx(12.0, abs=0.01)


def test_bad_shapes_are_user_errors():
    with pytest.raises(UserError):
        compute_descriptors(np.zeros((2, 2, 2), np.float32), SR)
    with pytest.raises(UserError):
        compute_descriptors(np.zeros((2, 100), np.float32), 0)
