"""Mel-spectrogram front ends of the listening models, in vectorised numpy (no librosa).

Two front ends, each pinned to what its model was trained/evaluated with:

* **MusiCNN** (musicnn 0.1.0, ``musicnn.extractor.batch_data``): 16 kHz mono, ``n_fft`` 512,
  hop 256, periodic Hann window, ``center=True`` with **reflect** padding (librosa < 0.10, the
  version musicnn was released with), power 2, 96 Slaney mel bands (0-8 kHz, Slaney area
  normalisation), then ``log10(10000 * float32(float16(mel)) + 1)``: the mel power is quantised
  to float16 as the training data was, but the product is taken in float32 (numpy 1.x
  semantics; under numpy 2 the original code overflows to +inf). Input patches are 187 frames
  (3 s) without overlap.
* **Deej-AI** audio encoder (HF ``teticio/audio-encoder``, ``AudioEncoder.encode``): 22.05 kHz
  mono, ``n_fft`` 2048, hop 512, 96 Slaney mel bands up to sr/2. The audio is cut into slices of
  ``216 * 512 - 1`` samples (216 frames each, trailing partial slice dropped; audio shorter than
  ``216 * 512`` samples is first padded with silence). Each slice gets its own
  ``center=True`` STFT with **zero** padding (librosa 0.10, which that code was locked to),
  ``power_to_db(ref=max of the slice, amin=1e-10, top_db=80)``, the uint8 image quantisation
  ``uint8(clip((db + 80) * 255 / 80, 0, 255) + 0.5)`` and ``/ 255``, giving values in [0, 1].
  We pin this one preprocessing (the HF encoder's own ``encode``) and not the Keras original's
  min-max scaling or the training script's fixed reference / [-1, 1] scaling.

All outputs are float32. The Slaney filterbank is built here and checked against librosa's
``librosa.filters.mel`` in the tests.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = [
    "MUSICNN_SR",
    "MUSICNN_N_FFT",
    "MUSICNN_HOP",
    "MUSICNN_N_MELS",
    "MUSICNN_PATCH_FRAMES",
    "DEEJAI_SR",
    "DEEJAI_N_FFT",
    "DEEJAI_HOP",
    "DEEJAI_N_MELS",
    "DEEJAI_SLICE_FRAMES",
    "DEEJAI_SLICE_SAMPLES",
    "DEEJAI_TOP_DB",
    "hann_periodic",
    "slaney_mel_frequencies",
    "slaney_mel_filterbank",
    "power_spectrogram",
    "musicnn_mel_power",
    "musicnn_logmel",
    "musicnn_patches",
    "deejai_slices",
]

# ---- constants (the one place they live) ------------------------------------------------------
MUSICNN_SR = 16000
MUSICNN_N_FFT = 512
MUSICNN_HOP = 256
MUSICNN_N_MELS = 96
MUSICNN_PATCH_FRAMES = 187  # librosa.time_to_frames(3 s) + 1
MUSICNN_PAD_MODE = "reflect"

DEEJAI_SR = 22050
DEEJAI_N_FFT = 2048
DEEJAI_HOP = 512
DEEJAI_N_MELS = 96
DEEJAI_SLICE_FRAMES = 216
DEEJAI_SLICE_SAMPLES = DEEJAI_SLICE_FRAMES * DEEJAI_HOP - 1  # 110 591: gives exactly 216 frames
DEEJAI_MIN_SAMPLES = DEEJAI_SLICE_FRAMES * DEEJAI_HOP  # shorter audio is padded to this
DEEJAI_TOP_DB = 80.0
DEEJAI_AMIN = 1e-10
DEEJAI_PAD_MODE = "constant"
_DEEJAI_CHUNK = 16  # slices per STFT batch (bounds memory on long tracks)
_STFT_CHUNK = 256  # frames per FFT batch in power_spectrogram


# ---- building blocks ------------------------------------------------------------------------
@lru_cache(maxsize=8)
def _hann_periodic64(n: int) -> np.ndarray:
    w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    w.setflags(write=False)
    return w


def hann_periodic(n: int) -> np.ndarray:
    """Periodic ("fftbins") Hann window of length ``n``, float32."""
    return _hann_periodic64(n).astype(np.float32)


# The Slaney mel scale: linear (200/3 Hz per mel) below 1 kHz, logarithmic above.
_SLANEY_F_SP = 200.0 / 3.0
_SLANEY_MIN_LOG_HZ = 1000.0
_SLANEY_MIN_LOG_MEL = _SLANEY_MIN_LOG_HZ / _SLANEY_F_SP
_SLANEY_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    f = np.asarray(f, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log = _SLANEY_MIN_LOG_MEL + np.log(np.maximum(f, 1e-300) / _SLANEY_MIN_LOG_HZ) / _SLANEY_LOGSTEP
    return np.where(f >= _SLANEY_MIN_LOG_HZ, log, f / _SLANEY_F_SP)


def _mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    log = _SLANEY_MIN_LOG_HZ * np.exp(_SLANEY_LOGSTEP * (m - _SLANEY_MIN_LOG_MEL))
    return np.where(m >= _SLANEY_MIN_LOG_MEL, log, _SLANEY_F_SP * m)


def slaney_mel_frequencies(n: int, fmin: float, fmax: float) -> np.ndarray:
    """``n`` frequencies (Hz, float64) equally spaced on the Slaney mel scale from ``fmin`` to
    ``fmax``: ``librosa.mel_frequencies(n, fmin=fmin, fmax=fmax)``. The filterbank's band edges;
    without the two ends, its band centres."""
    return _mel_to_hz_slaney(np.linspace(_hz_to_mel_slaney(fmin), _hz_to_mel_slaney(fmax), n))


@lru_cache(maxsize=8)
def slaney_mel_filterbank(
    sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Slaney-scale, Slaney-normalised triangular mel filterbank, ``(n_mels, n_fft//2 + 1)``.

    Same definition as ``librosa.filters.mel(htk=False, norm='slaney')``: band edges equally
    spaced on the Slaney mel scale (linear below 1 kHz, logarithmic above), triangles evaluated
    on the FFT bin frequencies, each scaled by ``2 / (upper edge - lower edge)``. Computed in
    float64, returned as read-only float32.
    """
    if fmax is None:
        fmax = sr / 2.0
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    hz_pts = slaney_mel_frequencies(n_mels + 2, fmin, fmax)
    fdiff = np.diff(hz_pts)
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (hz_pts[2:] - hz_pts[:-2]))[:, None]
    out = weights.astype(np.float32)
    out.setflags(write=False)
    return out


