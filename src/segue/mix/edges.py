"""How a track's beginning and end sound over time: its level and its bass, for the planner.

The stored descriptors carry the beat grid, loudness and a coarse energy curve over the first
and last 30 s; placing a transition like a DJ needs a little more: where the incoming track's
bass comes in (the bass swap goes there), where the outgoing track has a breakdown or a quiet
outro, and where phrases change (energy and bass jump on a downbeat). :func:`analyse_edges`
decodes the first and last :data:`EDGE_S` seconds of the music (the whole of it when the track
is short) at :data:`RATE` and measures, every :data:`HOP_S`:

* ``level``: the K-weighted (BS.1770) mean square of the channel mean, dB: a loudness proxy,
  so the planner can also tell how loud the part of a track that plays alone is against the
  whole track (:meth:`EdgeProfile.loudness`);
* ``bass``: RMS below :data:`BASS_HZ` (4th-order Butterworth low-pass), dBFS;
* ``peak``: the largest sample of either channel, dBFS: how often the track comes near its
  loudest peak (at 11 kHz the highest partials are missing, so the planner only uses these
  relative to their own maximum, anchored on the stored true peak).

At 11 kHz the K-weighting misses what lies above 5.5 kHz, so these levels are only compared
with each other, never with the stored loudness.

Frames outside the analysed spans are NaN. Decoding costs far more than the arithmetic; the
renderer runs the tracks' analyses on a small thread pool (FFmpeg decodes without the GIL).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
from scipy import signal

from segue.audio.stream import StreamReader
from segue.listen.loudness import k_weighting_sos

RATE = 11025
HOP_S = 0.05
EDGE_S = 64.0  # seconds analysed at each end of the music
BASS_HZ = 150.0
FLOOR_DB = -120.0
CHUNK_FRAMES = 160  # frames decoded at a time (8 s)


@dataclass
class EdgeProfile:
    """``level`` and ``bass`` (dBFS) every ``hop`` seconds from file time 0; NaN = not
    analysed."""

    level: np.ndarray
    bass: np.ndarray
    peak: np.ndarray | None = None
    hop: float = HOP_S

    def _frames(self, t0: float, t1: float) -> slice:
        a = max(0, int(math.floor(t0 / self.hop + 1e-9)))
        b = min(self.level.size, max(a, int(math.ceil(t1 / self.hop - 1e-9))))
        return slice(a, b)

    def mean_db(self, t0: float, t1: float, band: str = "level") -> float:
        """Power mean (dB) over [t0, t1) of the analysed frames; NaN if none."""
        v = (self.level if band == "level" else self.bass)[self._frames(t0, t1)]
        v = v[np.isfinite(v)]
        if v.size == 0:
            return float("nan")
        return float(10 * np.log10(np.mean(10 ** (v / 10)) + 1e-30))

    def analysed(self, t0: float, t1: float) -> bool:
        """Whether most of [t0, t1) was analysed."""
        v = self.level[self._frames(t0, t1)]
        return v.size > 0 and np.isfinite(v).mean() > 0.8

    def loudness(self, t0: float, t1: float) -> float:
        """Gated loudness proxy (dB) of [t0, t1): 400-ms blocks every 100 ms, BS.1770's -70
        absolute and -10 relative gates; NaN unless most of the stretch was analysed."""
        if t1 - t0 < 0.4 or not self.analysed(t0, t1):
            return float("nan")
        v = self.level[self._frames(t0, t1)]
        p = 10 ** (np.nan_to_num(v, nan=FLOOR_DB) / 10)
        k = int(round(0.4 / self.hop))
        c = np.concatenate([[0.0], np.cumsum(p)])
        blocks = ((c[k:] - c[:-k]) / k)[:: max(1, k // 4)]
        db = 10 * np.log10(blocks + 1e-30)
        blocks = blocks[db > -70.0]
        if blocks.size == 0:
            return float("nan")
        rel = 10 * np.log10(blocks.mean()) - 10.0
        blocks = blocks[10 * np.log10(blocks) > rel]
        return float(10 * np.log10(blocks.mean()))

    def peaks(self, t0: float, t1: float) -> np.ndarray:
        """Frame peaks (dBFS) analysed within [t0, t1)."""
        if self.peak is None:
            return np.zeros(0)
        v = self.peak[self._frames(t0, t1)]
        return v[np.isfinite(v)]

    def body(self, band: str = "level") -> float:
        """The track's full level in ``band``: the 90th percentile of analysed frames."""
        v = self.level if band == "level" else self.bass
        v = v[np.isfinite(v)]
        return float(np.percentile(v, 90)) if v.size else float("nan")

    def per_span(self, bounds: np.ndarray, band: str = "level") -> np.ndarray:
        """Power mean (dB) between consecutive ``bounds`` (e.g. downbeats); NaN where not
        analysed."""
        return np.array([self.mean_db(a, b, band) if self.analysed(a, b) else np.nan
                         for a, b in zip(bounds[:-1], bounds[1:], strict=True)])  # fmt: skip


def _spans(start: float, end: float) -> list[tuple[float, float]]:
    if end - start <= 2 * EDGE_S + 10.0:
        return [(start, end)]
    return [(start, start + EDGE_S), (end - EDGE_S, end)]


def analyse_edges(path: str | os.PathLike[str], start: float, end: float,
                  duration: float) -> EdgeProfile:  # fmt: skip
    """Level and bass every :data:`HOP_S` over the first and last :data:`EDGE_S` s of the music
    (``start``..``end``, file seconds). Raises :class:`~segue.errors.DecodeError`."""
    n_frames = int(math.ceil(max(duration, end) / HOP_S)) + 1
    level = np.full(n_frames, np.nan)
    bass = np.full(n_frames, np.nan)
    peak = np.full(n_frames, np.nan)
    hop = int(round(HOP_S * RATE))
    sos = signal.butter(4, BASS_HZ, "lowpass", fs=RATE, output="sos")
    k_sos = k_weighting_sos(RATE)
    for t0, t1 in _spans(start, end):
        f0 = int(math.floor(t0 / HOP_S))
        n = int(math.ceil((t1 - f0 * HOP_S) / HOP_S))
        if n <= 0:
            continue
        zi_k = np.zeros((k_sos.shape[0], 2))
        zi_b = np.zeros((sos.shape[0], 2))
        with StreamReader(path, RATE, f0 * HOP_S) as reader:
            for c0 in range(0, n, CHUNK_FRAMES):  # a few seconds at a time: memory stays small
                c = min(CHUNK_FRAMES, n - c0)
                stereo = reader.read(c * hop)
                x = stereo.mean(axis=0).astype(np.float64)
                kw, zi_k = signal.sosfilt(k_sos, x, zi=zi_k)
                low, zi_b = signal.sosfilt(sos, x, zi=zi_b)
                a, b = f0 + c0, min(n_frames, f0 + c0 + c)
                if b <= a:
                    break
                for arr, y in ((level, kw), (bass, low)):
                    ms = (y.reshape(c, hop) ** 2).mean(axis=1)
                    arr[a:b] = np.maximum(10 * np.log10(ms + 1e-30), FLOOR_DB)[: b - a]
                pk = np.abs(stereo).max(axis=0).reshape(c, hop).max(axis=1)
                peak[a:b] = np.maximum(20 * np.log10(pk + 1e-30), FLOOR_DB)[: b - a]
    return EdgeProfile(level, bass, peak)
