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

import numpy as np
import scipy.fft

from segue.listen.spectral import Spectrum

N_MFCC = 20
TIMBRE_LEN = 60


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
    import librosa

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
    flat = np.exp(np.mean(np.log(P + 1e-10), axis=0)) / (np.mean(P, axis=0) + 1e-10)
    # librosa sorts each sub-band: numpy's vectorised sort beats np.partition here
    contrast = librosa.feature.spectral_contrast(S=S, sr=spec.sr, n_fft=spec.n_fft, fmin=200.0,
                                                 n_bands=6)
    v = np.concatenate([
        mfcc.mean(axis=1), mfcc.std(axis=1),
        [centroid.mean(), centroid.std(), rolloff.mean(), rolloff.std(), flat.mean(), flat.std()],
        contrast.mean(axis=1), contrast.std(axis=1),
    ])
    v[~np.isfinite(v)] = 0.0
    return v.astype(np.float32)