def power_spectrogram(
    wave: np.ndarray, n_fft: int, hop: int, pad_mode: str = "reflect"
) -> np.ndarray:
    """``|STFT|**2`` of a mono signal (centred frames, periodic Hann), ``(T, n_fft//2 + 1)``.

    ``wave`` may also be 2-D ``(batch, samples)``: every row gets its own padding and frames,
    giving ``(batch, T, n_fft//2 + 1)``. ``T = 1 + samples // hop``. Numerics follow librosa on
    float32 input: the float32 frames are windowed and transformed in float64, the spectrum is
    rounded to complex64 and the power is taken in float32. (A pure float32 FFT is as fast but
    its rounding noise, relative to each frame's energy, moves the quietest mel bins of the
    reference fixtures by up to 1e-3 relative; this path keeps every bin within 4e-5.)
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.shape[-1] == 0:
        raise ValueError("empty waveform")
    pad = [(0, 0)] * (wave.ndim - 1) + [(n_fft // 2, n_fft // 2)]
    padded = np.pad(wave, pad, mode=pad_mode)  # type: ignore[call-overload]
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[..., ::hop, :]
    n_frames = frames.shape[-2]
    out = np.empty(frames.shape[:-1] + (n_fft // 2 + 1,), np.float32)
    # batches of frames: the float64 frames and spectra of a batch stay in cache instead of
    # filling track-sized temporaries; every frame gets the same arithmetic either way
    for i in range(0, n_frames, _STFT_CHUNK):
        spec = np.fft.rfft(frames[..., i: i + _STFT_CHUNK, :] * _hann_periodic64(n_fft), axis=-1)
        spec = spec.astype(np.complex64)
        out[..., i: i + _STFT_CHUNK, :] = spec.real**2 + spec.imag**2
    return out


# ---- MusiCNN --------------------------------------------------------------------------------
def musicnn_mel_power(wave16k: np.ndarray) -> np.ndarray:
    """Mel power spectrogram ``(T, 96)`` float32 of 16 kHz mono audio, T = 1 + N // 256."""
    power = power_spectrogram(wave16k, MUSICNN_N_FFT, MUSICNN_HOP, MUSICNN_PAD_MODE)
    basis = slaney_mel_filterbank(MUSICNN_SR, MUSICNN_N_FFT, MUSICNN_N_MELS)
    return power @ basis.T


