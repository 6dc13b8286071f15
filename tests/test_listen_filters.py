"""The analysis path's filterbanks and dB conversion against librosa's (a test-only dependency):
segue builds them in numpy so that scanning never imports librosa (nor numba through it)."""

from __future__ import annotations

import numpy as np
import pytest

from descriptor_signals import SR, pink_noise
from segue.listen import timbre as T
from segue.listen.descriptor_spectrum import Spectrum, chroma_filterbank, stft_power

librosa = pytest.importorskip("librosa")


@pytest.mark.parametrize(("sr", "n_fft"), [(22050, 1024), (44100, 2048), (16000, 512)])
def test_chroma_filterbank_is_librosas(sr: int, n_fft: int) -> None:
    ours = chroma_filterbank(sr, n_fft)
    ref = librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0)
    assert ours.shape == ref.shape == (12, n_fft // 2 + 1) and ours.dtype == ref.dtype
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)
    assert not ours.flags.writeable  # cached: callers copy before they edit it


def test_the_spectrums_mel_bands_are_librosas() -> None:
    spec = Spectrum(np.zeros(SR, np.float32))
    ref = librosa.filters.mel(sr=spec.sr, n_fft=spec.n_fft, n_mels=64, fmin=30.0,
                              fmax=spec.sr / 2, dtype=np.float32)
    np.testing.assert_allclose(spec.mel_basis, ref, rtol=1e-6, atol=1e-9)
    centres = librosa.mel_frequencies(n_mels=66, fmin=30.0, fmax=spec.sr / 2)[1:-1]
    np.testing.assert_allclose(spec.mel_freqs, centres, rtol=1e-12)
    np.testing.assert_array_equal(spec.freqs, librosa.fft_frequencies(sr=spec.sr, n_fft=1024))


def test_power_to_db_is_librosas_floor_included() -> None:
    rng = np.random.default_rng(2)
    S = rng.gamma(0.3, 1.0, (7, 500)) * 10.0 ** rng.uniform(-14, 2, (7, 500))
    S[:, :10] = 0.0  # below amin
    db = T.power_to_db(S)
    assert db.min() == pytest.approx(db.max() - 80.0)  # the top_db floor is reached
    np.testing.assert_allclose(db, librosa.power_to_db(S), rtol=0, atol=1e-10)
    assert T.power_to_db(np.zeros((7, 0))).shape == (7, 0)


def test_spectral_contrast_is_librosas_on_silence_and_a_tone() -> None:
    # near-empty bands make the valleys fall under the 80 dB floor of power_to_db
    t = np.arange(2 * SR) / SR
    y = np.sin(2 * np.pi * 440.0 * t) * (t > 0.5)
    y = (y + 1e-9 * pink_noise(2.0, SR, seed=4, channels=1)[0]).astype(np.float32)
    S = np.sqrt(stft_power(y, 1024, 256))
    ref = librosa.feature.spectral_contrast(S=S, sr=SR, n_fft=1024, fmin=200.0, n_bands=6)
    np.testing.assert_allclose(T.spectral_contrast(S, SR, 1024), ref, rtol=0, atol=1e-5)
