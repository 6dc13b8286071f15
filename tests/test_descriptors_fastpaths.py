"""The fast paths of the descriptor DSP against straightforward references: every optimised
routine must give what the textbook computation gives, float rounding aside."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import signal, stats

from descriptor_signals import SR, pink_noise
from segue.listen import key as K
from segue.listen import loudness as L
from segue.listen import rhythm_patterns as RP
from segue.listen import timbre as T
from segue.listen.descriptor_spectrum import stft_power
from segue.listen.descriptors import _without_dc

# ---------------------------------------------------------------------------------------------
# True peak


def _true_peak_reference(audio: np.ndarray) -> float:
    """BS.1770 Annex 2 the long way: zero-stuff every channel 4x, filter with the whole 64-tap
    interpolator in float64, and take max |x| over the samples and every in-between output."""
    audio = np.atleast_2d(np.asarray(audio, np.float64))
    peak = float(np.max(np.abs(audio)))
    for ch in audio:
        up = np.zeros(4 * len(ch))
        up[::4] = ch
        y = np.convolve(up, L._TP_FIR)
        between = y[np.arange(len(y)) % 4 != 0]  # the on-sample phase is the sample itself
        peak = max(peak, float(np.max(np.abs(between))))
    return 20 * math.log10(peak)


def _burst(n: int, at: int, amp: float) -> np.ndarray:
    """fs/4 sine at 45 degrees for 8 samples: samples at +-amp, the waveform peaks higher
    between them."""
    x = np.zeros(n, np.float32)
    k = np.arange(8)
    seg = amp * np.sqrt(2) * np.sin(np.pi / 2 * k + np.pi / 4)
    stop = min(n, at + 8)
    x[at:stop] = seg[: stop - at]
    return x


@pytest.mark.parametrize("at", [12000 + o for o in (0, 1, 15, 16, 17, 31, 32, 33, 47, 63)])
def test_true_peak_finds_intersample_peak_away_from_the_sample_peak(at):
    # channel 0 holds the sample peak (one 0.5 spike); channel 1 a burst whose samples stay at
    # 0.38 but whose waveform reaches 0.53 between them, at every position relative to the
    # 32-output candidate blocks: a skipped block would report the spike's -6.02 dB
    n = SR
    rng = np.random.default_rng(at)
    audio = (0.01 * rng.standard_normal((2, n))).astype(np.float32)
    audio[0, 1000] = 0.5
    audio[1] += _burst(n, at, 0.38)
    ref = _true_peak_reference(audio)
    assert ref > 20 * math.log10(0.5) + 0.3  # the burst's intersample peak is the true peak
    assert L.true_peak_dbtp(audio) == pytest.approx(ref, abs=1e-4)


@pytest.mark.parametrize("where", ["start", "end"])
def test_true_peak_at_the_track_edges(where):
    # the interpolator reads zeros beyond the track, as the reference's full convolution does
    n = 4000 + 7
    audio = np.zeros((1, n), np.float32)
    audio[0] = _burst(n, 0 if where == "start" else n - 5, 0.6)
    assert L.true_peak_dbtp(audio) == pytest.approx(_true_peak_reference(audio), abs=1e-4)


def test_true_peak_on_a_loud_master_where_every_block_is_a_candidate(monkeypatch):
    # clipped pink noise: nearly every block is within the bound of the sample peak
    x = np.clip(pink_noise(3.0, seed=5) * 8.0, -0.98, 0.98).astype(np.float32)
    want = _true_peak_reference(x)
    assert L.true_peak_dbtp(x) == pytest.approx(want, abs=1e-4)
    # candidates in many products (a track-sized clip spans several chunks)
    monkeypatch.setattr(L, "_TP_CHUNK", 7)
    assert L.true_peak_dbtp(x) == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize("n", [1, 5, 31, 33])
def test_true_peak_on_very_short_clips(n):
    x = np.random.default_rng(n).uniform(-0.5, 0.5, (2, n)).astype(np.float32)
    assert L.true_peak_dbtp(x) == pytest.approx(_true_peak_reference(x), abs=1e-4)


# ---------------------------------------------------------------------------------------------
# Loudness blocks, trim RMS, DC


def test_loudness_and_range_in_one_pass_give_the_separate_results():
    # at 11025 Hz one pass sums single samples (the step, 0.4 s and 3 s share no larger
    # divisor), the separate passes 2- and 1-sample stretches: different sums, the same blocks
    sr = 11025
    x = pink_noise(12.0, sr=sr, seed=4) * 0.1
    x[:, sr * 4: sr * 6] *= 0.05  # a quiet stretch, so the range is not trivial
    z = L.k_weighted(x, sr)
    lufs, lra = L.loudness_and_range(z, sr)
    assert lufs == pytest.approx(L.integrated_loudness(z, sr), abs=1e-9)
    assert lra == pytest.approx(L.loudness_range(z, sr), abs=1e-9)
    assert math.isfinite(lufs) and lra > 1.0


@pytest.mark.parametrize("sr", [SR, 11025, 22051, 48000])
def test_block_powers_match_per_block_means(sr):
    # every block the straightforward way: per-channel float64 mean of squares, summed; at
    # 11025 and 22051 Hz the block lengths are not multiples of the step
    z = np.random.default_rng(sr).standard_normal((2, int(7.3 * sr))) * 0.1
    step = int(round(0.1 * sr))
    got = L.block_powers(z, sr, (0.4, 3.0))
    for block_s, blocks in zip((0.4, 3.0), got, strict=True):
        block = int(round(block_s * sr))
        starts = np.arange(0, z.shape[1] - block + 1, step)
        ref = np.array([sum(np.mean(c[s: s + block] ** 2) for c in z) for s in starts])
        np.testing.assert_allclose(blocks, ref, rtol=1e-9)
    assert [len(b) for b in L.block_powers(z[:, : int(0.3 * sr)], sr, (0.4, 3.0))] == [0, 0]


def test_block_rms_db_matches_a_float64_reference():
    x = (pink_noise(2.0, seed=6) * 0.2).astype(np.float32)
    x[:, 5000:9000] = 0.0
    b = int(round(0.01 * SR))
    ms = np.mean(x.astype(np.float64) ** 2, axis=0)
    nb = len(ms) // b
    ref = 10 * np.log10(np.maximum(ms[: nb * b].reshape(nb, b).mean(axis=1), 1e-12))
    np.testing.assert_allclose(L.block_rms_db(x, SR, 0.01), ref, rtol=0, atol=1e-9)


def test_without_dc_matches_the_float64_subtraction():
    x = (pink_noise(1.0, seed=7) * 0.3 + np.array([[0.1], [-0.2]])).astype(np.float32)
    ref = x.astype(np.float64) - x.mean(axis=1, keepdims=True, dtype=np.float64)
    got = _without_dc(x)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7)


# ---------------------------------------------------------------------------------------------
# Spectra, key decimation, SSD, timbre helpers


def _stft_power_reference(y: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    yp = np.pad(y.astype(np.float32), (n_fft // 2, n_fft // 2))
    n = 1 + (len(yp) - n_fft) // hop
    frames = np.stack([yp[i * hop: i * hop + n_fft] for i in range(n)])
    spec = np.fft.rfft(frames.astype(np.float64) * np.hanning(n_fft + 1)[:-1], axis=1)
    return (np.abs(spec) ** 2).T


@pytest.mark.parametrize("n_fft, hop, seconds", [(1024, 256, 3.3), (4096, 2048, 30.0)])
def test_stft_power_in_batches_matches_one_transform(n_fft, hop, seconds):
    import scipy.fft

    y = pink_noise(seconds, seed=8, channels=1)[0]  # > 256 frames: several batches
    got = stft_power(y, n_fft, hop)
    assert got.shape[1] > 256
    ref = _stft_power_reference(y, n_fft, hop)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-6 * ref.max())
    # and bit for bit the same float32 arithmetic as one transform over every frame
    yp = np.pad(y.astype(np.float32), (n_fft // 2, n_fft // 2))
    frames = np.lib.stride_tricks.sliding_window_view(yp, n_fft)[::hop]
    spec = scipy.fft.rfft(frames * np.hanning(n_fft + 1)[:-1].astype(np.float32), axis=1)
    np.testing.assert_array_equal(got, (spec.real**2 + spec.imag**2).T)


@pytest.mark.parametrize("n", [256, 257, 258, 259, 1001, 3 * SR + 3])
def test_decimate_matches_resample_poly(n):
    y = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    ref = signal.resample_poly(y, 1, 4)
    got = K.decimate(y, 4)
    assert got.shape == ref.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)


def test_ssd_matches_scipy_stats_per_segment():
    rng = np.random.default_rng(9)
    segs = rng.gamma(2.0, 1.0, (3, RP.N_BANDS, RP.SEG_FRAMES))
    segs[1, 23] = 1.0  # a constant band: skewness and kurtosis are undefined -> 0
    got = RP._ssd(segs)
    for s in range(3):
        seg = segs[s]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy on the constant band
            skew = np.nan_to_num(stats.skew(seg, axis=1), nan=0.0)
            kurt = np.nan_to_num(stats.kurtosis(seg, axis=1, fisher=False), nan=0.0)
        ref = np.stack([seg.mean(axis=1), seg.var(axis=1), skew, kurt, np.median(seg, axis=1),
                        seg.min(axis=1), seg.max(axis=1)], axis=1)
        np.testing.assert_allclose(got[s], ref, rtol=1e-12, atol=1e-12)
    assert got[1, 23, 2] == 0.0 and got[1, 23, 3] == 0.0


def test_timbre_running_sum_and_rolloff_index():
    P = np.random.default_rng(10).gamma(0.5, 1.0, (513, 300)).astype(np.float32)
    P[:, 5] = 0.0  # a silent frame
    cum = T._cumsum_rows(P)
    np.testing.assert_array_equal(cum, np.cumsum(P, axis=0))
    np.testing.assert_array_equal(np.count_nonzero(cum < 0.85 * cum[-1:], axis=0),
                                  np.argmax(cum >= 0.85 * cum[-1:], axis=0))


@pytest.mark.parametrize("sr, n_fft", [(SR, 1024), (44100, 2048)])
def test_spectral_contrast_matches_librosa(sr, n_fft):
    import librosa

    y = pink_noise(2.0, sr, seed=11, channels=1)[0]
    S = np.sqrt(stft_power(y, n_fft, n_fft // 4))
    ref = librosa.feature.spectral_contrast(S=S, sr=sr, n_fft=n_fft, fmin=200.0, n_bands=6)
    np.testing.assert_allclose(T.spectral_contrast(S, sr, n_fft), ref, rtol=0, atol=1e-5)


def test_sparse_mel_matches_the_dense_product():
    from segue.listen.descriptor_spectrum import Spectrum

    spec = Spectrum(pink_noise(2.0, seed=12, channels=1)[0])
    ref = spec.mel_basis.astype(np.float64) @ spec.power.astype(np.float64)
    np.testing.assert_allclose(spec.mel, ref, rtol=1e-5, atol=1e-7 * ref.max())
