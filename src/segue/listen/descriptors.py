"""DSP descriptors: the facts a DJ uses (tempo and beat grid, key, loudness, where the music
starts and ends, how the intro and outro build) and the named feature vectors of segue's
mixtape ancestor (rp_extract's rhythm patterns, statistical spectrum descriptors and rhythm
histogram, plus a timbre vector).

Entry points::

    compute_descriptors(audio, sr) -> Descriptors
    feature_vectors(audio, sr)     -> {"rp": (1440,), "ssd": (168,), "rh": (60,), "timbre": (60,)}
    analyse(audio, sr)             -> (Descriptors, feature vectors)   # one STFT for both

``audio`` is float32 shaped (channels, samples), 1 or 2 channels, real sample values (not
normalised); the pipeline decodes to stereo at ``ANALYSIS_SR``. Loudness, true peak and the
silence trim use every channel at the given rate; rhythm, key and timbre use the channel mean,
resampled to ``ANALYSIS_SR`` if needed. Every spectral figure comes from one STFT (see
:mod:`segue.listen.descriptor_spectrum`); the key adds a small long-window transform of the decimated
signal (:mod:`segue.listen.key`) and the true peak a 4x oversampling (:mod:`segue.listen.loudness`).

Silence, clips shorter than a second, constant (DC) input and NaN samples never raise: the
fields that cannot be measured are NaN (``None`` in ``to_dict``) or empty, with confidence 0.
Methods and references are in each module's docstring: :mod:`~segue.listen.tempo`,
:mod:`~segue.listen.key`, :mod:`~segue.listen.loudness`, :mod:`~segue.listen.rhythm_patterns`,
:mod:`~segue.listen.timbre`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import signal

from segue.errors import UserError
from segue.listen import key as _key
from segue.listen import loudness as _loud
from segue.listen import rhythm_patterns as _rp
from segue.listen import tempo as _tempo
from segue.listen.descriptor_spectrum import ANALYSIS_SR, Spectrum, chroma_filterbank
from segue.listen.key import camelot_compatible, camelot_distance, parse_camelot_or_key
from segue.listen.timbre import TIMBRE_LEN, timbre_vector

__all__ = [
    "ANALYSIS_SR",
    "DESCRIPTOR_VERSION",
    "FEATURE_LENGTHS",
    "Descriptors",
    "analyse",
    "camelot_compatible",
    "camelot_distance",
    "compute_descriptors",
    "feature_vectors",
    "parse_camelot_or_key",
]

DESCRIPTOR_VERSION = "1"
FEATURE_LENGTHS = {"rp": _rp.RP_LEN, "ssd": _rp.SSD_LEN, "rh": _rp.RH_LEN, "timbre": TIMBRE_LEN}
REPLAYGAIN_REFERENCE_LUFS = -18.0  # ReplayGain 2.0 reference level
MIN_RHYTHM_S = 4.0  # below this much music, tempo/beats/key are not attempted

NAN = float("nan")


@dataclass
class Descriptors:
    """Per-track descriptors. Times in seconds from the start of the file; NaN = not measured.

    ``replaygain_db`` = -18 - ``loudness_lufs`` (ReplayGain 2.0: -18 LUFS reference).
    ``music_start``/``music_end``: first/last 10 ms block whose RMS is within 45 dB of the
    track's level (95th percentile of block RMS) and above -80 dBFS.
    ``intro_energy``/``outro_energy``: RMS in dBFS, 2 points per second (0.5 s windows) over the
    first/last 30 s of music (from ``music_start`` / up to ``music_end``), floored at -120.
    ``beats``/``downbeats`` lie within the music; ``downbeats`` assumes 4/4.
    """

    duration: float = NAN
    bpm: float = NAN
    bpm_confidence: float = 0.0
    beats: list[float] = field(default_factory=list)
    downbeats: list[float] = field(default_factory=list)
    key: str | None = None
    camelot: str | None = None
    key_confidence: float = 0.0
    loudness_lufs: float = NAN
    loudness_range_lu: float = NAN
    true_peak_dbtp: float = NAN
    replaygain_db: float = NAN
    music_start: float = NAN
    music_end: float = NAN
    intro_energy: list[float] = field(default_factory=list)
    outro_energy: list[float] = field(default_factory=list)
    version: str = DESCRIPTOR_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: floats, lists of floats, strings; NaN/inf become None."""

        def clean(v: Any) -> Any:
            if isinstance(v, (float, np.floating)):
                v = float(v)
                return v if math.isfinite(v) else None
            if isinstance(v, (list, tuple, np.ndarray)):
                return [clean(x) for x in v]
            if isinstance(v, np.integer):
                return int(v)
            return v

        return {f.name: clean(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Descriptors:
        """Inverse of :meth:`to_dict` (None -> NaN for numbers); unknown keys are ignored."""
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in d:
                continue
            v = d[f.name]
            default = getattr(cls(), f.name)
            if isinstance(default, float):
                v = NAN if v is None else float(v)
            elif isinstance(default, list):
                v = [NAN if x is None else float(x) for x in (v or [])]
            kwargs[f.name] = v
        return cls(**kwargs)


# ---------------------------------------------------------------------------------------------


def _prepare(audio: np.ndarray, sr: int) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[0] < 1:
        raise UserError(f"audio must be shaped (channels, samples), got {np.shape(audio)}")
    if not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise UserError(f"sample rate must be a positive integer, got {sr!r}")
    if not np.all(np.isfinite(a)):
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    return a


def _without_dc(a: np.ndarray) -> np.ndarray:
    """Per-channel mean removed: a DC offset is not sound (it would otherwise read as music in
    the trim and as a click at each end of the STFT)."""
    if a.shape[1] == 0:
        return a
    # the mean in float64, the subtraction in float32: no track-sized float64 temporary
    return a - a.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)


def _mono_at_analysis_rate(a: np.ndarray, sr: int) -> np.ndarray:
    mono = a.mean(axis=0)
    if sr != ANALYSIS_SR:
        g = math.gcd(int(sr), ANALYSIS_SR)
        mono = signal.resample_poly(mono, ANALYSIS_SR // g, int(sr) // g).astype(np.float32)
    return mono.astype(np.float32, copy=False)


def _beat_chroma_flux(spec: Spectrum, beats: np.ndarray) -> np.ndarray:
    """1 - cosine similarity of mean chroma between consecutive inter-beat spans."""
    fb = chroma_filterbank(spec.sr, spec.n_fft).copy()
    fb[:, spec.freqs < 80] = 0.0
    chroma = fb @ spec.magnitude
    idx = np.clip(np.round(beats * spec.fps).astype(int), 0, spec.n_frames)
    bounds = np.append(idx, spec.n_frames)
    c = np.stack([chroma[:, a:max(b, a + 1)].mean(axis=1) for a, b in zip(bounds[:-1], bounds[1:],
                                                                           strict=True)])
    c /= np.linalg.norm(c, axis=1, keepdims=True) + 1e-12
    flux = np.zeros(len(beats))
    flux[1:] = 1.0 - np.sum(c[1:] * c[:-1], axis=1)
    return flux


def _descriptors(a: np.ndarray, ac: np.ndarray, sr: int, spec: Spectrum,
                 bounds: tuple[float, float, float]) -> Descriptors:
    """``a``: the audio as given (loudness, true peak); ``ac``: without DC (everything else)."""
    d = Descriptors(duration=a.shape[1] / sr)
    # loudness family, on all channels at the native rate
    if a.shape[1] > 0:
        z = _loud.k_weighted(a, sr)
        d.loudness_lufs, d.loudness_range_lu = _loud.loudness_and_range(z, sr)
        d.true_peak_dbtp = _loud.true_peak_dbtp(a)
        if math.isfinite(d.loudness_lufs):
            d.replaygain_db = REPLAYGAIN_REFERENCE_LUFS - d.loudness_lufs
    start, end, _ = bounds
    d.music_start, d.music_end = start, end
    if not (math.isfinite(start) and math.isfinite(end)):
        return d
    span = _loud.ENERGY_SPAN_S
    d.intro_energy = _loud.energy_curve(ac, sr, start, min(end, start + span))
    d.outro_energy = _loud.energy_curve(ac, sr, max(start, end - span), end)
    if end - start < MIN_RHYTHM_S:
        return d

    # rhythm
    fps = spec.fps
    f0, f1 = int(start * fps), int(math.ceil(end * fps))
    env, low, body = _tempo.onset_envelopes(spec)
    for e in (env, low, body):
        e[:f0] = 0.0
        e[f1:] = 0.0
    bpm, ac = _tempo.estimate_tempo(env[f0:f1], fps)
    if math.isfinite(bpm):
        bpm = _tempo.metrical_level(body[f0:f1], fps, bpm)
        conf = _tempo.periodicity(ac, fps, bpm)
        beats = _tempo.track_beats(env, fps, bpm)
        beats = beats[(beats >= start - 0.05) & (beats <= end + 0.05)]
        if len(beats) >= 8:
            ibi = np.diff(beats)
            med = float(np.median(ibi))
            if abs(60.0 / med - bpm) / bpm < 0.04:
                # the tracked grid's own tempo (least squares over steady stretches)
                steady = np.abs(ibi - med) < 0.1 * med
                if steady.sum() >= 4:
                    bpm = 60.0 / float(np.mean(ibi[steady]))
            regular = float(np.mean(np.abs(ibi - med) < 0.05 * med))
            conf *= regular
            flux = _beat_chroma_flux(spec, beats)
            acc_low, acc_body = _tempo.accent_envelopes(spec)
            phase, _strength = _tempo.downbeat_phase(beats, [acc_low, acc_body], flux, fps)
            d.downbeats = [round(float(t), 4) for t in beats[phase::4]]
        d.beats = [round(float(t), 4) for t in beats]
        d.bpm = round(float(bpm), 2)
        d.bpm_confidence = round(float(np.clip(conf, 0.0, 1.0)), 3)

    # key, on the music only
    y = spec.y[int(start * spec.sr): int(end * spec.sr)]
    name, kconf = _key.estimate_key(y, spec.sr)
    if name is not None:
        pc_name, mode = name.split()
        d.key = name
        d.camelot = parse_camelot_or_key(f"{pc_name} {mode}")
        d.key_confidence = round(float(kconf), 3)
    return d


def _features(spec: Spectrum, bounds: tuple[float, float, float]) -> dict[str, np.ndarray]:
    feats = _rp.rhythm_features(spec)
    start, end, _ = bounds
    frames = None
    if math.isfinite(start) and math.isfinite(end):
        frames = slice(int(start * spec.fps), int(math.ceil(end * spec.fps)) + 1)
    feats["timbre"] = timbre_vector(spec, frames)
    for k, v in feats.items():
        assert v.shape == (FEATURE_LENGTHS[k],), (k, v.shape)
    return feats


def analyse(audio: np.ndarray, sr: int) -> tuple[Descriptors, dict[str, np.ndarray]]:
    """Descriptors and feature vectors from one pass (one STFT); prefer this in the pipeline."""
    a = _prepare(audio, sr)
    ac = _without_dc(a)
    spec = Spectrum(_mono_at_analysis_rate(ac, sr))
    bounds = _loud.music_bounds(ac, sr)
    return _descriptors(a, ac, sr, spec, bounds), _features(spec, bounds)


def compute_descriptors(audio: np.ndarray, sr: int) -> Descriptors:
    """DJ descriptors of ``audio`` (channels, samples) at ``sr``; see :class:`Descriptors`."""
    a = _prepare(audio, sr)
    ac = _without_dc(a)
    spec = Spectrum(_mono_at_analysis_rate(ac, sr))
    return _descriptors(a, ac, sr, spec, _loud.music_bounds(ac, sr))


def feature_vectors(audio: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """Named float32 vectors: ``rp`` 24 Bark bands x 60 modulation frequencies (1440, band-major),
    ``ssd`` 24 bands x 7 statistics (168, band-major: mean, var, skew, kurtosis, median, min,
    max), ``rh`` 60 modulation frequencies 0.168..10.1 Hz, ``timbre`` 60 (see
    :mod:`segue.listen.timbre`). Always finite; zeros for silence."""
    ac = _without_dc(_prepare(audio, sr))
    spec = Spectrum(_mono_at_analysis_rate(ac, sr))
    return _features(spec, _loud.music_bounds(ac, sr))
