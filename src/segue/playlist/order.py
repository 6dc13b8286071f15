"""Transition-aware choice and ordering.

Transition cost from track a to track b (lower = smoother), a weighted sum of four parts, each
in [0, 1] except timbre in [0, 2]:

- timbre:   ``1 - cos(outro[a], intro[b])`` (the end of a against the start of b), falling back
            to the whole-track vectors when intro/outro are missing;
- tempo:    octave-folded tempo gap ``|log2(bpm_b / bpm_a)|`` (folded to the nearest half/double
            time when ``half_double`` is on), divided by ``log2(1.08)`` (a DJ can pitch +-8 %) and
            capped at 1; scaled by the lower of the two tempo confidences (NaN confidence = 1);
- key:      Camelot wheel moves (hour distance + letter change): 0 -> 0, 1 (compatible) -> 0.2,
            2 -> 0.6, 3+ -> 1;
- loudness: ``|LUFS_a - LUFS_b| / 6 dB``, capped at 1.

Unknown values cost 0 for their part (no evidence either way).

:func:`reorder` finds a smooth order for a fixed set of tracks: an asymmetric open-path TSP
solved by nearest neighbour (from every start, or the fixed first track) then 2-opt and Or-opt
local search.  With ``energy_arc`` a positional penalty pulls the energy proxy (see
:func:`energy`) along the requested shape.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from segue.errors import UserError
from segue.listen.camelot import parse_camelot
from segue.playlist.catalog import Catalog

ENERGY_ARCS = ("build", "peak", "wind-down")
_KEY_COST = np.array([0.0, 0.2, 0.6, 1.0, 1.0, 1.0, 1.0, 1.0], dtype=np.float32)


@dataclass(frozen=True)
class TransitionWeights:
    """Weights of the parts of :func:`transition_cost`."""

    timbre: float = 1.0
    tempo: float = 0.3
    key: float = 0.2
    loudness: float = 0.1
    half_double: bool = True


DEFAULT_WEIGHTS = TransitionWeights()


def _camelot_arrays(catalog: Catalog) -> tuple[np.ndarray, np.ndarray]:
    def build() -> tuple[np.ndarray, np.ndarray]:
        hour = np.full(len(catalog), -1, dtype=np.int64)
        letter = np.zeros(len(catalog), dtype=np.int64)
        for i, code in enumerate(catalog.camelot):
            p = parse_camelot(code)
            if p is not None:
                hour[i] = p[0] - 1
                letter[i] = p[1] == "B"
        return hour, letter

    return catalog.cached("camelot_arrays", build)


def transition_costs(
    catalog: Catalog,
    a: int,
    bs: Sequence[int] | np.ndarray,
    weights: TransitionWeights = DEFAULT_WEIGHTS,
) -> np.ndarray:
    """Cost of going from track ``a`` to each of ``bs`` (vectorised :func:`transition_cost`)."""
    bs = np.asarray(bs, dtype=np.int64)
    return transition_matrix(catalog, np.array([a], dtype=np.int64), bs, weights)[0]


def transition_cost(
    catalog: Catalog, a: int, b: int, weights: TransitionWeights = DEFAULT_WEIGHTS
) -> float:
    """Cost of playing ``b`` right after ``a``; see the module docstring."""
    return float(transition_costs(catalog, a, [b], weights)[0])


def transition_matrix(
    catalog: Catalog,
    froms: np.ndarray,
    tos: np.ndarray,
    weights: TransitionWeights = DEFAULT_WEIGHTS,
) -> np.ndarray:
    """(len(froms), len(tos)) matrix of transition costs."""
    froms = np.asarray(froms, dtype=np.int64)
    tos = np.asarray(tos, dtype=np.int64)
    out_v, in_v = catalog.transition_vectors()
    cost = weights.timbre * (1.0 - out_v[froms] @ in_v[tos].T)
    if weights.tempo:
        ba = catalog.bpm[froms][:, None]
        bb = catalog.bpm[tos][None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.log2(bb / ba)
            if weights.half_double:
                x = x - np.round(x)
            t = np.minimum(np.abs(x) * (1.0 / math.log2(1.08)), 1.0)
            conf = np.fmin(catalog.bpm_confidence[froms][:, None], catalog.bpm_confidence[tos][None, :])
            conf = np.where(np.isnan(conf), 1.0, np.clip(conf, 0.0, 1.0))
            t = np.where(np.isnan(t), 0.0, t * conf)
        cost = cost + weights.tempo * t
    if weights.key:
        hour, letter = _camelot_arrays(catalog)
        ha, hb = hour[froms][:, None], hour[tos][None, :]
        h = np.abs(ha - hb) % 12
        steps = np.minimum(h, 12 - h) + (letter[froms][:, None] != letter[tos][None, :])
        kc = _KEY_COST[np.minimum(steps, 7)]
        kc = np.where((ha >= 0) & (hb >= 0), kc, 0.0)
        cost = cost + weights.key * kc
    if weights.loudness:
        la = catalog.loudness_lufs[froms][:, None]
        lb = catalog.loudness_lufs[tos][None, :]
        lc = np.minimum(np.abs(la - lb) / 6.0, 1.0)
        cost = cost + weights.loudness * np.where(np.isfinite(lc), lc, 0.0)
    return np.asarray(cost, dtype=np.float64)


def energy(catalog: Catalog, indices: Sequence[int] | np.ndarray) -> np.ndarray:
    """Per-track energy proxy in [0, 1] for ``indices``.

    The mean of two percentile ranks taken over the whole library: loudness (LUFS) and tempo
    (BPM).  Loudness is the stronger cue of perceived energy; tempo adds drive.  A missing value
    takes the median rank (0.5); a library without either gives 0.5 for everyone.
    """
    idx = np.asarray(indices, dtype=np.int64)
    parts = []
    for arr in (catalog.loudness_lufs, catalog.bpm):
        known = np.sort(arr[np.isfinite(arr)])
        if len(known) == 0:
            parts.append(np.full(len(idx), 0.5))
            continue
        v = arr[idx]
        r = np.searchsorted(known, v, side="left") + np.searchsorted(known, v, side="right")
        r = r / (2.0 * len(known))
        parts.append(np.where(np.isfinite(v), r, 0.5))
    return np.mean(parts, axis=0)


def arc_targets(n: int, arc: str) -> np.ndarray:
    """Target energy quantile (0 = calmest of the set, 1 = most energetic) per position."""
    p = np.linspace(0.0, 1.0, n) if n > 1 else np.zeros(1)
    if arc == "build":
        return p
    if arc == "wind-down":
        return 1.0 - p
    if arc == "peak":
        top = 0.7
        return np.where(p <= top, p / top, (1.0 - p) / (1.0 - top))
    raise UserError(f"unknown energy arc {arc!r}; use one of {', '.join(ENERGY_ARCS)}")


def path_cost(cost: np.ndarray, order: Sequence[int]) -> float:
    o = np.asarray(order)
    return float(cost[o[:-1], o[1:]].sum()) if len(o) > 1 else 0.0


def reorder(
    catalog: Catalog,
    indices: Sequence[int],
    energy_arc: str | None = None,
    *,
    fix_first: bool = False,
    weights: TransitionWeights = DEFAULT_WEIGHTS,
    arc_weight: float = 2.0,
    max_passes: int = 50,
    time_limit: float = 2.0,
) -> list[int]:
    """The same tracks in the smoothest order found (lowest summed transition cost).

    ``fix_first=True`` keeps ``indices[0]`` first (e.g. the seed).  ``energy_arc`` is ``None``,
    ``"build"`` (calm to energetic), ``"peak"`` (rises to a peak ~70 % in, then eases off) or
    ``"wind-down"``; it adds ``arc_weight * (energy quantile - target quantile)^2`` per
    position, where the quantile is the track's energy rank within this set.  Deterministic
    (apart from ``time_limit``, in seconds, which stops the local search early on very long
    playlists).
    """
    idx = [int(i) for i in indices]
    n = len(idx)
    if n != len(set(idx)):
        raise UserError("reorder: the playlist contains the same track twice")
    if n <= 2 and energy_arc is None:
        return idx if (n < 2 or fix_first) else _best_pair(catalog, idx, weights)
    arr = np.asarray(idx, dtype=np.int64)
    cost = transition_matrix(catalog, arr, arr, weights)
    np.fill_diagonal(cost, 0.0)
    pos_pen = np.zeros((n, n))
    if energy_arc is not None:
        e = energy(catalog, arr)
        q = (np.argsort(np.argsort(e, kind="stable"), kind="stable") / max(n - 1, 1)).astype(float)
        tgt = arc_targets(n, energy_arc)
        pos_pen = arc_weight * (q[:, None] - tgt[None, :]) ** 2
    if fix_first:
        pos_pen[0, 1:] += 1e6  # track 0 (the first given) must stay in position 0
        pos_pen[1:, 0] += 1e6
    starts = [0] if fix_first else range(n)
    best_order, best_val = None, math.inf
    for s in starts:
        order = _nearest_neighbour(cost, pos_pen, s)
        val = _objective(cost, pos_pen, order)
        if val < best_val:
            best_order, best_val = order, val
    if energy_arc is not None and not fix_first:
        # also try the arc's own order (sorted by target) as a start
        tgt = arc_targets(n, energy_arc)
        e = energy(catalog, arr)
        by_e = np.argsort(e, kind="stable")
        slots = np.argsort(tgt, kind="stable")
        order = np.empty(n, dtype=np.int64)
        order[slots] = by_e
        val = _objective(cost, pos_pen, order)
        if val < best_val:
            best_order, best_val = order, val
    order = _local_search(
        cost, pos_pen, np.asarray(best_order), fix_first, max_passes, time.perf_counter() + time_limit
    )
    return [idx[j] for j in order]


def _best_pair(catalog: Catalog, idx: list[int], weights: TransitionWeights) -> list[int]:
    a, b = idx
    return idx if transition_cost(catalog, a, b, weights) <= transition_cost(catalog, b, a, weights) else [b, a]


def _objective(cost: np.ndarray, pos_pen: np.ndarray, order: np.ndarray) -> float:
    o = np.asarray(order)
    return float(cost[o[:-1], o[1:]].sum() + pos_pen[o, np.arange(len(o))].sum())


def _nearest_neighbour(cost: np.ndarray, pos_pen: np.ndarray, start: int) -> np.ndarray:
    n = len(cost)
    used = np.zeros(n, dtype=bool)
    order = [start]
    used[start] = True
    for p in range(1, n):
        c = cost[order[-1]] + pos_pen[:, p]
        c = np.where(used, np.inf, c)
        j = int(np.argmin(c))
        order.append(j)
        used[j] = True
    return np.asarray(order, dtype=np.int64)


def _local_search(
    cost: np.ndarray,
    pos_pen: np.ndarray,
    order: np.ndarray,
    fix_first: bool,
    max_passes: int,
    deadline: float,
) -> np.ndarray:
    """2-opt (segment reversal, asymmetric costs handled exactly) and Or-opt (move a run of
    1-3 tracks elsewhere), first-improvement, until no move helps."""
    n = len(order)
    order = order.copy()
    lo = 1 if fix_first else 0
    cur = _objective(cost, pos_pen, order)
    for _ in range(max_passes):
        improved = False
        # 2-opt: reverse order[i..j]
        for i in range(lo, n - 1):
            for j in range(i + 1, n):
                cand = order.copy()
                cand[i : j + 1] = order[i : j + 1][::-1]
                val = _objective(cost, pos_pen, cand)
                if val < cur - 1e-9:
                    order, cur, improved = cand, val, True
        # Or-opt: move order[i:i+L] to another position
        for seg in (1, 2, 3):
            for i in range(lo, n - seg + 1):
                block = order[i : i + seg]
                rest = np.concatenate([order[:i], order[i + seg :]])
                for j in range(lo, len(rest) + 1):
                    if j == i:
                        continue
                    cand = np.concatenate([rest[:j], block, rest[j:]])
                    val = _objective(cost, pos_pen, cand)
                    if val < cur - 1e-9:
                        order, cur, improved = cand, val, True
                        break
        if not improved or time.perf_counter() > deadline:
            break
    return order
