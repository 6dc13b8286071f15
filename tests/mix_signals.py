"""Test tracks with known beats, downbeats, loudness and silence, and ways to measure a mix.

Each track has its own tones, so the mix can be taken apart by frequency: a tone burst on every
beat (``beat_hz``), a second tone on every downbeat (``down_hz``), a steady pad (``pad_hz``) and a
bass note below the bass-swap cutoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from scipy import signal

from segue.listen import loudness as _loud


@dataclass
class Truth:
    path: Path
    descriptors: dict
    lead: float  # seconds of silence before the music
    music: float  # seconds of music


def make_track(path: Path, *, bpm: float, seconds: float, beat_hz: float, down_hz: float,
               pad_hz: float, gain_db: float = 0.0, lead: float = 1.0, tail: float = 1.5,
               bass_hz: float = 55.0, sr: int = 44100, fade_out: float = 0.0) -> Truth:  # fmt: skip
    """Write a track (format from the extension) and return its true descriptors."""
    from audio_factory import write_audio

    n_music = int(round(seconds * sr))
    t = np.arange(n_music) / sr
    x = 0.10 * np.sin(2 * np.pi * pad_hz * t) + 0.12 * np.sin(2 * np.pi * bass_hz * t)
    burst_n = int(0.06 * sr)
    bt = np.arange(burst_n) / sr
    env = np.minimum(1.0, bt / 0.002) * np.exp(-bt / 0.015)
    beat = 0.5 * env * np.sin(2 * np.pi * beat_hz * bt)
    down = 0.5 * env * np.sin(2 * np.pi * down_hz * bt)
    period = 60.0 / bpm
    beats = np.arange(0.0, seconds - 0.1, period)
    for i, b in enumerate(beats):
        s = int(round(b * sr))
        e = min(n_music, s + burst_n)
        x[s:e] += beat[: e - s]
        if i % 4 == 0:
            x[s:e] += down[: e - s]
    if fade_out > 0:
        x *= np.clip((seconds - t) / fade_out, 0.0, 1.0) ** 2
    x *= 10 ** (gain_db / 20)
    lead_n, tail_n = int(round(lead * sr)), int(round(tail * sr))
    mono = np.concatenate([np.zeros(lead_n), x, np.zeros(tail_n)]).astype(np.float32)
    stereo = np.stack([mono, mono])
    write_audio(path, signal=stereo, sr=sr)
    z = _loud.k_weighted(stereo, sr)
    start, end = lead, lead + seconds
    span = _loud.ENERGY_SPAN_S
    d = {
        "duration": mono.size / sr,
        "music_start": start,
        "music_end": end,
        "bpm": bpm,
        "bpm_confidence": 0.9,
        "beats": [round(lead + b, 5) for b in beats],
        "downbeats": [round(lead + b, 5) for b in beats[::4]],
        "loudness_lufs": _loud.integrated_loudness(z, sr),
        "true_peak_dbtp": _loud.true_peak_dbtp(stereo),
        "intro_energy": _loud.energy_curve(stereo, sr, start, min(end, start + span)),
        "outro_energy": _loud.energy_curve(stereo, sr, max(start, end - span), end),
    }
    return Truth(path, d, lead, seconds)


LAYERS = ("beat", "down", "pad", "bass", "kick", "hat")


def make_sections(path: Path, *, bpm: float, sections: list[tuple[int, dict[str, float]]],
                  beat_hz: float, down_hz: float, pad_hz: float, bass_hz: float = 55.0,
                  hat_hz: float = 7000.0, lead: float = 1.0, tail: float = 1.5,
                  scale: float = 1.0, confidence: float = 0.9, sr: int = 44100) -> Truth:  # fmt: skip
    """A track built of sections, like a DJ tool: ``sections`` is a list of (bars, layers),
    ``layers`` the level (0..1) of each of :data:`LAYERS` in that section (missing: 0). The
    layers: tone bursts on every beat (``beat_hz``) and downbeat (``down_hz``), a steady pad,
    a steady bass note, a kick drum (a 45-110 Hz sweep, 120 ms) on every beat, a hi-hat tone
    between beats. Section changes ramp over 10 ms. ``scale`` multiplies the whole signal.
    Returns the true descriptors, with ``sections`` (start, end, layers) in file seconds."""
    from audio_factory import write_audio

    beat_s = 60.0 / bpm
    bars = sum(b for b, _ in sections)
    seconds = bars * 4 * beat_s
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    env = {name: np.zeros(n) for name in LAYERS}
    spans = []
    pos = 0.0
    for b, layers in sections:
        a, e = int(round(pos * sr)), int(round((pos + b * 4 * beat_s) * sr))
        for name in LAYERS:
            env[name][a:e] = layers.get(name, 0.0)
        spans.append((lead + pos, lead + pos + b * 4 * beat_s, dict(layers)))
        pos += b * 4 * beat_s
    k = int(0.01 * sr)
    for name in LAYERS:  # 10-ms ramps between sections
        env[name] = np.convolve(env[name], np.ones(k) / k, mode="same")
    x = env["pad"] * 0.10 * np.sin(2 * np.pi * pad_hz * t) + env["bass"] * 0.12 * np.sin(
        2 * np.pi * bass_hz * t)  # fmt: skip
    burst_n = int(0.06 * sr)
    bt = np.arange(burst_n) / sr
    burst_env = np.minimum(1.0, bt / 0.002) * np.exp(-bt / 0.015)
    kick_n = int(0.12 * sr)
    kt = np.arange(kick_n) / sr
    kick = np.exp(-kt / 0.04) * np.sin(2 * np.pi * (45 * kt + 65 * 0.01 * (1 - np.exp(-kt / 0.01))))
    for i, b in enumerate(np.arange(0.0, seconds - 0.1, beat_s)):
        s0 = int(round(b * sr))
        for name, shape, hz in (("beat", burst_env, beat_hz), ("down", burst_env, down_hz)):
            if name == "down" and i % 4:
                continue
            m = min(n, s0 + burst_n) - s0
            x[s0 : s0 + m] += env[name][s0] * 0.5 * shape[:m] * np.sin(2 * np.pi * hz * bt[:m])
        m = min(n, s0 + kick_n) - s0
        x[s0 : s0 + m] += env["kick"][s0] * 0.8 * kick[:m]
        h0 = int(round((b + beat_s / 2) * sr))
        m = max(0, min(n, h0 + burst_n) - h0)
        x[h0 : h0 + m] += env["hat"][min(h0, n - 1)] * 0.2 * burst_env[:m] * np.sin(
            2 * np.pi * hat_hz * bt[:m])  # fmt: skip
    x *= scale
    lead_n, tail_n = int(round(lead * sr)), int(round(tail * sr))
    mono = np.concatenate([np.zeros(lead_n), x, np.zeros(tail_n)]).astype(np.float32)
    stereo = np.stack([mono, mono])
    write_audio(path, signal=stereo, sr=sr)
    z = _loud.k_weighted(stereo, sr)
    start, end = lead, lead + seconds
    span = _loud.ENERGY_SPAN_S
    beats = np.arange(0.0, seconds - 0.1, beat_s)
    d = {
        "duration": mono.size / sr,
        "music_start": start,
        "music_end": end,
        "bpm": bpm,
        "bpm_confidence": confidence,
        "beats": [round(lead + b, 5) for b in beats] if confidence > 0 else [],
        "downbeats": [round(lead + b, 5) for b in beats[::4]] if confidence > 0 else [],
        "loudness_lufs": _loud.integrated_loudness(z, sr),
        "true_peak_dbtp": _loud.true_peak_dbtp(stereo),
        "intro_energy": _loud.energy_curve(stereo, sr, start, min(end, start + span)),
        "outro_energy": _loud.energy_curve(stereo, sr, max(start, end - span), end),
        "sections": spans,
    }
    return Truth(path, d, lead, seconds)


def read_mix(path: Path) -> tuple[np.ndarray, int]:
    """Decode a whole file with PyAV: float32 (channels, n), rate."""
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        rs = av.AudioResampler(format="fltp", layout=stream.layout.name, rate=rate)
        chunks = [g.to_ndarray() for f in c.decode(stream) for g in rs.resample(f)]
        chunks += [g.to_ndarray() for g in rs.resample(None)]
    return np.concatenate(chunks, axis=1).astype(np.float32), rate


def band_envelope(x: np.ndarray, rate: int, hz: float, width: float = 0.08) -> np.ndarray:
    """Amplitude envelope (1 ms smoothing) of the band around ``hz`` in the channel mean."""
    mono = x.mean(axis=0)
    sos = signal.butter(4, [hz * (1 - width), hz * (1 + width)], "bandpass", fs=rate, output="sos")
    y = np.abs(signal.sosfiltfilt(sos, mono))
    k = max(1, int(0.001 * rate))
    return np.convolve(y, np.ones(k) / k, mode="same")


def onsets(env: np.ndarray, rate: int, t0: float, t1: float, rel: float = 0.3) -> np.ndarray:
    """Times (s) where ``env`` rises through ``rel`` of its local maximum within [t0, t1)."""
    a, b = int(t0 * rate), int(t1 * rate)
    seg = env[a:b]
    thr = rel * float(seg.max())
    above = seg >= thr
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    out, last = [], -1e9
    for r in rises:
        if (r - last) / rate > 0.1:  # one onset per burst
            out.append((a + r) / rate)
            last = r
    return np.array(out)


def short_term_rms_db(x: np.ndarray, rate: int, win: float = 0.4, hop: float = 0.1) -> np.ndarray:
    """RMS in dBFS of ``win``-second windows every ``hop`` seconds."""
    ms = (x.astype(np.float64) ** 2).mean(axis=0)
    w, h = int(win * rate), int(hop * rate)
    c = np.concatenate([[0.0], np.cumsum(ms)])
    starts = np.arange(0, len(ms) - w, h)
    return 10 * np.log10((c[starts + w] - c[starts]) / w + 1e-20)
