"""A streaming look-ahead true-peak limiter.

Method (all vectorised per block; no per-sample Python):

1. Peak per sample: the larger of |x| and the 4x-oversampled neighbours around it (a polyphase
   windowed-sinc interpolator, as BS.1770-4 Annex 2 measures true peak), max over channels.
   Each in-between value is charged to both samples it lies between.
2. Required gain ``g_req = min(1, ceiling / peak)``.
3. ``g1[n] = min(g_req[n - hold .. n + lookahead])`` (scipy's minimum filter): a gain reduction
   starts ``lookahead`` samples before the peak and holds ``hold`` samples after it.
4. ``g[n] = mean(g1[n - lookahead + 1 .. n])``: a linear ramp down into the peak and back up
   after the hold. Every ``g1`` in that mean already covers sample ``n``, so ``g[n] <=
   g_req[n]``: the limit holds exactly, not approximately.

The output is the input delayed by ``lookahead`` + the interpolator's half length; the renderer
just writes what comes out and calls :meth:`flush` at the end. Attack = lookahead (3 ms),
hold 40 ms, release = the same linear ramp: transparent on occasional peaks, which is what a
loudness-matched mix at -14 LUFS has.

The ceiling is set a little under the requested true peak (``margin_db``) so that the 16-bit
quantisation and lossy encoders' small overshoots stay under it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, signal

_TAPS_PER_PHASE = 16
_FIR = (signal.firwin(4 * _TAPS_PER_PHASE, 0.25, window=("kaiser", 7.0)) * 4).astype(np.float32)
# the three in-between phases (phase 0 is close to the samples themselves)
_PHASES = np.stack([_FIR[p::4] for p in range(1, 4)])
_HALF = _TAPS_PER_PHASE // 2


def oversampled_peaks(x: np.ndarray) -> np.ndarray:
    """Per-sample peak of (channels, n) audio including 4x interpolated in-between values."""
    between = np.zeros(x.shape[1], dtype=np.float32)
    for ph in _PHASES:
        y = ndimage.convolve1d(x, ph, axis=1, mode="constant")
        np.maximum(between, np.abs(y).max(axis=0), out=between)
    # an in-between value lies next to its sample, give or take the phase's alignment: charge it
    # to the samples within two on either side
    return np.maximum(np.abs(x).max(axis=0), ndimage.maximum_filter1d(between, 5))


class TruePeakLimiter:
    """Feed blocks with :meth:`process`, then :meth:`flush`; output is delayed, never longer."""

    def __init__(self, rate: int, ceiling_db: float = -1.0, margin_db: float = 0.3,
                 lookahead_s: float = 0.003, hold_s: float = 0.04) -> None:  # fmt: skip
        self.ceiling = 10 ** ((ceiling_db - margin_db) / 20)
        self.look = max(1, int(round(lookahead_s * rate)))
        self.hold = max(1, int(round(hold_s * rate)))
        self.pad = _HALF + 2  # interpolator context on each side
        self.ctx = self.hold + self.look + self.pad  # samples kept from before the output point
        self.future = self.look + self.pad
        self.buf = np.zeros((2, 0), dtype=np.float32)
        self.out_from = 0  # index in ``buf`` of the first sample not yet output
        self.reduced = 0  # samples whose gain was below 1 (for reports)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Append ``block``; return the samples whose look-ahead is now complete."""
        self.buf = np.concatenate([self.buf, block.astype(np.float32, copy=False)], axis=1)
        return self._emit(self.buf.shape[1] - self.future)

    def flush(self) -> np.ndarray:
        """Everything still held (the end of the stream is followed by silence)."""
        n = self.buf.shape[1]
        self.buf = np.concatenate([self.buf, np.zeros((2, self.future), np.float32)], axis=1)
        return self._emit(n)

    def _emit(self, upto: int) -> np.ndarray:
        start = self.out_from
        if upto <= start:
            return np.zeros((2, 0), dtype=np.float32)
        x = self.buf
        g_req = np.minimum(1.0, self.ceiling / np.maximum(oversampled_peaks(x), 1e-12))
        # g1[n] = min(g_req[n - hold .. n + look])
        size = self.hold + self.look + 1
        origin = self.hold - size // 2
        g1 = ndimage.minimum_filter1d(g_req, size, mode="nearest", origin=origin)
        _check_window(size, origin, self.hold, self.look)
        # g[n] = mean(g1[n - look + 1 .. n])
        c = np.concatenate([[0.0], np.cumsum(g1, dtype=np.float64)])
        idx = np.arange(start, upto)
        lo = np.maximum(idx - self.look + 1, 0)
        g = ((c[idx + 1] - c[lo]) / (idx + 1 - lo)).astype(np.float32)
        self.reduced += int(np.count_nonzero(g < 0.9999))
        out = x[:, start:upto] * g
        # keep ``ctx`` samples of history before the next output point
        keep_from = max(0, upto - self.ctx)
        self.buf = x[:, keep_from:]
        self.out_from = upto - keep_from
        return out


def _check_window(size: int, origin: int, hold: int, look: int) -> None:
    """scipy centres the window at ``size // 2 + origin``; it must span [n-hold, n+look]."""
    left = size // 2 + origin
    assert left == hold and size - 1 - left == look, (size, origin, hold, look)
