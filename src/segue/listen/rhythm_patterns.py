"""Rhythm Patterns (RP), Statistical Spectrum Descriptors (SSD) and Rhythm Histogram (RH).

After T. Lidy and A. Rauber, "Evaluation of feature extractors and psycho-acoustic
transformations for music genre classification", ISMIR 2005 (the rp_extract feature sets, from
E. Pampalk's fluctuation patterns), computed from the shared power spectrogram:

1. Power spectrum per frame scaled like rp_extract's periodogram (the signal multiplied by
   0.0875 * 2^15 to place the hearing threshold, |X|^2 / sum(w^2) * 2 / (2 pi)), and divided by
   the window-length ratio so band levels match rp_extract's 512-point window at 22050 Hz.
2. Summed into 24 critical bands (Zwicker's Bark edges 100 .. 15500 Hz). At 22050 Hz band 24
   (12-15.5 kHz) lies above Nyquist and stays at the floor; the layout is kept so vectors stay
   comparable with the published 24-band shape.
3. Spectral masking (Schroeder et al. 1979 spreading function), dB, Phon (equal-loudness
   contours interpolated to the band edges), Sone (Bladon & Lindblom).
4. Segments of 2^17 samples (5.94 s; 511 frames at 86.13 frames/s), every segment of the track
   (the first and last are skipped when the track is at least 45 s long, as rp_extract does):
   * SSD: per band mean, variance, skewness, kurtosis (Pearson), median, min, max of the sone
     values -> 24 x 7 = 168, averaged over segments;
   * RP: |FFT| over time per band (512 points), modulation bins 1..60 (0.168..10.1 Hz), /256,
     weighted by the fluctuation-strength curve 1/(f/4 + 4/f) -> 24 x 60 = 1440, median over
     segments (rp_extract leaves its gradient/Gauss blurring unported; so do we);
   * RH: the unweighted modulation magnitudes summed over bands -> 60, median over segments.
Tracks shorter than one segment are zero-padded to one.

Layouts (row-major, float32): ``rp`` is (band, modulation bin) -> 24*60 = 1440; ``ssd`` is
(band, statistic) -> 24*7 = 168; ``rh`` is 60.
"""

from __future__ import annotations

import numpy as np

from segue.listen.descriptor_spectrum import Spectrum

BARK_EDGES = [100, 200, 300, 400, 510, 630, 770, 920, 1080, 1270, 1480, 1720, 2000, 2320, 2700,
              3150, 3700, 4400, 5300, 6400, 7700, 9500, 12000, 15500]
N_BANDS = 24
N_MOD = 60
SEGMENT = 2**17  # samples at 22050 Hz
SEG_FRAMES = 511
MOD_FFT = 512
RP_LEN, SSD_LEN, RH_LEN = N_BANDS * N_MOD, N_BANDS * 7, N_MOD

# Equal-loudness contours (dB SPL at each frequency for 3..100 phon), as tabulated in the
# MA toolbox / rp_extract, and the phon levels they belong to.
_PHON = [3, 20, 40, 60, 80, 100, 101]
_EQ_LOUDNESS = np.array([
    [55, 40, 32, 24, 19, 14, 10, 6, 4, 3, 2, 2, 0, -2, -5, -4, 0, 5, 10, 14, 25, 35],
    [66, 52, 43, 37, 32, 27, 23, 21, 20, 20, 20, 20, 19, 16, 13, 13, 18, 22, 25, 30, 40, 50],
    [76, 64, 57, 51, 47, 43, 41, 41, 40, 40, 40, 39.5, 38, 35, 33, 33, 35, 41, 46, 50, 60, 70],
    [89, 79, 74, 70, 66, 63, 61, 60, 60, 60, 60, 59, 56, 53, 52, 53, 56, 61, 65, 70, 80, 90],
    [103, 96, 92, 88, 85, 83, 81, 80, 80, 80, 80, 79, 76, 72, 70, 70, 75, 79, 83, 87, 95, 105],
    [118, 110, 107, 105, 103, 102, 101, 100, 100, 100, 100, 99, 97, 94, 90, 90, 95, 100, 103,
     105, 108, 115],
], dtype=float)
_LOUDN_FREQ = np.array([31.62, 50, 70.7, 100, 141.4, 200, 316.2, 500, 707.1, 1000, 1414, 1682,
                        2000, 2515, 3162, 3976, 5000, 7071, 10000, 11890, 14140, 15500])


def _loudness_at_bark_edges() -> np.ndarray:
    """(6 levels, 24 bands): contour dB at each band's upper edge, inverse-distance interpolated
    between the two neighbouring tabulated frequencies."""
    out = np.zeros((_EQ_LOUDNESS.shape[0], N_BANDS))
    for i, f in enumerate(BARK_EDGES):
        exact = np.flatnonzero(f == _LOUDN_FREQ)
        if exact.size:
            out[:, i] = _EQ_LOUDNESS[:, exact[0]]
            continue
        j = int(np.searchsorted(_LOUDN_FREQ, f)) - 1
        w1, w2 = 1 / abs(_LOUDN_FREQ[j] - f), 1 / abs(_LOUDN_FREQ[j + 1] - f)
        out[:, i] = (_EQ_LOUDNESS[:, j] * w1 + _EQ_LOUDNESS[:, j + 1] * w2) / (w1 + w2)
    return out


_LOUDN_BARK = _loudness_at_bark_edges()
_d = np.arange(N_BANDS)[:, None] - np.arange(N_BANDS)[None, :] + 0.474
_SPREAD = 10 ** ((15.81 + 7.5 * _d - 17.5 * np.sqrt(1 + _d**2)) / 10)  # Schroeder spreading


