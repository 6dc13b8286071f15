"""The one short-time spectrum every spectral descriptor is computed from.

One STFT per track: Hann window of ``N_FFT`` = 1024 samples (46 ms) with hop ``HOP`` = 256
(11.6 ms, 86.13 frames/s) at ``ANALYSIS_SR`` = 22050 Hz, centred frames (frame ``t`` is centred
on sample ``t * HOP``; the signal is zero-padded by ``N_FFT // 2`` at both ends).

The hop equals rp_extract's at 22050 Hz (512-sample window, 50 % overlap), so the rhythm-pattern
modulation spectrum has rp_extract's 0.168 Hz resolution; the onset envelope, the mel/MFCC
timbre features, the Bark-band sonogram and the spectral shape statistics all come from this
power spectrogram. Only the key uses a different transform (a long-window spectrum of the
signal decimated to 5.5 kHz, see :mod:`segue.listen.key`), because a 46 ms window cannot resolve
semitones below ~400 Hz.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
import scipy.fft

from segue.audio.model_frontends import slaney_mel_filterbank, slaney_mel_frequencies

ANALYSIS_SR = 22050
N_FFT = 1024
HOP = 256
N_MELS = 64


_STFT_CHUNK = 256  # frames per FFT batch: the windowed frames and spectra stay in cache


def stft_power(y: np.ndarray, n_fft: int = N_FFT, hop: int = HOP) -> np.ndarray:
    """Power spectrogram |X|^2, shape (n_fft // 2 + 1, frames), float32, centred frames.

    Computed in batches of frames written straight into the (bins, frames) result: the same
    per-frame arithmetic as one big transform, without track-sized temporaries."""
    y = np.asarray(y, dtype=np.float32)
    pad = n_fft // 2
    yp = np.pad(y, (pad, pad))
    n_frames = 1 + (len(yp) - n_fft) // hop if len(yp) >= n_fft else 0
    if n_frames <= 0:
        return np.zeros((n_fft // 2 + 1, 0), np.float32)
    frames = np.lib.stride_tricks.as_strided(
        yp, shape=(n_frames, n_fft), strides=(yp.strides[0] * hop, yp.strides[0]), writeable=False
    )
    win = np.hanning(n_fft + 1)[:-1].astype(np.float32)  # periodic Hann
    out = np.empty((n_fft // 2 + 1, n_frames), np.float32)
    for i in range(0, n_frames, _STFT_CHUNK):
        spec = scipy.fft.rfft(frames[i: i + _STFT_CHUNK] * win, axis=1)
        out[:, i: i + _STFT_CHUNK] = (spec.real**2 + spec.imag**2).T
    return out


@lru_cache(maxsize=4)
def chroma_filterbank(sr: int, n_fft: int) -> np.ndarray:
    """Chroma filterbank (12 pitch classes from C, bins), float32, read-only: the one of
    ``librosa.filters.chroma(sr=sr, n_fft=n_fft, tuning=0.0)`` (Ellis's chromagram weights).

    Each FFT bin spreads over the pitch classes as a Gaussian in semitones around its own pitch,
    ``sigma`` half a bin's width in semitones (at least half a semitone); columns are
    l2-normalised, then weighted by a Gaussian over octaves centred five octaves above A0
    (880 Hz), two octaves wide. The 0 Hz bin is given a pitch 1.5 octaves below the first bin's."""
    n_chroma = 12
    freqs = np.linspace(0, sr, n_fft, endpoint=False)[1:]
    # pitch in semitones above A0 (A440 / 16)
    bins = n_chroma * np.log2(freqs / (440.0 / 16))
    bins = np.concatenate(([bins[0] - 1.5 * n_chroma], bins))
    width = np.concatenate((np.maximum(bins[1:] - bins[:-1], 1.0), [1]))
    d = np.subtract.outer(bins, np.arange(0, n_chroma, dtype="d")).T
    half = np.round(float(n_chroma) / 2)
    d = np.remainder(d + half + 10 * n_chroma, n_chroma) - half  # -6..6 semitones
    w = np.exp(-0.5 * (2 * d / np.tile(width, (n_chroma, 1))) ** 2)
    w = w / np.sum(np.abs(w) ** 2, axis=0, keepdims=True) ** 0.5
    w *= np.tile(np.exp(-0.5 * (((bins / n_chroma - 5.0) / 2) ** 2)), (n_chroma, 1))
    w = np.roll(w, -3, axis=0)  # rows from A to rows from C
    out = np.ascontiguousarray(w[:, : 1 + n_fft // 2], dtype=np.float32)
    out.setflags(write=False)
    return out


@dataclass
class Spectrum:
    """Mono signal at ``sr`` and its power spectrogram, with derived views computed once."""

    y: np.ndarray
    sr: int = ANALYSIS_SR
    n_fft: int = N_FFT
    hop: int = HOP

    @cached_property
    def power(self) -> np.ndarray:
        return stft_power(self.y, self.n_fft, self.hop)

    @cached_property
    def magnitude(self) -> np.ndarray:
        """|X|, shared by the timbre features and the beat chroma."""
        return np.sqrt(self.power)

    @property
    def n_frames(self) -> int:
        return self.power.shape[1]

    @property
    def fps(self) -> float:
        return self.sr / self.hop

    @cached_property
    def freqs(self) -> np.ndarray:
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sr)

    @cached_property
    def mel_basis(self) -> np.ndarray:
        """Slaney mel filterbank (N_MELS, bins), 30 Hz to sr / 2, float32."""
        return slaney_mel_filterbank(self.sr, self.n_fft, N_MELS, 30.0, self.sr / 2)

    @cached_property
    def mel(self) -> np.ndarray:
        """Mel power spectrogram (N_MELS, frames)."""
        # each triangle covers a few bins (~1000 weights of 64 x 513): a sparse product skips the
        # zeros a dense one multiplies, 3-4x faster, the same sums up to float32 rounding
        import scipy.sparse

        return scipy.sparse.csr_array(self.mel_basis) @ self.power

    @cached_property
    def mel_db(self) -> np.ndarray:
        """Log-mel in dB, floored 80 dB below the track's maximum (librosa's convention)."""
        m = 10.0 * np.log10(np.maximum(self.mel, 1e-10))
        top = float(m.max()) if m.size else 0.0
        return np.maximum(m, top - 80.0)

    @cached_property
    def mel_freqs(self) -> np.ndarray:
        """Centre frequency (Hz) of each mel band."""
        return slaney_mel_frequencies(N_MELS + 2, 30.0, self.sr / 2)[1:-1]
