"""Synthetic audio with known ground truth, for the descriptor accuracy tests and bench.

Everything is deterministic given the ``seed`` argument, float32, shaped (channels, samples) like
the pipeline's decoded audio. Shared by ``tests/test_descriptors*.py`` and ``bench/descriptors.py``
(which puts this folder on ``sys.path``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import signal

SR = 22050

# ---------------------------------------------------------------------------------------------
# Drums


def _env(n: int, sr: int, decay_s: float) -> np.ndarray:
    t = np.arange(n) / sr
    return np.exp(-t / decay_s)


def kick(sr: int = SR) -> np.ndarray:
    n = int(0.35 * sr)
    t = np.arange(n) / sr
    f = 50 + 100 * np.exp(-t / 0.03)  # pitch sweep 150 -> 50 Hz
    phase = 2 * np.pi * np.cumsum(f) / sr
    return (np.sin(phase) * _env(n, sr, 0.12)).astype(np.float32)


def snare(sr: int = SR, rng: np.random.Generator | None = None) -> np.ndarray:
    rng = rng or np.random.default_rng(1)
    n = int(0.25 * sr)
    t = np.arange(n) / sr
    noise = rng.standard_normal(n)
    b, a = signal.butter(2, [1000 / (sr / 2), 8000 / (sr / 2)], "bandpass")
    body = np.sin(2 * np.pi * 185 * t) * _env(n, sr, 0.04)
    return (0.6 * signal.lfilter(b, a, noise) * _env(n, sr, 0.06) + 0.5 * body).astype(np.float32)


def hat(sr: int = SR, rng: np.random.Generator | None = None, open_: bool = False) -> np.ndarray:
    rng = rng or np.random.default_rng(2)
    n = int((0.2 if open_ else 0.06) * sr)
    b, a = signal.butter(4, 7000 / (sr / 2), "highpass")
    noise = signal.lfilter(b, a, rng.standard_normal(n))
    return (0.35 * noise * _env(n, sr, 0.08 if open_ else 0.015)).astype(np.float32)


def click(sr: int = SR, freq: float = 1000.0) -> np.ndarray:
    n = int(0.03 * sr)
    t = np.arange(n) / sr
    return (np.sin(2 * np.pi * freq * t) * _env(n, sr, 0.006)).astype(np.float32)


def _place(out: np.ndarray, sound: np.ndarray, t: float, sr: int, gain: float = 1.0) -> None:
    i = int(round(t * sr))
    if i >= out.shape[-1] or i < 0:
        return
    j = min(out.shape[-1], i + len(sound))
    out[i:j] += gain * sound[: j - i]


# Patterns on a 16-step (sixteenth-note) grid: step -> gain. Beat k of the bar is step 4k.
PATTERNS: dict[str, dict[str, dict[int, float]]] = {
    # house: kick every beat, clap on 2 and 4, open-ish hat on the off-beats
    "four": {"kick": {0: 1, 4: 1, 8: 1, 12: 1}, "snare": {4: 0.8, 12: 0.8},
             "hat": {2: 0.7, 6: 0.7, 10: 0.7, 14: 0.7}},
    # rock: kick 1, 3, 3-and; snare 2, 4; closed hats on eighths
    "rock": {"kick": {0: 1, 8: 1, 10: 0.7}, "snare": {4: 1, 12: 1},
             "hat": {s: 0.6 for s in range(0, 16, 2)}},
    # half-time feel: kick on 1, snare on 3, eighth hats (notated tempo is the truth)
    "halftime": {"kick": {0: 1, 3: 0.5, 10: 0.6}, "snare": {8: 1},
                 "hat": {s: 0.6 for s in range(0, 16, 2)}},
    # funk/breakbeat: syncopated kick, sixteenth hats
    "break": {"kick": {0: 1, 6: 0.8, 10: 0.9}, "snare": {4: 1, 12: 1, 15: 0.4},
              "hat": {s: (0.6 if s % 2 == 0 else 0.3) for s in range(16)}},
}


@dataclass
class Loop:
    audio: np.ndarray
    bpm: float
    beats: np.ndarray
    downbeats: np.ndarray
    style: str
    meta: dict = field(default_factory=dict)


def drum_loop(bpm: float, style: str = "rock", seconds: float = 30.0, swing: float = 0.0,
              sr: int = SR, seed: int = 0, jitter_ms: float = 3.0, bass: bool = True,
              lead_in: float = 0.0) -> Loop:
    """A drum loop at ``bpm`` (quarter notes), 4/4, with ground-truth beats and downbeats.

    ``swing`` (0..1/3) delays every off-beat eighth by ``swing`` of a beat (1/6 ~ 2:1 triplet swing
    is ``1/6``; here 0.33 means the off-beat lands at 2/3 of the beat + a bit). ``bass`` adds a
    synth bass note on every bar with a root that changes each bar (bar-level harmonic cue).
    ``style="click"`` is a metronome with an accented downbeat.
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    beat = 60.0 / bpm
    bar = 4 * beat
    first = lead_in + rng.uniform(0.05, 0.4)  # first downbeat
    kicks, snares, hats = kick(sr), snare(sr, rng), hat(sr, rng)
    beats, downbeats = [], []
    t_bar = first
    bar_i = 0
    roots = [0, 5, 7, 3]  # semitones above A1
    while t_bar < seconds:
        downbeats.append(t_bar)
        for k in range(4):
            beats.append(t_bar + k * beat)
        if style == "click":
            for k in range(4):
                _place(out, click(sr, 1500.0 if k == 0 else 1000.0), t_bar + k * beat, sr,
                       1.0 if k == 0 else 0.6)
        else:
            pat = PATTERNS[style]
            for name, sound in (("kick", kicks), ("snare", snares), ("hat", hats)):
                for step, gain in pat[name].items():
                    t = t_bar + step * beat / 4
                    if step % 4 == 2:  # off-beat eighth: swing it
                        t += swing * beat
                    t += rng.normal(0, jitter_ms / 1000)
                    _place(out, sound, t, sr, gain * rng.uniform(0.85, 1.0))
            if bass:
                f0 = 55.0 * 2 ** (roots[bar_i % 4] / 12)
                nb = int(min(bar, 2.0) * sr * 0.9)
                tt = np.arange(nb) / sr
                tone = sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in (1, 2, 3))
                _place(out, (0.25 * tone * _env(nb, sr, 0.8)).astype(np.float32), t_bar, sr)
        t_bar += bar
        bar_i += 1
    beats_a = np.array([b for b in beats if b < seconds - 0.05])
    down_a = np.array([d for d in downbeats if d < seconds - 0.05])
    out *= 0.5 / max(1e-9, float(np.max(np.abs(out))))
    stereo = np.stack([out, out]).astype(np.float32)
    return Loop(stereo, float(bpm), beats_a, down_a, style, {"swing": swing})


