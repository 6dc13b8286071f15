"""The DJ's tools, streaming: a bass/rest band split, filter sweeps, an echo of the last beat.

Each keeps its filter state from block to block, so a transition spread over many render
blocks sounds as one continuous move.

:class:`BandSplit`
    ``high = highpass(x)`` (4th-order Butterworth) and ``low = x - high``: the two always add
    up to ``x`` exactly, so wherever both bands get the same gain the split is inaudible (and
    the filter's start-up transient cancels out).
:class:`Sweep`
    A 2nd-order Butterworth low- or high-pass whose cutoff moves logarithmically between two
    frequencies, recomputed every :data:`SWEEP_STEP` samples (12 ms at 44.1 kHz: far below the
    rate at which a sweep is heard to step). The first :data:`SWEEP_FADE_S` seconds cross from
    the dry signal to the filtered one, hiding the filter's start from silence.
:func:`echo_tail`
    The last beat of the outgoing track (thinned below 200 Hz so it does not muddy the incoming
    bass, with 5-ms edges) repeated once per beat, each repeat ``feedback`` times the one
    before, the last beat fading to nothing: a tempo-synced echo-out.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

SWEEP_STEP = 512
SWEEP_FADE_S = 0.05
ECHO_FEEDBACK = 0.5
ECHO_HIGHPASS_HZ = 200.0
EDGE_S = 0.005


class BandSplit:
    """Streaming split of stereo audio at ``cutoff`` Hz into (low, high), low + high == x."""

    def __init__(self, cutoff: float, rate: int) -> None:
        self.sos = signal.butter(4, cutoff, "highpass", fs=rate, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 2, 2))

    def split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        high, self.zi = signal.sosfilt(self.sos, x, axis=1, zi=self.zi)
        high = high.astype(np.float32)
        return x - high, high


class Sweep:
    """A low- or high-pass (``kind`` "lowpass"/"highpass") whose cutoff goes from ``f0`` to
    ``f1`` (log scale) as the position ``u`` goes from 0 to 1."""

    def __init__(self, kind: str, f0: float, f1: float, rate: int) -> None:
        self.kind, self.f0, self.f1, self.rate = kind, f0, f1, rate
        self.zi = np.zeros((1, 2, 2))
        self.done = 0  # samples filtered so far
        self.fade = max(1, int(SWEEP_FADE_S * rate))

    def process(self, x: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Filter ``x`` (2, n) whose samples sit at positions ``u`` (n,) of the sweep."""
        out = np.empty_like(x)
        nyq = 0.45 * self.rate
        for i in range(0, x.shape[1], SWEEP_STEP):
            j = min(x.shape[1], i + SWEEP_STEP)
            uc = float(np.clip(u[(i + j) // 2], 0.0, 1.0))
            fc = min(self.f0 * (self.f1 / self.f0) ** uc, nyq)
            sos = signal.butter(2, fc, self.kind, fs=self.rate, output="sos")
            out[:, i:j], self.zi = signal.sosfilt(sos, x[:, i:j], axis=1, zi=self.zi)
        if self.done < self.fade:  # from dry to filtered over the first SWEEP_FADE_S
            w = np.clip((self.done + np.arange(x.shape[1])) / self.fade, 0.0, 1.0)
            out = x + (out - x) * w.astype(np.float32)
        self.done += x.shape[1]
        return out.astype(np.float32)


def echo_snippet(last_beat: np.ndarray, rate: int) -> np.ndarray:
    """The outgoing track's last beat made ready to repeat (thinned, soft edges)."""
    sos = signal.butter(2, ECHO_HIGHPASS_HZ, "highpass", fs=rate, output="sos")
    s = signal.sosfiltfilt(sos, last_beat.astype(np.float64), axis=1) if last_beat.shape[1] > 30 \
        else last_beat.astype(np.float64)  # fmt: skip
    edge = min(s.shape[1] // 2, max(1, int(EDGE_S * rate)))
    ramp = np.linspace(0.0, 1.0, edge)
    s[:, :edge] *= ramp
    s[:, s.shape[1] - edge :] *= ramp[::-1]
    return s.astype(np.float32)


def echo_tail(snippet: np.ndarray, offset: np.ndarray, tail: int,
              feedback: float = ECHO_FEEDBACK) -> np.ndarray:  # fmt: skip
    """Echo samples at ``offset`` (samples after the dry end, each in [0, tail)): repeat ``r``
    (1, 2, ...) of the snippet plays at ``(r - 1) * len(snippet)``, ``feedback ** r`` loud."""
    d = snippet.shape[1]
    if d == 0:
        return np.zeros((2, offset.size), np.float32)
    r = offset // d + 1
    level = feedback**r * np.clip((tail - offset) / d, 0.0, 1.0)  # the last beat fades out
    return snippet[:, offset % d] * level.astype(np.float32)