def _through_float16(x: np.ndarray) -> np.ndarray:
    """``x.astype(float16).astype(float32)`` for non-negative float32 ``x`` (mel power), bit for
    bit, without numpy's per-element conversion (about 2x slower on an AVX-512 CPU): round the float32
    mantissa to float16's 10 bits, to nearest with ties to even, on the bit pattern; below
    2**-14 (float16 subnormals) round to a multiple of 2**-24; above 65504 saturate to inf."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    bits = x.view(np.uint32)
    half_ulp = np.uint32(0xFFF) + ((bits >> np.uint32(13)) & np.uint32(1))
    out = ((bits + half_ulp) & np.uint32(0xFFFFE000)).view(np.float32)
    small = x < np.float32(2.0**-14)
    if small.any():
        out[small] = np.rint(x[small] * np.float32(2.0**24)) * np.float32(2.0**-24)
    out[out > np.float32(65504.0)] = np.inf
    return out


def musicnn_logmel(wave16k: np.ndarray) -> np.ndarray:
    """MusiCNN network input sequence ``(T, 96)`` float32 from 16 kHz mono audio.

    ``log10(10000 * float32(float16(mel_power)) + 1)``; see the module docstring.
    """
    quantised = _through_float16(musicnn_mel_power(wave16k))
    return np.log10(np.float32(10000.0) * quantised + np.float32(1.0))


def musicnn_patches(logmel: np.ndarray, hop: int = MUSICNN_PATCH_FRAMES) -> np.ndarray:
    """Cut a ``(T, 96)`` log-mel sequence into ``(P, 187, 96)`` float32 network patches.

    Patches start at 0, hop, 2*hop, ... and the last incomplete patch is dropped, exactly as
    ``musicnn.extractor`` does (hop 187 = no overlap, its default). The original crashes on
    clips shorter than 187 frames (~2.99 s); here such a clip gives ONE patch, filled by
    repeating the clip from its start (``"pad_short": "repeat-pad"``, what the shipped models'
    ``config.json`` says their training used) rather than by silence, which would drag the
    mean pooling towards an input the model never saw. Returns a fresh, writable array.
    """
    logmel = np.asarray(logmel, dtype=np.float32)
    if logmel.ndim != 2 or logmel.shape[1] != MUSICNN_N_MELS:
        raise ValueError(f"expected a (T, {MUSICNN_N_MELS}) log-mel array, got {logmel.shape}")
    if hop < 1:
        raise ValueError("hop must be >= 1")
    n = MUSICNN_PATCH_FRAMES
    if logmel.shape[0] == 0:
        raise ValueError("empty log-mel sequence")
    if logmel.shape[0] < n:
        return logmel[np.arange(n) % logmel.shape[0]][None]
    windows = np.lib.stride_tricks.sliding_window_view(logmel, n, axis=0)[::hop]
    # sliding_window_view puts the window axis last: (P, 96, 187) -> (P, 187, 96). With hop 187
    # that view is already C-contiguous (but read-only), so copy explicitly.
    return np.array(windows.transpose(0, 2, 1), order="C", copy=True)


# ---- Deej-AI --------------------------------------------------------------------------------
def deejai_slices(wave22k: np.ndarray) -> np.ndarray:
    """Deej-AI audio-encoder inputs ``(S, 96, 216)`` float32 in [0, 1] from 22.05 kHz mono audio.

    Axis 1 is the mel band (row 0 = lowest band), axis 2 is time. See the module docstring for
    the pinned preprocessing. Audio shorter than one slice gives one slice (silence-padded).
    """
    wave = np.asarray(wave22k, dtype=np.float32).reshape(-1)
    if wave.size < DEEJAI_MIN_SAMPLES:
        wave = np.pad(wave, (0, DEEJAI_MIN_SAMPLES - wave.size))
    n_slices = wave.size // DEEJAI_SLICE_SAMPLES
    slices = wave[: n_slices * DEEJAI_SLICE_SAMPLES].reshape(n_slices, DEEJAI_SLICE_SAMPLES)
    basis_t = slaney_mel_filterbank(DEEJAI_SR, DEEJAI_N_FFT, DEEJAI_N_MELS).T
    out = np.empty((n_slices, DEEJAI_N_MELS, DEEJAI_SLICE_FRAMES), dtype=np.float32)
    for start in range(0, n_slices, _DEEJAI_CHUNK):
        chunk = slices[start : start + _DEEJAI_CHUNK]
        power = power_spectrogram(chunk, DEEJAI_N_FFT, DEEJAI_HOP, DEEJAI_PAD_MODE)
        mel = power @ basis_t  # (c, 216, 96)
        db = 10.0 * np.log10(np.maximum(mel, DEEJAI_AMIN))
        ref = 10.0 * np.log10(np.maximum(mel.max(axis=(1, 2), keepdims=True), DEEJAI_AMIN))
        db -= ref
        db = np.maximum(db, db.max(axis=(1, 2), keepdims=True) - DEEJAI_TOP_DB)
        pixels = np.floor(np.clip((db + DEEJAI_TOP_DB) * (255.0 / DEEJAI_TOP_DB), 0, 255) + 0.5)
        out[start : start + len(chunk)] = pixels.transpose(0, 2, 1) / np.float32(255.0)
    return out
