"""Join the dots: a playlist that travels through waypoints in order.

For each consecutive pair of waypoints (A, B) and ``steps`` = N, the N tracks between them aim
at targets spaced evenly along the great circle from A to B (spherical interpolation,
``t = i / (N + 1)``, i = 1..N), unlike Deej-AI's linear mixes whose weights do not sum to one.
Each step takes, among the unused tracks nearest its target, the one with the lowest

    cost = (1 - cos(target, c))                               # stay on the path
         + transition_weight * transition_cost(prev, c)        # smooth hand-over
         + progress_weight * max(0, d(c, B) - d(prev, B))      # never step back from B

where ``d`` is cosine distance.  Every waypoint appears, in order, exactly where expected
(index ``k * (N + 1)``); no intermediate track is a waypoint, a repeat or an exact/near
duplicate; the :class:`~segue.playlist.rules.Rules` apply to intermediates (tracks just before
a waypoint also avoid the waypoint's artist within ``artist_gap``).  When the rules leave
nothing near a target the search widens to the whole library; if even that fails, the step
takes the nearest unused track and says so in ``relaxed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from segue.errors import UserError
from segue.index import Index
from segue.playlist.catalog import Catalog, require_index
from segue.playlist.history import History
from segue.playlist.mixable import Mixability, prefer_mixable
from segue.playlist.order import DEFAULT_WEIGHTS, TransitionWeights, transition_costs
from segue.playlist.rules import Rules

FETCH = 64


@dataclass
class JourneyStep:
    """One track of a journey, with the numbers ``--json`` reports."""

    index: int
    id: int
    waypoint: bool
    segment: int  # which waypoint pair this track belongs to (last waypoint: last segment)
    target_similarity: float  # cosine to this step's target on the great circle
    dist_prev: float | None  # cosine distance to the previous track
    dist_next_waypoint: float | None  # cosine distance to the waypoint this step heads for
    relaxed: bool = False  # the sequential rules had to be ignored for this step


@dataclass
class JourneyResult:
    indices: list[int]
    steps: list[JourneyStep] = field(default_factory=list)

    def to_dict(self, catalog: Catalog | None = None) -> dict[str, Any]:
        """JSON-ready: per-step numbers, plus path/artist/title when a catalogue is given."""
        rows = []
        for s in self.steps:
            d = asdict(s)
            if catalog is not None:
                d.update(
                    path=catalog.path[s.index], artist=catalog.artist[s.index], title=catalog.title[s.index]
                )
            rows.append(d)
        return {"indices": list(self.indices), "steps": rows}


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Points at fractions ``t`` along the great circle from unit vector a to unit vector b.

    Nearly equal endpoints give a (normalised lerp); antipodal ones go through a fixed
    perpendicular direction.
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    dot = float(np.clip(a @ b, -1.0, 1.0))
    omega = np.arccos(dot)
    if np.sin(omega) < 1e-6:
        if dot > 0:
            out = (1 - t)[:, None] * a + t[:, None] * b
        else:
            # antipodal: go a -> u -> b with u perpendicular to a
            u = np.roll(a, 1) - (np.roll(a, 1) @ a) * a
            if np.linalg.norm(u) < 1e-9:
                u = np.zeros_like(a)
                u[int(np.argmin(np.abs(a)))] = 1.0
                u -= (u @ a) * a
            u /= np.linalg.norm(u)
            ang = t * np.pi
            out = np.cos(ang)[:, None] * a + np.sin(ang)[:, None] * u
    else:
        s = np.sin(omega)
        out = (np.sin((1 - t) * omega) / s)[:, None] * a + (np.sin(t * omega) / s)[:, None] * b
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out.astype(np.float32)


def journey(
    catalog: Catalog,
    waypoints: Sequence[int],
    steps: int = 5,
    rules: Rules | None = None,
    *,
    index: Index | None = None,
    transition_weight: float = 0.1,
    progress_weight: float = 1.0,
    weights: TransitionWeights = DEFAULT_WEIGHTS,
    mixable: Mixability | None = None,
) -> JourneyResult:
    """Waypoints in order with ``steps`` tracks between each consecutive pair; see module doc.
    ``mixable``: among the best few candidates of each step, prefer those a mix can
    beat-match or that are key-compatible with the previous track (playlist.mixable)."""
    wps = [require_index(catalog, w, "waypoint") for w in waypoints]
    if len(wps) < 2:
        raise UserError("a journey needs at least two waypoints (use radio for a single seed)")
    for a, b in zip(wps[:-1], wps[1:], strict=True):
        if catalog.group[a] == catalog.group[b]:
            raise UserError(f"consecutive waypoints are the same track: {catalog.label(a)}")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise UserError(f"steps must be a whole number >= 0, got {steps!r}")
    rules = rules if rules is not None else Rules()
    index = index if index is not None else catalog.get_index()
    allowed = rules.allowed_mask(catalog)
    wp_groups = np.unique(catalog.group[wps])
    allowed = index.prepare_filter(allowed)
    v = catalog.vectors
    history = History(catalog, [wps[0]])
    out = [
        JourneyStep(
            index=wps[0],
            id=int(catalog.ids[wps[0]]),
            waypoint=True,
            segment=0,
            target_similarity=1.0,
            dist_prev=None,
            dist_next_waypoint=float(1 - v[wps[0]] @ v[wps[1]]),
        )
    ]
    for seg, (a, b) in enumerate(zip(wps[:-1], wps[1:], strict=True)):
        targets = slerp(v[a], v[b], np.arange(1, steps + 1) / (steps + 1)) if steps else []
        b_artist = int(catalog.artist_codes[b])
        for i, target in enumerate(targets):
            prev = history.indices[-1]
            ahead = steps - i  # positions from this step to waypoint b
            avoid_artist = b_artist if (b_artist >= 0 and ahead <= rules.artist_gap) else None
            pick, relaxed = _step(
                catalog, index, target, prev, b, history, rules, allowed, wp_groups,
                avoid_artist, transition_weight, progress_weight, weights, mixable,
            )
            history.add(pick)
            out.append(
                JourneyStep(
                    index=pick,
                    id=int(catalog.ids[pick]),
                    waypoint=False,
                    segment=seg,
                    target_similarity=float(target @ v[pick]),
                    dist_prev=float(1 - v[prev] @ v[pick]),
                    dist_next_waypoint=float(1 - v[pick] @ v[b]),
                    relaxed=relaxed,
                )
            )
        prev = history.indices[-1]
        history.add(b)
        nxt = wps[seg + 2] if seg + 2 < len(wps) else None
        out.append(
            JourneyStep(
                index=b,
                id=int(catalog.ids[b]),
                waypoint=True,
                segment=seg if nxt is None else seg + 1,
                target_similarity=1.0,
                dist_prev=float(1 - v[prev] @ v[b]),
                dist_next_waypoint=None if nxt is None else float(1 - v[b] @ v[nxt]),
            )
        )
    return JourneyResult(indices=[s.index for s in out], steps=out)


def _step(
    catalog: Catalog,
    index: Index,
    target: np.ndarray,
    prev: int,
    dest: int,
    history: History,
    rules: Rules,
    allowed: Any,
    wp_groups: np.ndarray,
    avoid_artist: int | None,
    transition_weight: float,
    progress_weight: float,
    weights: TransitionWeights,
    mixable: Mixability | None = None,
) -> tuple[int, bool]:
    v = catalog.vectors
    fetch = min(index.n, FETCH + len(history))
    while True:
        idx, _ = index.search(target, fetch, allowed=allowed)
        idx = idx[0]
        idx = idx[idx >= 0]
        free = idx[~history.used(idx) & ~np.isin(catalog.group[idx], wp_groups)]
        mask = rules.accept_mask(free, history)
        if avoid_artist is not None:
            mask &= catalog.artist_codes[free] != avoid_artist
        ok = free[mask][:FETCH]
        if len(ok) or fetch >= index.n:
            break
        fetch = min(index.n, fetch * 4)
    relaxed = False
    if not len(ok):
        # the rules leave nothing: take the nearest unused, non-waypoint track
        if not len(free):
            raise UserError(
                "the library (after filters) has too few tracks for this journey; "
                "use fewer steps or looser filters"
            )
        ok, relaxed = free[:FETCH], True
    cand = np.asarray(ok, dtype=np.int64)
    cost = 1.0 - v[cand] @ target
    if transition_weight:
        cost = cost + transition_weight * transition_costs(catalog, prev, cand, weights)
    if progress_weight:
        back = (1.0 - v[cand] @ v[dest]) - (1.0 - float(v[prev] @ v[dest]))
        cost = cost + progress_weight * np.maximum(back, 0.0)
    cand = cand[np.argsort(cost, kind="stable")]
    if mixable is not None:
        cand = cand[prefer_mixable(catalog, prev, cand, mixable)]
    return int(cand[0]), relaxed
