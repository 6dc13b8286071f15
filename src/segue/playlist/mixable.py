"""Which tracks a DJ can mix into which: beat-matchable tempos and compatible keys.

Pure functions over a :class:`~segue.playlist.catalog.Catalog` (row indices in, arrays out),
for playlists meant to be mixed (``segue playlist --mixable``, ``journey --mix``) and for the
mix planner, which uses :func:`tempo_match` to decide whether two tracks are beat-matched, so
"mixable" here and "beat-matched" in the mix mean the same thing.

Beat-matchable
    Both tempos known with confidence >= ``min_confidence``, and a playback speed within
    ``tolerance`` percent of 1 gives the incoming track the outgoing track's tempo, or (with
    ``half_double``) half or double of it: a 72-bpm track under a 140-bpm one plays at
    0.972x speed, two of its beats to every beat of the other, its downbeats on every other
    downbeat. Tempo octave errors of the tempo estimator (70 reported for 140) land here too.
Key-compatible
    Camelot wheel: the same key, one hour round the wheel, or the relative major/minor
    (:func:`segue.listen.camelot.camelot_steps` <= 1). Unknown keys are not compatible.
Score (:func:`mix_scores`, 0..1)
    ``tempo + 0.3 * key``. tempo = ``0.5 + 0.2 * (1 - deviation / tolerance)`` for a
    beat-matchable pair (0.8 times that at half/double time, a bolder mix), else 0; key = 1 for
    the same key, 0.75 for a neighbour, else 0. Any beat-matchable pair (>= 0.4) outscores any
    pair that is only key-compatible (<= 0.3): beat-matching decides how a transition can be
    made at all, the key how well it sounds.
Preferring mixable tracks among those close in sound (:func:`prefer_mixable`)
    Of candidates ordered best first by similarity, the first ``top_k`` are re-ordered by
    ``(1 - weight) * (1 - rank / top_k) + weight * score`` (rank 0 = most similar); the rest
    keep their order. Sound still decides which tracks are in the running (only the ``top_k``
    nearest), and mixability decides between them: with the default ``weight = 0.5`` a
    beat-matchable, same-key track may overtake one up to ``top_k`` ranks closer in sound; a
    track without tempo or key keeps its place relative to other unknowns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from segue.listen.camelot import camelot_steps
from segue.playlist.catalog import Catalog

TEMPO_BASE = 0.5  # any beat-matchable pair
TEMPO_CLOSENESS = 0.2  # more for a smaller speed change
KEY_SHARE = 0.3
HALF_DOUBLE_SCORE = 0.8
NEIGHBOUR_KEY_SCORE = 0.75


@dataclass(frozen=True)
class Mixability:
    """What counts as mixable, and how strongly to prefer it (defaults match the mix's)."""

    tolerance: float = 4.0  # percent of speed change allowed to match tempos
    min_confidence: float = 0.35  # tempo confidence both tracks need
    half_double: bool = True  # match at half or double time too
    top_k: int = 10  # candidates re-ranked (the rest keep their similarity order)
    weight: float = 0.5  # share of mixability in the re-ranking blend


DEFAULT = Mixability()


@dataclass(frozen=True)
class TempoMatch:
    """``bpm_b * speed == bpm_a * factor``: the incoming track played ``speed`` times as fast
    beats ``factor`` times as often as the outgoing one (1, or 0.5 / 2 at half/double time)."""

    speed: float
    factor: float

    @property
    def deviation(self) -> float:
        """Speed change in percent (absolute)."""
        return abs(self.speed - 1.0) * 100.0


def tempo_match(bpm_a: float, bpm_b: float, tolerance: float = DEFAULT.tolerance,
                half_double: bool = DEFAULT.half_double) -> TempoMatch | None:  # fmt: skip
    """How track b (``bpm_b``) can follow track a (heard at ``bpm_a``) beat for beat, or None
    (the same tempo first; with any tolerance under 33 % at most one factor fits)."""
    if not (math.isfinite(bpm_a) and math.isfinite(bpm_b) and bpm_a > 0 and bpm_b > 0):
        return None
    for factor in (1.0, 0.5, 2.0) if half_double else (1.0,):
        m = TempoMatch(bpm_a * factor / bpm_b, factor)
        if m.deviation <= tolerance + 1e-9:
            return m
    return None


def _rows(candidates: Sequence[int] | np.ndarray) -> np.ndarray:
    return np.asarray(candidates, dtype=np.int64).reshape(-1)


def _confident(catalog: Catalog, i: int, m: Mixability) -> bool:
    c = catalog.bpm_confidence[i]
    return bool(math.isfinite(catalog.bpm[i]) and math.isfinite(c) and c >= m.min_confidence)


def tempo_scores(catalog: Catalog, previous: int, candidates: Sequence[int] | np.ndarray,
                 m: Mixability = DEFAULT) -> np.ndarray:  # fmt: skip
    """Per candidate, 0..0.7: how easily it beat-matches after ``previous`` (0 = it cannot)."""
    rows = _rows(candidates)
    out = np.zeros(len(rows))
    if not _confident(catalog, previous, m):
        return out
    for j, b in enumerate(rows):
        if not _confident(catalog, int(b), m):
            continue
        match = tempo_match(float(catalog.bpm[previous]), float(catalog.bpm[b]), m.tolerance,
                            m.half_double)  # fmt: skip
        if match is not None:
            closeness = 1.0 - match.deviation / m.tolerance if m.tolerance > 0 else 1.0
            score = TEMPO_BASE + TEMPO_CLOSENESS * min(max(closeness, 0.0), 1.0)
            out[j] = score * (1.0 if match.factor == 1.0 else HALF_DOUBLE_SCORE)
    return out


def beat_matchable(catalog: Catalog, previous: int, candidates: Sequence[int] | np.ndarray,
                   m: Mixability = DEFAULT) -> np.ndarray:  # fmt: skip
    """Boolean per candidate: the mix would beat-match it after ``previous``."""
    return tempo_scores(catalog, previous, candidates, m) > 0


def key_scores(catalog: Catalog, previous: int,
               candidates: Sequence[int] | np.ndarray) -> np.ndarray:  # fmt: skip
    """Per candidate: 1 for the same key as ``previous``, 0.75 for a Camelot neighbour, else 0."""
    rows = _rows(candidates)
    prev = catalog.camelot[previous]
    per_code: dict[str | None, float] = {}
    out = np.zeros(len(rows))
    for j, b in enumerate(rows):
        code = catalog.camelot[int(b)]
        if code not in per_code:
            steps = camelot_steps(prev, code)
            per_code[code] = {0: 1.0, 1: NEIGHBOUR_KEY_SCORE}.get(steps, 0.0)  # type: ignore[arg-type]
        out[j] = per_code[code]
    return out


def key_compatible(catalog: Catalog, previous: int,
                   candidates: Sequence[int] | np.ndarray) -> np.ndarray:  # fmt: skip
    """Boolean per candidate: same key or a Camelot neighbour of ``previous``."""
    return key_scores(catalog, previous, candidates) > 0


def mix_scores(catalog: Catalog, previous: int, candidates: Sequence[int] | np.ndarray,
               m: Mixability = DEFAULT) -> np.ndarray:  # fmt: skip
    """Per candidate, 0..1: how well it can be mixed after ``previous`` (module docstring)."""
    return (tempo_scores(catalog, previous, candidates, m)
            + KEY_SHARE * key_scores(catalog, previous, candidates))  # fmt: skip


def prefer_mixable(catalog: Catalog, previous: int, candidates: Sequence[int] | np.ndarray,
                   m: Mixability = DEFAULT) -> np.ndarray:  # fmt: skip
    """Positions into ``candidates`` (ordered best first by similarity) that put mixable
    tracks first among the ``top_k`` nearest; the rest follow in their order.

    Use as ``order = prefer_mixable(cat, prev, cand, m); cand, scores = cand[order],
    scores[order]``."""
    rows = _rows(candidates)
    k = min(max(int(m.top_k), 0), len(rows))
    if k <= 1 or m.weight <= 0:
        return np.arange(len(rows))
    closeness = 1.0 - np.arange(k) / k
    blend = (1.0 - m.weight) * closeness + m.weight * mix_scores(catalog, previous, rows[:k], m)
    head = np.argsort(-blend, kind="stable")
    return np.concatenate([head, np.arange(k, len(rows))])


def describe_fit(catalog: Catalog, previous: int, candidate: int, m: Mixability = DEFAULT) -> str:
    """A few words on how ``candidate`` follows ``previous`` in a mix, for reports and --json:
    "beat-matchable at +1.6 % (half time); keys 8A -> 9A (neighbours)"."""
    parts = []
    if _confident(catalog, previous, m) and _confident(catalog, candidate, m):
        match = tempo_match(float(catalog.bpm[previous]), float(catalog.bpm[candidate]),
                            m.tolerance, m.half_double)  # fmt: skip
        if match is None:
            parts.append(f"tempos {catalog.bpm[previous]:.0f} and {catalog.bpm[candidate]:.0f} "
                         f"bpm do not match")  # fmt: skip
        else:
            when = {0.5: " (half time)", 2.0: " (double time)"}.get(match.factor, "")
            parts.append(f"beat-matchable at {100 * (match.speed - 1):+.1f} %{when}")
    else:
        parts.append("tempo unsure")
    a, b = catalog.camelot[previous], catalog.camelot[candidate]
    steps = camelot_steps(a, b)
    if steps is None:
        parts.append("key unknown")
    else:
        parts.append(f"keys {a} -> {b} " + ("(same)" if steps == 0 else "(neighbours)" if steps == 1
                                             else "(apart)"))  # fmt: skip
    return "; ".join(parts)