def bark_matrix(freqs: np.ndarray) -> np.ndarray:
    """(24, bins) 0/1 matrix summing FFT bins into the Bark bands."""
    lo = np.array([0] + BARK_EDGES[:-1])
    hi = np.array(BARK_EDGES)
    return ((freqs[None, :] >= lo[:, None]) & (freqs[None, :] < hi[:, None])).astype(np.float32)


def phon_transform(db: np.ndarray) -> np.ndarray:
    """dB (bands, frames) -> phon by piecewise-linear interpolation between contours."""
    levels = np.concatenate([np.full((N_BANDS, 1), np.inf), _LOUDN_BARK.T], axis=1)  # (24, 7)
    phons = np.array([0] + _PHON, float)  # index 0 unused pad, as in the table layout
    lev = np.full(db.shape, 2, dtype=int)
    for k in range(1, 6):
        lev[db > levels[:, k][:, None]] = k + 2
    rows = np.broadcast_to(np.arange(N_BANDS)[:, None], db.shape)
    hi = levels[rows, lev - 1]
    lo = levels[rows, lev - 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        ifac = (db - lo) / (hi - lo)
    ifac[(lev == 2) | ~np.isfinite(ifac)] = 1.0
    return phons[lev - 2] + ifac * (phons[lev - 1] - phons[lev - 2])


def sone_transform(phon: np.ndarray) -> np.ndarray:
    return np.where(phon >= 40, 2.0 ** ((phon - 40) / 10), (np.maximum(phon, 0) / 40) ** 2.642)


def sonogram(spec: Spectrum) -> np.ndarray:
    """Bark-band loudness in sone, (24, frames)."""
    scale = (0.0875 * 2**15) ** 2
    win_power = float(np.sum(np.hanning(spec.n_fft + 1)[:-1] ** 2))
    # scaled after summing into bands: the same figures (to float32 rounding) without a
    # scaled copy of the whole spectrogram
    bands = (bark_matrix(spec.freqs) @ spec.power) * np.float32(
        scale / win_power * 2 / (2 * np.pi) / (spec.n_fft / 512))
    bands = _SPREAD @ bands
    db = 10 * np.log10(np.maximum(bands, 1.0))
    return sone_transform(phon_transform(db))


_mod_freq = (22050 / 256 / MOD_FFT) * np.arange(N_MOD + 1)  # 0.168 Hz per modulation bin
with np.errstate(divide="ignore"):
    _FLUCT = 1.0 / (_mod_freq / 4 + 4 / _mod_freq)
_FLUCT = _FLUCT[1 : N_MOD + 1]


def _ssd(segs: np.ndarray) -> np.ndarray:
    """Per segment and band: mean, variance, skewness, kurtosis (Pearson), median, min, max of
    (segments, bands, frames) -> (segments, bands, 7). The moments are scipy.stats' (biased
    skew and kurtosis, NaN -- here 0 -- where the variance is zero up to rounding), computed
    the same way but for every segment at once."""
    out = np.zeros(segs.shape[:2] + (7,))
    mean = segs.mean(axis=2, keepdims=True)
    d = segs - mean
    d2 = d**2
    m2 = d2.mean(axis=2)
    m3 = (d2 * d).mean(axis=2)
    m4 = (d2**2).mean(axis=2)
    # scipy's test for a constant band: its variance is only rounding noise of the mean
    constant = m2 <= (np.finfo(m2.dtype).eps * mean[..., 0]) ** 2
    out[..., 0] = mean[..., 0]
    out[..., 1] = m2
    with np.errstate(all="ignore"):
        out[..., 2] = np.where(constant, np.nan, m3 / m2**1.5)
        out[..., 3] = np.where(constant, np.nan, m4 / m2**2.0)
    out[..., 4] = np.median(segs, axis=2)
    out[..., 5] = segs.min(axis=2)
    out[..., 6] = segs.max(axis=2)
    out[~np.isfinite(out)] = 0.0
    return out


def rhythm_features(spec: Spectrum) -> dict[str, np.ndarray]:
    """{"rp": (1440,), "ssd": (168,), "rh": (60,)} float32, finite."""
    son = sonogram(spec)
    n_samples = len(spec.y)
    step = SEGMENT // spec.hop  # 512 frames per segment step
    n_seg = max(1, n_samples // SEGMENT)
    skip = 1 if (n_samples / spec.sr >= 45 and n_seg > 2) else 0
    seg_ids = list(range(skip, n_seg - skip)) or [0]
    segs = []
    for s in seg_ids:
        a = s * step
        seg = son[:, a : a + SEG_FRAMES]
        if seg.shape[1] < SEG_FRAMES:  # short track: zero-pad (sone 0 = silence)
            seg = np.pad(seg, ((0, 0), (0, SEG_FRAMES - seg.shape[1])))
        segs.append(seg)
    segs_a = np.stack(segs)  # (S, 24, 511)
    ssd = _ssd(segs_a).mean(axis=0)
    mod = np.abs(np.fft.rfft(segs_a, MOD_FFT, axis=2))[:, :, 1 : N_MOD + 1] / 256.0
    rh = np.median(mod.sum(axis=1), axis=0)
    rp = np.median(mod * _FLUCT[None, None, :], axis=0)
    return {
        "rp": rp.reshape(-1).astype(np.float32),
        "ssd": ssd.reshape(-1).astype(np.float32),
        "rh": rh.astype(np.float32),
    }