def tempo_suite(n_per_style: int, seconds: float = 30.0, seed: int = 0,
                styles: tuple[str, ...] = ("four", "rock", "halftime", "break", "click", "swing"),
                lo: float = 60.0, hi: float = 180.0) -> list[Loop]:
    """Loops at tempos spread over [lo, hi], ``n_per_style`` per style (``swing`` = swung rock)."""
    rng = np.random.default_rng(seed)
    loops = []
    for si, style in enumerate(styles):
        # stratified tempos so every style covers the range
        edges = np.linspace(lo, hi, n_per_style + 1)
        for i in range(n_per_style):
            bpm = float(np.round(rng.uniform(edges[i], edges[i + 1]), 1))
            real = "rock" if style == "swing" else style
            sw = 1 / 6 if style == "swing" else 0.0
            loop = drum_loop(bpm, real, seconds, swing=sw, seed=seed * 1000 + si * 100 + i)
            loop.style = style
            loops.append(loop)
    return loops


# ---------------------------------------------------------------------------------------------
# Tonal material

MAJOR = [0, 2, 4, 5, 7, 9, 11]
NAT_MINOR = [0, 2, 3, 5, 7, 8, 10]
PC_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"]


@lru_cache(maxsize=512)
def tone(freq: float, dur: float, sr: int = SR, n_harm: int = 8, decay: float = 1.0,
         rolloff: float = 1.0) -> np.ndarray:
    """Additive harmonic tone (partials 1..n_harm at 1/k**rolloff), short attack, exp decay.
    Cached (read-only result): progressions repeat their chords."""
    n = int(dur * sr)
    t = np.arange(n) / sr
    y = np.zeros(n)
    for k in range(1, n_harm + 1):
        if freq * k < sr / 2 - 500:
            y += np.sin(2 * np.pi * freq * k * t) / k**rolloff
    att = np.minimum(1.0, t / 0.01)
    rel = np.minimum(1.0, (dur - t) / 0.05).clip(0)
    out = (y * att * rel * np.exp(-t / decay)).astype(np.float32)
    out.flags.writeable = False
    return out


