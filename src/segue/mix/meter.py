"""Measuring the mix as it is written: loudness per track, as a loudness meter would.

:class:`LoudnessMeter` K-weights the output (BS.1770, filter state carried across blocks) and
keeps the summed mean-square of every 100 ms; :meth:`LoudnessMeter.lufs` then gives the gated
integrated loudness (400-ms blocks, 75 % overlap, -70 LUFS absolute and -10 LU relative gates)
of any stretch, so the tracklist can say what each track really came out at. For a two-hour
mix that is 72 000 floats.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

from segue.listen.loudness import _gated_integrated, k_weighting_sos

STEP_S = 0.1
BLOCK_STEPS = 4  # 400 ms


class LoudnessMeter:
    """Feed output blocks in order with :meth:`process`; ask :meth:`lufs` for any stretch."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self.sos = k_weighting_sos(rate)
        self.zi = np.zeros((self.sos.shape[0], 2, 2))
        self.step = int(round(STEP_S * rate))
        self.powers: list[float] = []
        self._open = np.zeros(0)  # summed squares of the step being filled, per sample

    def process(self, y: np.ndarray) -> None:
        if y.shape[1] == 0:
            return
        z, self.zi = signal.sosfilt(self.sos, y.astype(np.float64), axis=1, zi=self.zi)
        sq = np.concatenate([self._open, (z**2).sum(axis=0)])
        full = (sq.size // self.step) * self.step
        if full:
            self.powers.extend(sq[:full].reshape(-1, self.step).mean(axis=1).tolist())
        self._open = sq[full:]

    def lufs(self, t0: float, t1: float) -> float:
        """Integrated loudness of [t0, t1) seconds of the output; NaN when too short or
        silent."""
        a, b = max(0, int(round(t0 / STEP_S))), min(len(self.powers), int(round(t1 / STEP_S)))
        p = np.asarray(self.powers[a:b])
        if p.size < BLOCK_STEPS:
            return math.nan
        c = np.concatenate([[0.0], np.cumsum(p)])
        blocks = (c[BLOCK_STEPS:] - c[:-BLOCK_STEPS]) / BLOCK_STEPS
        return _gated_integrated(blocks)  # the library's own BS.1770 gating
