"""The mix's limiter: bass first, then a look-ahead true-peak limiter with a smooth release.

Most peaks that make a loudness-matched mix hit the ceiling are kick drums and bass notes. A
full-band limiter answers them by pulling everything down for a moment, so pads and voices dip
on every beat: pumping. :class:`MixLimiter` first takes what it can of such a peak out of the
band below 150 Hz (:class:`BassLimiter`), then a full-band true-peak limiter
(:class:`TruePeakLimiter`) catches the rest, so the ceiling holds exactly as before; only where
the reduction is taken from depends on the program. On a kick drum over a steady pad that needs
3 dB of limiting the pad's level moves by 0.4 dB instead of 2.3 dB (BENCHMARKS.md, "Mix
limiter", which also has the release times that were tried).

Method of each stage (vectorised per block; no per-sample Python):

1. What each sample needs: the true-peak stage takes the larger of |x| and the 4x-oversampled
   neighbours around it (a polyphase windowed-sinc interpolator, as BS.1770-4 Annex 2 measures
   true peak), max over channels, and requires ``g_req = min(1, ceiling / peak)``. The bass
   stage, where a sample is over the ceiling and mostly bass (``|low| >= 2 |high|``), requires
   of the low band the gain that brings ``|g * low + high|`` under it, at most ``max_db`` (3 dB):
   taking more out of the bass, or from peaks that are less clearly bass, cost the dev
   corpus's loudest tracks more loudness than it saved limiting (BENCHMARKS.md).
2. Attack: ``g1[n] = min(g_req[n - hold .. n + lookahead])`` (scipy's minimum filter), then
   ``g_att[n] = mean(g1[n - lookahead + 1 .. n])``: a linear ramp down into each peak. Every
   ``g1`` in that mean already covers sample ``n``, so ``g_att[n] <= g_req[n]``: the limit
   holds exactly, not approximately.
3. Release: the reduction in dB, ``r = -20 log10 g``, falls back exponentially (time constant
   ``release_s``): ``r[n] = max(r_att[n], r[n-1] * a)``. In ``log r`` that is a constant fall,
   so with ``C[n] = n log(1/a)`` it is ``log r[n] = max_k<=n (log r_att[k] + C[k]) - C[n]``: a
   running maximum (``np.maximum.accumulate``), vectorised. ``r >= r_att``, so the limit holds.

The output is the input delayed by ``lookahead`` + the interpolator's half length (and the bass
stage's lookahead); the renderer writes what comes out and calls :meth:`flush` at the end.
Output sample ``i`` is input sample ``i`` times its gain: positions never shift.

The ceiling is set a little under the requested true peak (``margin_db``) so that the 16-bit
quantisation and lossy encoders' small overshoots stay under it.

Gain-reduction statistics: the largest reduction in every 10-ms window of the output is kept
(``window_db``, one float32 per window: 2.9 MB for a two-hour mix), so the renderer can report,
per track and for the whole mix, the share of windows reduced by more than 1 dB, the mean and
the maximum (:func:`reduction_stats`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, signal

_TAPS_PER_PHASE = 16
_FIR = (signal.firwin(4 * _TAPS_PER_PHASE, 0.25, window=("kaiser", 7.0)) * 4).astype(np.float32)
# the three in-between phases (phase 0 is close to the samples themselves)
_PHASES = np.stack([_FIR[p::4] for p in range(1, 4)])
_HALF = _TAPS_PER_PHASE // 2
# no in-between value can exceed the largest |sample| by more than this (sum of |taps|)
_BETWEEN_BOUND = float(np.abs(_PHASES).sum(axis=1).max())

STATS_WINDOW_S = 0.01
RELEASE_FLOOR_DB = 0.01  # the release is exponential down to this, then snaps to none


def oversampled_peaks(x: np.ndarray) -> np.ndarray:
    """Per-sample peak of (channels, n) audio including 4x interpolated in-between values."""
    between = np.zeros(x.shape[1], dtype=np.float32)
    for ph in _PHASES:
        y = ndimage.convolve1d(x, ph, axis=1, mode="constant")
        np.maximum(between, np.abs(y).max(axis=0), out=between)
    # an in-between value lies next to its sample, give or take the phase's alignment: charge it
    # to the samples within two on either side
    return np.maximum(np.abs(x).max(axis=0), ndimage.maximum_filter1d(between, 5))


@dataclass
class ReductionStats:
    """Gain reduction over some 10-ms windows of the output."""

    windows: int
    share_over_1db: float  # share of windows reduced by more than 1 dB
    mean_db: float  # mean over windows of each window's largest reduction
    max_db: float

    def to_json(self) -> dict[str, float]:
        return {"share_over_1db": round(self.share_over_1db, 4), "mean_db": round(self.mean_db, 3),
                "max_db": round(self.max_db, 2)}  # fmt: skip

    def describe(self) -> str:
        if self.max_db < 0.05:
            return "no limiting"
        return (f"limiter {self.share_over_1db * 100:.0f} % of the time > 1 dB, "
                f"mean {self.mean_db:.1f} dB, max {self.max_db:.1f} dB")  # fmt: skip


def reduction_stats(window_db: np.ndarray) -> ReductionStats:
    """Statistics of per-window reductions (dB, >= 0)."""
    w = np.asarray(window_db, dtype=np.float64)
    if w.size == 0:
        return ReductionStats(0, 0.0, 0.0, 0.0)
    return ReductionStats(int(w.size), float(np.mean(w > 1.0)), float(w.mean()), float(w.max()))


class _LookaheadGain:
    """Streaming look-ahead gain: subclasses say which gain each sample requires
    (:meth:`_required`) and how a gain applies (:meth:`_apply`); this class buffers, ramps
    down ahead of every reduction, holds, releases (module docstring, steps 2-3) and keeps the
    10-ms reduction statistics."""

    channels_in = 2
    pad = 0

    def __init__(self, rate: int, lookahead_s: float, hold_s: float, release_s: float) -> None:
        self.rate = rate
        self.look = max(1, int(round(lookahead_s * rate)))
        self.hold = max(1, int(round(hold_s * rate)))
        self.ctx = self.hold + self.look + self.pad  # samples kept from before the output point
        self.future = self.look + self.pad
        self.fall = 1.0 / (release_s * rate)  # per sample, of log(reduction): exp(-t / tau)
        self.buf = np.zeros((self.channels_in, 0), dtype=np.float32)
        self.out_from = 0  # index in ``buf`` of the first sample not yet output
        self.r_prev = 0.0  # reduction (dB) at the last output sample
        self.reduced = 0  # samples whose gain was below 1 (for reports)
        self.win = max(1, int(round(STATS_WINDOW_S * rate)))
        self._win_parts: list[np.ndarray] = []  # finished windows' largest reduction, dB
        self._win_open = np.zeros(0, dtype=np.float32)  # reductions of the window being filled

    @property
    def window_db(self) -> np.ndarray:
        """Largest reduction (dB) in each finished 10-ms window of the output so far."""
        return np.concatenate(self._win_parts) if self._win_parts else np.zeros(0, np.float32)

    def _required(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _apply(self, x: np.ndarray, g: np.ndarray | None) -> np.ndarray:
        """``x`` with gain ``g`` applied (None: no reduction anywhere)."""
        raise NotImplementedError

    def _take(self, block: np.ndarray) -> np.ndarray:
        return block.astype(np.float32, copy=False)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Append ``block``; return the samples whose look-ahead is now complete."""
        self.buf = np.concatenate([self.buf, self._take(block)], axis=1)
        return self._emit(self.buf.shape[1] - self.future)

    def flush(self) -> np.ndarray:
        """Everything still held (the end of the stream is followed by silence)."""
        n = self.buf.shape[1]
        tail = np.zeros((self.channels_in, self.future), np.float32)
        self.buf = np.concatenate([self.buf, tail], axis=1)
        out = self._emit(n)
        if self._win_open.size:
            self._win_parts.append(np.array([self._win_open.max()], np.float32))
            self._win_open = np.zeros(0, dtype=np.float32)
        return out

    def _emit(self, upto: int) -> np.ndarray:
        start = self.out_from
        if upto <= start:
            return np.zeros((2, 0), dtype=np.float32)
        x = self.buf
        g_req = self._required(x)
        if self.r_prev <= 0.0 and g_req.min() >= 1.0:
            # nothing to reduce, ahead or behind: most blocks of a mix at its target
            g = None
            self._count_windows(np.zeros(upto - start, np.float32))
        else:
            g = self._gain(g_req, start, upto)
        out = self._apply(x[:, start:upto], g)
        # keep ``ctx`` samples of history before the next output point
        keep_from = max(0, upto - self.ctx)
        self.buf = x[:, keep_from:]
        self.out_from = upto - keep_from
        return out

    def _gain(self, g_req: np.ndarray, start: int, upto: int) -> np.ndarray | None:
        """The applied gain of buffer samples [start, upto) (module docstring, steps 2-3), or
        None where nothing is reduced. Only the stretch from the first reduction (or the
        block's start, while a release is still under way) to where the last one has been
        released is computed: a mix's limiter works on a few percent of its samples."""
        n = upto - start
        # g1[n] = min(g_req[n - hold .. n + look])
        size = self.hold + self.look + 1
        origin = self.hold - size // 2
        g1 = ndimage.minimum_filter1d(g_req, size, mode="nearest", origin=origin)
        _check_window(size, origin, self.hold, self.look)
        hits = np.flatnonzero(g1[start:upto] < 1.0)
        if hits.size == 0 and self.r_prev <= 0.0:
            self._count_windows(np.zeros(n, np.float32))
            return None
        a = 0 if self.r_prev > 0.0 or hits.size == 0 else int(hits[0])
        # the reduction is gone once the deepest of this stretch has been released
        deepest = max(self.r_prev, -20.0 * math.log10(max(float(g1[start:upto].min()), 1e-6)))
        settle = int(math.ceil(math.log((deepest + RELEASE_FLOOR_DB) / RELEASE_FLOOR_DB)
                               / self.fall)) + 1  # fmt: skip
        last = int(hits[-1]) + self.look if hits.size else 0
        b = min(n, max(last, a) + settle)
        # g_att[i] = mean(g1[i - look + 1 .. i]) over [start + a, start + b)
        lo0 = max(start + a - self.look + 1, 0)
        c = np.concatenate([[0.0], np.cumsum(g1[lo0 : start + b], dtype=np.float64)])
        idx = np.arange(start + a, start + b)
        lo = np.maximum(idx - self.look + 1, 0)
        g_att = (c[idx + 1 - lo0] - c[lo - lo0]) / (idx + 1 - lo)
        r_att = -20.0 * np.log10(np.maximum(g_att, 1e-6))
        part = self._release(np.maximum(r_att, 0.0))
        if b < n:
            self.r_prev = 0.0  # fully released within the block (see ``settle``)
        r = np.zeros(n)
        r[a:b] = part
        self.reduced += int(np.count_nonzero(part > 1e-3))
        self._count_windows(r.astype(np.float32))
        return (10.0 ** (-r / 20.0)).astype(np.float32)

    def _release(self, r_att: np.ndarray) -> np.ndarray:
        """Reduction after the exponential release (module docstring, step 4)."""
        # an exponential release of the reduction in dB is a constant fall of its logarithm
        csum = self.fall * np.arange(1, r_att.size + 1)
        lr = np.log(r_att + RELEASE_FLOOR_DB)
        start = math.log(self.r_prev + RELEASE_FLOOR_DB)
        out = np.maximum(np.maximum.accumulate(lr + csum), start)
        r = np.maximum(np.exp(out - csum) - RELEASE_FLOOR_DB, 0.0)
        self.r_prev = float(r[-1])
        return r

    def _count_windows(self, r: np.ndarray) -> None:
        r = np.concatenate([self._win_open, r])
        full = (r.size // self.win) * self.win
        if full:
            self._win_parts.append(r[:full].reshape(-1, self.win).max(axis=1))
        self._win_open = r[full:]


class TruePeakLimiter(_LookaheadGain):
    """Full-band true-peak limiter. Feed blocks with :meth:`process`, then :meth:`flush`;
    output is delayed, never longer."""

    pad = _HALF + 2  # interpolator context on each side

    def __init__(self, rate: int, ceiling_db: float = -1.0, margin_db: float = 0.3,
                 lookahead_s: float = 0.004, hold_s: float = 0.02,
                 release_s: float = 0.04) -> None:  # fmt: skip
        super().__init__(rate, lookahead_s, hold_s, release_s)
        self.ceiling = 10 ** ((ceiling_db - margin_db) / 20)

    def _required(self, x: np.ndarray) -> np.ndarray:
        if x.size == 0 or float(np.abs(x).max()) * _BETWEEN_BOUND <= self.ceiling:
            return np.ones(x.shape[1])  # no true peak can reach the ceiling: skip the filter
        return np.minimum(1.0, self.ceiling / np.maximum(oversampled_peaks(x), 1e-12))

    def _apply(self, x: np.ndarray, g: np.ndarray | None) -> np.ndarray:
        return x.copy() if g is None else x * g


class BassLimiter(_LookaheadGain):
    """Takes what it can of each over-the-ceiling bass peak out of the band below ``split_hz``.

    A kick drum's peak is mostly bass; a full-band limiter answers it by pulling everything
    down, so pads and voices dip on every beat (pumping). This stage splits the signal (``low =
    x - highpass(x)``, so ``low + high == x``), and where a sample peaks above the ceiling and
    its low band is at least ``dominance`` times its high band, asks the low band for the
    reduction that brings ``|g * low + high|`` under it (at most ``max_db``). The true-peak
    limiter after it catches whatever is left, so the ceiling holds exactly as before; only
    where the reduction is taken from changes."""

    channels_in = 4  # low L/R, high L/R

    def __init__(self, rate: int, ceiling_db: float = -1.0, margin_db: float = 0.3,
                 split_hz: float = 150.0, max_db: float = 3.0, dominance: float = 2.0,
                 lookahead_s: float = 0.004, hold_s: float = 0.02,
                 release_s: float = 0.08) -> None:  # fmt: skip
        super().__init__(rate, lookahead_s, hold_s, release_s)
        self.dominance = dominance
        self.ceiling = 10 ** ((ceiling_db - margin_db) / 20)
        self.floor = 10 ** (-max_db / 20)
        self.sos = signal.butter(2, split_hz, "highpass", fs=rate, output="sos")
        self.zi = np.zeros((self.sos.shape[0], 2, 2))

    def _take(self, block: np.ndarray) -> np.ndarray:
        x = block.astype(np.float64, copy=False)
        high, self.zi = signal.sosfilt(self.sos, x, axis=1, zi=self.zi)
        return np.concatenate([x - high, high]).astype(np.float32)

    def _required(self, x: np.ndarray) -> np.ndarray:
        low, high = x[:2], x[2:]
        over = np.abs(low + high) > self.ceiling
        if not over.any():
            return np.ones(x.shape[1])
        # only peaks that are mostly bass: elsewhere cutting the bass would cost it for nothing
        over &= np.abs(low) >= self.dominance * np.abs(high)
        # |g low + high| <= ceiling, with low setting the sign: g = (c - high sign(low)) / |low|
        with np.errstate(divide="ignore", invalid="ignore"):
            g = (self.ceiling - high * np.sign(low)) / np.maximum(np.abs(low), 1e-9)
        return np.clip(np.where(over, g, 1.0), self.floor, 1.0).min(axis=0)

    def _apply(self, x: np.ndarray, g: np.ndarray | None) -> np.ndarray:
        return x[:2] + x[2:] if g is None else x[:2] * g + x[2:]


class MixLimiter:
    """The mix's output stage: :class:`BassLimiter` then :class:`TruePeakLimiter`.

    :attr:`window_db` is the full-band stage's reduction (what everything in the mix went
    through); :attr:`bass_window_db` the bass stage's, a reduction of the low band only."""

    def __init__(self, rate: int, ceiling_db: float = -1.0, bass_first: bool = True,
                 **bass: float) -> None:  # fmt: skip
        self.rate = rate
        self.bass = BassLimiter(rate, ceiling_db, **bass) if bass_first else None
        self.peak = TruePeakLimiter(rate, ceiling_db)

    def process(self, block: np.ndarray) -> np.ndarray:
        if self.bass is not None:
            block = self.bass.process(block)
        return self.peak.process(block)

    def flush(self) -> np.ndarray:
        if self.bass is None:
            return self.peak.flush()
        return np.concatenate([self.peak.process(self.bass.flush()), self.peak.flush()], axis=1)

    @property
    def reduced(self) -> int:
        """Samples whose full-band gain was below 1."""
        return self.peak.reduced

    @property
    def window_db(self) -> np.ndarray:
        """Full-band reduction per 10-ms window of the output (both stages keep sample
        positions, so windows of the two line up)."""
        return self.peak.window_db

    @property
    def bass_window_db(self) -> np.ndarray:
        return self.bass.window_db if self.bass is not None else np.zeros(0, np.float32)


def _check_window(size: int, origin: int, hold: int, look: int) -> None:
    """scipy centres the window at ``size // 2 + origin``; it must span [n-hold, n+look]."""
    left = size // 2 + origin
    assert left == hold and size - 1 - left == look, (size, origin, hold, look)