def _midi_hz(m: float, cents: float = 0.0) -> float:
    return 440.0 * 2 ** ((m - 69 + cents / 100) / 12)


def key_piece(tonic_pc: int, mode: str, seconds: float = 20.0, sr: int = SR, seed: int = 0,
              kind: str = "chords", cents: float = 0.0) -> np.ndarray:
    """A chord progression (``kind="chords"``) or melody + bass (``"melody"``) in a key.

    Major progressions: I-IV-V-I, I-vi-IV-V, I-V-vi-IV. Minor: i-iv-V-i, i-VI-iv-V, i-VII-VI-V
    (the dominant V is major, from the harmonic minor). Every minor progression has that
    leading-tone V: purely natural-minor loops such as i-VI-III-VII are the relative major's
    vi-IV-I-V and their key is ambiguous by ear, so they make no ground truth. Chord tones in close
    position around middle C, root in the bass, additive harmonic tones.
    """
    rng = np.random.default_rng(seed)
    scale = MAJOR if mode == "major" else NAT_MINOR
    if mode == "major":
        progs = [[1, 4, 5, 1], [1, 6, 4, 5], [1, 5, 6, 4]]
    else:
        progs = [[1, 4, "V", 1], [1, 6, 4, "V"], [1, 7, 6, "V"]]
    prog = progs[int(rng.integers(len(progs)))]
    base = 48 + tonic_pc  # C3..B3 for the chord roots
    n = int(seconds * sr)
    out = np.zeros(n, np.float32)
    chord_dur = float(rng.uniform(1.2, 2.2))
    t = 0.0
    ci = 0
    while t < seconds - 0.3:
        degree = prog[ci % len(prog)]
        if degree == "V":  # harmonic-minor dominant: major triad on the fifth
            root = base + 7
            notes = [root, root + 4, root + 7]
        else:
            d = int(degree) - 1
            notes = [base + scale[(d + j) % 7] + 12 * ((d + j) // 7) for j in (0, 2, 4)]
        dur = min(chord_dur, seconds - t)
        if kind == "chords":
            for m in notes:
                _place(out, 0.3 * tone(_midi_hz(m + 12, cents), dur, sr, decay=2.0), t, sr)
            _place(out, 0.4 * tone(_midi_hz(notes[0] - 12, cents), dur, sr, decay=2.0), t, sr)
        else:  # melody over a bass line
            _place(out, 0.4 * tone(_midi_hz(notes[0] - 12, cents), dur, sr, decay=1.5), t, sr)
            n_notes = int(rng.integers(3, 6))
            step = dur / n_notes
            for k in range(n_notes):
                # chord tones on strong beats, scale tones otherwise
                if k == 0:
                    m = notes[int(rng.integers(3))] + 24
                else:
                    m = base + 24 + scale[int(rng.integers(7))]
                _place(out, 0.35 * tone(_midi_hz(m, cents), step, sr, decay=0.6), t + k * step, sr)
        t += chord_dur
        ci += 1
    # end on the tonic chord
    out *= 0.5 / max(1e-9, float(np.max(np.abs(out))))
    return np.stack([out, out]).astype(np.float32)


def key_suite(seconds: float = 20.0, kinds: tuple[str, ...] = ("chords", "melody"),
              seed: int = 0, cents_sd: float = 0.0) -> list[tuple[np.ndarray, int, str, str]]:
    """All 24 keys x ``kinds``: (audio, tonic_pc, mode, kind)."""
    rng = np.random.default_rng(seed)
    items = []
    for kind in kinds:
        for mode in ("major", "minor"):
            for pc in range(12):
                cents = float(rng.normal(0, cents_sd)) if cents_sd else 0.0
                audio = key_piece(pc, mode, seconds, seed=int(rng.integers(1 << 30)),
                                  kind=kind, cents=cents)
                items.append((audio, pc, mode, kind))
    return items


# ---------------------------------------------------------------------------------------------
# Level-calibrated signals


def pink_noise(seconds: float, sr: int = SR, seed: int = 0, channels: int = 2) -> np.ndarray:
    """Pink (1/f power) noise from 20 Hz up, by spectral shaping of white noise, unit RMS per
    channel."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    out = []
    for _ in range(channels):
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sr)
        f[0] = f[1]
        spec /= np.sqrt(f)
        spec[f < 20.0] = 0.0
        x = np.fft.irfft(spec, n)
        out.append(x / np.sqrt(np.mean(x**2)))
    return np.stack(out).astype(np.float32)


def sine(freq: float, seconds: float, amp: float, sr: int = SR, channels: int = 2,
         phase: float = 0.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = amp * np.sin(2 * np.pi * freq * t + phase)
    return np.tile(x, (channels, 1)).astype(np.float32)


def tech3342_case(levels_db: list[float], seg_s: float = 20.0, sr: int = SR) -> np.ndarray:
    """EBU Tech 3342 LRA test signals: 1 kHz stereo sine, segments at the given dBFS levels."""
    return np.concatenate([sine(1000.0, seg_s, 10 ** (db / 20), sr) for db in levels_db], axis=1)


def with_silence(audio: np.ndarray, lead_s: float, tail_s: float, sr: int = SR,
                 floor_db: float | None = -90.0, seed: int = 0) -> np.ndarray:
    """Pad with leading/trailing 'silence' (a low noise floor at ``floor_db`` dBFS RMS, or digital
    zero when ``floor_db`` is None)."""
    c = audio.shape[0]
    lead = np.zeros((c, int(lead_s * sr)), np.float32)
    tail = np.zeros((c, int(tail_s * sr)), np.float32)
    out = np.concatenate([lead, audio, tail], axis=1)
    if floor_db is not None:
        rng = np.random.default_rng(seed)
        out = out + (10 ** (floor_db / 20) * rng.standard_normal(out.shape)).astype(np.float32)
    return out.astype(np.float32)


def golden_piece() -> np.ndarray:
    """20 s of drums (124 bpm) and an A-minor progression with near-silent edges, stereo: the
    fixed input of the descriptor golden test (tests/test_descriptors_golden.py)."""
    drums = drum_loop(124.0, seconds=20.0, seed=3).audio
    keys = key_piece(9, "minor", seconds=20.0, seed=3)
    drums = drums if drums.ndim == 1 else drums.mean(axis=0)
    keys = keys if keys.ndim == 1 else keys.mean(axis=0)
    n = min(len(drums), len(keys))
    mix = 0.6 * drums[:n] + 0.4 * keys[:n]
    stereo = np.stack([mix, 0.9 * mix + 0.02 * np.roll(mix, 7)]).astype(np.float32)
    return with_silence(stereo, 1.0, 1.5)
