"""Mel front ends against librosa (test-only dependency), on synthetic audio: needs no fixtures."""

from __future__ import annotations

import numpy as np
import pytest

from segue.audio import model_frontends as sp

librosa = pytest.importorskip("librosa")


def _signal(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tones = sum(np.sin(2 * np.pi * f * t) * a for f, a in ((110, 0.5), (440, 0.3), (3520, 0.05)))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t)
    return (tones * envelope + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


@pytest.mark.parametrize(
    ("sr", "n_fft", "n_mels", "fmax"), [(16000, 512, 96, None), (22050, 2048, 96, 11025.0)]
)
def test_filterbank_matches_librosa(sr: int, n_fft: int, n_mels: int, fmax: float | None) -> None:
    ours = sp.slaney_mel_filterbank(sr, n_fft, n_mels, fmax=fmax)
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmax=fmax)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


def test_musicnn_mel_matches_librosa_reflect() -> None:
    y = _signal(4.3, 16000)
    ref = librosa.feature.melspectrogram(
        y=y, sr=16000, n_fft=512, hop_length=256, n_mels=96, pad_mode="reflect"
    ).T
    np.testing.assert_allclose(sp.musicnn_mel_power(y), ref, rtol=1e-4)


def _deejai_reference(audio: np.ndarray) -> np.ndarray:
    """HF AudioEncoder.encode preprocessing (diffusers Mel, x_res 216, y_res 96), via librosa."""
    if len(audio) < 216 * 512:
        audio = np.concatenate([audio, np.zeros(216 * 512 - len(audio))])
    size = 216 * 512 - 1
    out = []
    for i in range(len(audio) // size):
        mel = librosa.feature.melspectrogram(
            y=audio[size * i : size * (i + 1)], sr=22050, n_fft=2048, hop_length=512, n_mels=96,
            pad_mode="constant",
        )  # fmt: skip
        db = librosa.power_to_db(mel, ref=np.max, top_db=80)
        out.append((((db + 80) * 255 / 80).clip(0, 255) + 0.5).astype(np.uint8) / 255)
    return np.stack(out)


@pytest.mark.parametrize("seconds", [1.0, 5.0, 5.1, 12.7])
def test_deejai_slices_match_reference(seconds: float) -> None:
    y = _signal(seconds, 22050, seed=int(seconds * 10))
    got = sp.deejai_slices(y)
    ref = _deejai_reference(y)
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert got.shape[1:] == (96, 216)
    assert got.shape[0] == max(1, y.size // sp.DEEJAI_SLICE_SAMPLES)
    assert got.min() >= 0.0 and got.max() == 1.0
    diff = np.abs(got - ref)
    assert diff.max() <= 1 / 255 + 1e-6  # a pixel may round the other way at a .5 boundary
    assert (diff > 1e-6).mean() <= 1e-3


def test_deejai_silence_and_chunking() -> None:
    assert np.array_equal(sp.deejai_slices(np.zeros(1000, np.float32)), np.ones((1, 96, 216)))
    y = _signal(40 * sp.DEEJAI_SLICE_SAMPLES / 22050, 22050, seed=3)  # > one STFT chunk
    got = sp.deejai_slices(y)
    assert got.shape[0] == 40
    np.testing.assert_array_equal(got[17], sp.deejai_slices(y[17 * 110591 : 18 * 110591])[0])


def test_float16_rounding_matches_numpy_bit_for_bit() -> None:
    # every finite positive float16, the midpoints between neighbours (ties: to even) and the
    # float32 values just around them, the subnormal and overflow edges, random magnitudes
    h = np.arange(0, 0x7C00, dtype=np.uint16).view(np.float16).astype(np.float32)
    mids = ((h[:-1].astype(np.float64) + h[1:]) / 2).astype(np.float32)
    near = [np.nextafter(mids, np.float32(np.inf)), np.nextafter(mids, np.float32(0))]
    edges = np.array([65504, 65505, 65519, 65519.996, 65520, 65536, 1e6, 3e38, 2**-14, 2**-15,
                      2**-24, 2**-25, 2**-26, 1.5 * 2**-24, 2.5 * 2**-24, 0.0], np.float32)
    rand = np.exp(np.random.default_rng(0).uniform(np.log(1e-12), np.log(1e5), 200_000))
    x = np.concatenate([h, mids, *near, edges, rand.astype(np.float32)])
    with np.errstate(over="ignore"):
        ref = x.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(sp._through_float16(x), ref)
