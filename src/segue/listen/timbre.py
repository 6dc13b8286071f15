"""Timbre vector from the shared spectrogram.

Layout (``TIMBRE_LEN`` = 60, float32):

====== =========================================================================
0:20   MFCC 0..19 mean (DCT-II, ortho, of the 64-band log-mel in dB; librosa's convention)
20:40  MFCC 0..19 standard deviation
40:42  spectral centroid mean, std (kHz)
42:44  spectral roll-off (85 % of the energy) mean, std (kHz)
44:46  spectral flatness mean, std (of the power spectrum, 0..1)
46:53  spectral contrast mean, 7 values (6 octave sub-bands from 200 Hz + the rest; dB)
53:60  spectral contrast std
====== =========================================================================

Statistics are over the frames of the trimmed music region whose level is within 60 dB of the
loudest frame (silent frames would otherwise dominate the spread).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

from segue.listen.descriptor_spectrum import Spectrum

N_MFCC = 20
TIMBRE_LEN = 60
CONTRAST_FMIN = 200.0
CONTRAST_BANDS = 6
CONTRAST_QUANTILE = 0.02


@lru_cache(maxsize=4)
def _contrast_bands(sr: int, n_fft: int) -> tuple[tuple[int, int, int], ...]:
    """(first row, end row, k) per sub-band of librosa's ``spectral_contrast`` (0.10/0.11, with
    ``fmin``, ``n_bands``, ``quantile`` as above): octave bands from ``fmin``, each but the
    first extended one bin down, all but the last without their top bin, and k = the number of
    bins averaged for the peak and for the valley, rounded from the band size *before* the top
    bin is dropped, as librosa does."""
    freq = np.fft.rfftfreq(n_fft, 1.0 / sr)
    octa = np.zeros(CONTRAST_BANDS + 2)
    octa[1:] = CONTRAST_FMIN * (2.0 ** np.arange(0, CONTRAST_BANDS + 1))
    out = []
    for b, (f_low, f_high) in enumerate(zip(octa[:-1], octa[1:], strict=True)):
        idx = np.flatnonzero((freq >= f_low) & (freq <= f_high))
        lo = int(idx[0]) - (1 if b > 0 else 0)
        hi = len(freq) if b == CONTRAST_BANDS else int(idx[-1]) + 1
        k = max(int(np.rint(CONTRAST_QUANTILE * (hi - lo))), 1)
        out.append((lo, hi if b == CONTRAST_BANDS else hi - 1, k))
    return tuple(out)


def power_to_db(S: np.ndarray, amin: float = 1e-10, top_db: float = 80.0) -> np.ndarray:
    """``10 log10(max(S, amin))``, floored ``top_db`` below its maximum over the whole array:
    ``librosa.power_to_db(S)`` with its defaults (ref 1)."""
    db = 10.0 * np.log10(np.maximum(amin, S))
    return np.maximum(db, db.max() - top_db) if db.size else db


def spectral_contrast(S: np.ndarray, sr: int, n_fft: int) -> np.ndarray:
    """``librosa.feature.spectral_contrast(S=S, sr=sr, n_fft=n_fft, fmin=200, n_bands=6)`` of a
    magnitude spectrogram (bins, frames) -> (7, frames) dB, the same figures: librosa sorts
    every sub-band to average its k lowest and k highest bins; where k is 1 (the four lower
    bands at 22.05 kHz / 1024) that is the band's min and max, found without sorting."""
    valley = np.zeros((CONTRAST_BANDS + 1, S.shape[1]))
    peak = np.zeros_like(valley)
    for b, (lo, hi, k) in enumerate(_contrast_bands(sr, n_fft)):
        band = S[lo:hi]
        if k == 1:
            valley[b], peak[b] = band.min(axis=0), band.max(axis=0)
        else:
            ordered = np.sort(band, axis=0)
            valley[b] = np.mean(ordered[:k], axis=0)
            peak[b] = np.mean(ordered[-k:], axis=0)
    return power_to_db(peak) - power_to_db(valley)


def _cumsum_rows(P: np.ndarray) -> np.ndarray:
    """np.cumsum(P, axis=0), the same sums in the same order, but row by row: numpy's cumsum
    over axis 0 walks each column with a stride of a whole row, several times slower."""
    c = np.empty_like(P)
    if len(P):
        c[0] = P[0]
    for i in range(1, len(P)):
        np.add(c[i - 1], P[i], out=c[i])
    return c


def timbre_vector(spec: Spectrum, frames: slice | None = None) -> np.ndarray:
    P, S, L = spec.power, spec.magnitude, spec.mel_db
    if frames is not None:
        P, S, L = P[:, frames], S[:, frames], L[:, frames]
    if P.shape[1] == 0 or not np.any(P > 0):
        return np.zeros(TIMBRE_LEN, np.float32)
    e = P.sum(axis=0)
    keep = e > e.max() * 1e-6
    if not keep.all():  # selecting columns copies the whole spectrogram: only when needed
        P, S, L = P[:, keep], S[:, keep], L[:, keep]
    mfcc = scipy.fft.dct(L, type=2, axis=0, norm="ortho")[:N_MFCC]
    f = spec.freqs
    # float32 frequencies: a float64 vector would convert all of S to float64 first
    centroid = (f.astype(np.float32) @ S) / np.maximum(S.sum(axis=0), 1e-12) / 1000.0
    cum = _cumsum_rows(P)
    # cum is non-decreasing down each column, so the first bin reaching 85 % is the count of
    # bins below it
    roll_idx = np.count_nonzero(cum < 0.85 * cum[-1:], axis=0)
    rolloff = f[roll_idx] / 1000.0
    log_p = P + np.float32(1e-10)
    np.log(log_p, out=log_p)  # in place: one spectrogram-sized temporary, not two
    flat = np.exp(np.mean(log_p, axis=0)) / (np.mean(P, axis=0) + 1e-10)
    contrast = spectral_contrast(S, spec.sr, spec.n_fft)
    v = np.concatenate([
        mfcc.mean(axis=1), mfcc.std(axis=1),
        [centroid.mean(), centroid.std(), rolloff.mean(), rolloff.std(), flat.mean(), flat.std()],
        contrast.mean(axis=1), contrast.std(axis=1),
    ])
    v[~np.isfinite(v)] = 0.0
    return v.astype(np.float32)
