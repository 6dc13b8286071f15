"""Keep-on / drunk radio: a playlist that follows its own recent past.

Query
    ``q = normalise(mean(v[t] for t in the last `lookback` tracks))`` where each ``v[t]`` is the
    track's unit vector (Deej-AI summed raw vectors, so loud/high-norm tracks dominated; here
    every track weighs the same).  The seeds count as the first tracks, so with several seeds
    and ``lookback >= len(seeds)`` the first query is their centroid.  ``lookback=0`` anchors
    the query on the seeds for the whole playlist ("more like these"); ``lookback=1`` follows
    the last track (it can drift far); a large lookback stays near where it started.

Negative seeds
    ``q' = normalise(q - beta * sum(w_n v[n]) / max(sum(w_n), 1))`` with ``beta =
    negative_weight`` (0.5 by default: subtracting the full negative over-shoots towards
    whatever is opposite it) and ``w_n = 1`` for the given negatives (0.5 for skipped tracks,
    see :meth:`RadioSession.skip`); and any candidate closer (cosine) to one of the given
    negative seeds than to the positive query ``q`` is skipped outright.

Noise ("drunk"), calibrated by rank
    With ``N`` eligible tracks left (static filters passed, not yet played), each step draws
    ``r = floor(U * N**X)``, ``U ~ Uniform[0, 1)``, and takes the ``r``-th best eligible track
    (then the next ones if the sequential rules reject it).  So

    - ``X = 0``: ``r = 0`` always; no random numbers are drawn: deterministic;
    - ``X = 1``: ``r`` is uniform over all ``N``: a random eligible track;
    - in between the pick is uniform among the top ``N**X``; the mean rank is ``(N**X - 1)/2``:

      ======  ==============  ===============  ================
      X       N = 1 000       N = 100 000      N = 1 000 000
      ======  ==============  ===============  ================
      0.1     top 2           top 3            top 4
      0.3     top 8           top 32           top 63
      0.5     top 32          top 316          top 1 000
      1.0     anything        anything         anything
      ======  ==============  ===============  ================

    Ranks up to 256 come from the index (exact ranks); deeper ranks are located in a random
    sample of 4 096 eligible tracks (the track at the same relative position in the sample), so
    the cost does not grow with the library.  ``tests/test_playlist_radio.py`` checks that the
    mean rank of picks grows with X, that X=0 repeats exactly and that X=1 spreads like random.

Near-ties
    Among accepted candidates whose score is within ``tie_margin`` of the chosen rank's
    (at most 8), the one with the lowest :func:`segue.playlist.order.transition_cost` from the
    previous track wins: similarity decides, transitions break ties.

Rules
    :class:`segue.playlist.rules.Rules` apply to every pick (not to the seeds).  ``radio``
    returns fewer tracks when the rules exhaust the library; a :class:`RadioSession` with
    ``endless=True`` instead first ignores the artist gap/caps (if unplayed tracks remain but
    the artist rules block them all), then forgets the older part of its no-repeat memory and
    goes on.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from segue.errors import UserError
from segue.index import Index
from segue.playlist.catalog import Catalog, require_index
from segue.playlist.history import History
from segue.playlist.mixable import Mixability, prefer_mixable
from segue.playlist.order import DEFAULT_WEIGHTS, TransitionWeights, transition_costs
from segue.playlist.rules import Rules, fit_to_minutes

EXACT_RANKS = 256
RANK_SAMPLE = 4096
MAX_TIES = 8


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _check_indices(catalog: Catalog, xs: Iterable[int] | int | None, what: str) -> list[int]:
    if xs is None:
        return []
    if isinstance(xs, int | np.integer):
        xs = [int(xs)]
    out: list[int] = []
    for x in xs:
        j = require_index(catalog, x, what)
        if j not in out:
            out.append(j)
    return out


class RadioSession:
    """An endless radio: ``next()`` gives the next track index, forever without repeats.

    ``skip()`` says the listener skipped the last track: it leaves the query window, joins the
    negative seeds with half weight, and a replacement is returned.  ``reseed(seeds)`` steers
    to new seeds while remembering what was played.  ``played`` is the list so far (seeds
    first).  Parameters as in :func:`radio`.
    """

    def __init__(
        self,
        catalog: Catalog,
        seeds: Sequence[int] | int,
        *,
        lookback: int = 3,
        noise: float = 0.0,
        negative: Sequence[int] | int | None = None,
        negative_weight: float = 0.5,
        rules: Rules | None = None,
        rng: Any = None,
        index: Index | None = None,
        tie_margin: float = 0.02,
        weights: TransitionWeights = DEFAULT_WEIGHTS,
        endless: bool = True,
        mixable: Mixability | None = None,
    ) -> None:
        self.catalog = catalog
        seeds = _check_indices(catalog, seeds, "seed")
        if not seeds:
            raise UserError("radio needs at least one seed track")
        if isinstance(lookback, bool) or not isinstance(lookback, int | np.integer) or lookback < 0:
            raise UserError(f"lookback must be a whole number >= 0, got {lookback!r}")
        try:
            noise = float(noise)
        except (TypeError, ValueError):
            raise UserError(f"noise must be a number between 0 and 1, got {noise!r}") from None
        if not 0.0 <= noise <= 1.0:
            raise UserError(f"noise must be between 0 and 1, got {noise:g}")
        if negative_weight < 0:
            raise UserError(f"negative_weight must be >= 0, got {negative_weight:g}")
        self.lookback = int(lookback)
        self.noise = noise
        self.negative = _check_indices(catalog, negative, "negative seed")
        self.negative_weight = float(negative_weight)
        self._neg_w = [1.0] * len(self.negative)
        self._hard_negative = list(self.negative)  # the user's: candidates nearer to them are skipped
        self.rules = rules if rules is not None else Rules()
        self.rng = _rng(rng)
        self.index = index if index is not None else catalog.get_index()
        self.tie_margin = float(tie_margin)
        self.weights = weights
        self.endless = endless
        #: Prefer, among the tracks nearest in sound, those a mix can beat-match or that are in
        #: a compatible key with the previous one (playlist.mixable); None: sound alone.
        self.mixable = mixable
        self.allowed = self.rules.allowed_mask(catalog)
        self._filter = self.index.prepare_filter(self.allowed)
        self._allowed_rows: np.ndarray | None = None
        self.n_allowed = int(self.allowed.sum())
        self.seeds = seeds
        self.history = History(catalog, seeds)
        self.window: list[int] = list(seeds)
        self._played: list[int] = list(seeds)
        self.last_rank: int | None = None

    # --- state --------------------------------------------------------------------------------

    @property
    def played(self) -> list[int]:
        """Everything played so far, seeds first (the no-repeat memory may be shorter)."""
        return list(self._played)

    def query(self) -> tuple[np.ndarray, np.ndarray]:
        """(shifted query, positive query) unit vectors for the next pick."""
        v = self.catalog.vectors
        win = self.seeds if self.lookback == 0 else self.window[-self.lookback :]
        if not win:
            win = self.seeds
        q = v[win].mean(axis=0)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        pos = q.astype(np.float32)
        if self.negative and self.negative_weight > 0:
            w = np.asarray(self._neg_w, dtype=np.float32)
            neg = (v[self.negative] * w[:, None]).sum(axis=0) / max(float(w.sum()), 1.0)
            q = q - self.negative_weight * neg
            nq = float(np.linalg.norm(q))
            q = pos if nq < 1e-6 else q / nq
        return np.ascontiguousarray(q, dtype=np.float32), pos

    # --- picking ------------------------------------------------------------------------------

    def _draw_rank(self, n_left: int) -> int:
        if self.noise <= 0.0 or n_left <= 1:
            return 0
        span = n_left**self.noise
        return min(int(self.rng.random() * span), n_left - 1)

    def _pick_from(self, cand: np.ndarray, scores: np.ndarray, start: int, pos: np.ndarray) -> int | None:
        """The first candidate at position >= ``start`` that the rules accept (else the nearest
        before it); near-ties after it are broken by transition cost.  ``cand`` holds only
        unplayed tracks, best first."""
        if len(cand) == 0:
            return None
        if self.mixable is not None and self.history.indices:
            order = prefer_mixable(self.catalog, self.history.indices[-1], cand, self.mixable)
            cand, scores = cand[order], scores[order]
        ok = self.rules.accept_mask(cand, self.history)
        if self._hard_negative:
            tv = self.catalog.vectors[cand]
            ok &= (tv @ self.catalog.vectors[self._hard_negative].T).max(axis=1) <= tv @ pos
        good = np.flatnonzero(ok)
        if len(good) == 0:
            return None
        after = good[good >= start]
        if len(after) == 0:
            p0 = int(good[-1])
            self.last_rank = p0
            return int(cand[p0])
        p0 = int(after[0])
        self.last_rank = p0
        ties = after[scores[after] >= scores[p0] - self.tie_margin][:MAX_TIES]
        if len(ties) == 1 or not self.history.indices:
            return int(cand[p0])
        prev = self.history.indices[-1]
        tc = transition_costs(self.catalog, prev, cand[ties], self.weights)
        return int(cand[ties[int(np.argmin(tc))]])

    def _pick(self) -> int | None:
        q, pos = self.query()
        used_allowed = int(self.allowed[np.asarray(self.history.indices)].sum())
        n_left = max(self.n_allowed - used_allowed, 0)
        if n_left == 0:
            return None
        r = self._draw_rank(n_left)
        if r >= EXACT_RANKS and n_left > RANK_SAMPLE:
            got = self._pick_sampled(q, pos, r, n_left)
            if got is not None:
                return got
            r = 0
        n = self.index.n
        fetch = min(n, r + 64 + len(self.history))
        while True:
            idx, sc = self.index.search(q, fetch, allowed=self._filter)
            idx, sc = idx[0], sc[0]
            keep = idx >= 0
            keep[keep] = ~self.history.used(idx[keep])
            cand, scores = idx[keep], sc[keep]
            if len(cand) > r or fetch >= n:
                got = self._pick_from(cand, scores, min(r, len(cand)), pos)
                if got is not None or fetch >= n:
                    return got
            fetch = min(n, fetch * 4)

    def _pick_sampled(self, q: np.ndarray, pos: np.ndarray, r: int, n_left: int) -> int | None:
        if self._allowed_rows is None:
            self._allowed_rows = np.flatnonzero(self.allowed)
        rows = self.rng.choice(self._allowed_rows, size=RANK_SAMPLE, replace=False)
        rows = rows[~self.history.used(rows)]
        if len(rows) == 0:
            return None
        sims = self.catalog.vectors[rows] @ q
        order = np.argsort(-sims, kind="stable")
        # the sample stands for the eligible tracks: rank r of n_left sits at the same fraction
        start = min(int(r / n_left * len(rows)), len(rows) - 1)
        return self._pick_from(rows[order], sims[order], start, pos)

    def next(self) -> int:
        """The next track index (also appended to ``played``)."""
        got = self._pick()
        if got is None and self.endless:
            # unplayed tracks may remain but the artist rules block them all: bend those first
            strict = self.rules
            self.rules = replace(strict, artist_gap=0, max_per_artist=None, max_per_album=None)
            try:
                got = self._pick()
            finally:
                self.rules = strict
        if got is None and self.endless and len(self.history) > 1:
            # every eligible track has been played: forget the older half and carry on
            keep = min(len(self.history) // 2, max(self.rules.artist_gap, 1) + 8)
            self.history.forget(keep)
            got = self._pick()
        if got is None:
            raise StopIteration("no track left that the rules allow")
        self._played.append(got)
        self.history.add(got)
        self.window.append(got)
        return got

    def __iter__(self) -> Iterator[int]:
        return self

    def __next__(self) -> int:
        return self.next()

    def skip(self) -> int:
        """The listener skipped the last track: steer away from it and return a replacement.

        The skipped track leaves the query window and becomes a soft negative seed (weight 0.5
        in the query shift, without the "closer to a negative" exclusion, which would empty a
        whole neighbourhood on one skip)."""
        last = self._played[-1]
        if last not in self.seeds and self.window and self.window[-1] == last:
            self._steer_away(self.window.pop())
        return self.next()

    def _steer_away(self, row: int) -> None:
        if row not in self.negative:
            self.negative.append(row)
            self._neg_w.append(0.5)

    @classmethod
    def resume(
        cls,
        catalog: Catalog,
        seeds: Sequence[int] | int,
        history: Sequence[int] = (),
        skipped: Iterable[int] = (),
        **options: Any,
    ) -> RadioSession:
        """A session that has already played ``history`` (rows, oldest first), so a listener
        whose state lives elsewhere (a web page, an MPD queue) can ask for what comes next.

        Every track of ``history`` counts as played (never repeated while unplayed ones remain);
        the ``skipped`` ones are handled as :meth:`skip` does: out of the query window, and a
        soft negative seed, so the radio steers away from what was just skipped. ``options``
        are :class:`RadioSession`'s keywords.
        """
        session = cls(catalog, seeds, **options)
        skipped = set(skipped)
        seed_set = set(session.seeds)
        for row in history:
            row = require_index(catalog, row, "history track")
            if row in seed_set:
                continue
            session.history.add(row)
            session._played.append(row)
            if row in skipped:
                session._steer_away(row)
            else:
                session.window.append(row)
        return session

    def reseed(self, seeds: Sequence[int] | int) -> None:
        """Steer towards new seeds; played tracks stay played (no repeats across reseeds)."""
        seeds = _check_indices(self.catalog, seeds, "seed")
        if not seeds:
            raise UserError("reseed needs at least one seed track")
        self.seeds = seeds
        self.window = list(seeds)
        for s in seeds:
            if int(self.catalog.group[s]) not in self.history.groups:
                self.history.add(s)
                self._played.append(s)


def next_picks(
    catalog: Catalog,
    seeds: Sequence[int],
    history: Sequence[int],
    k: int,
    *,
    skipped: Iterable[int] = (),
    lookback: int = 3,
    noise: float = 0.0,
    rng: Any = None,
    rules: Rules | None = None,
) -> list[int]:
    """Rows of the next ``k`` picks of an endless radio from ``seeds`` that has played
    ``history`` (see :meth:`RadioSession.resume`; ``skipped`` steer away).

    When the rules (artist gap, near-duplicates) leave no unplayed track, they are relaxed
    before anything played is repeated; repeats come only once everything has played.
    ``rules``' filters (tempo, key, tags, ...) hold throughout; only its sequence rules relax.
    """
    rng = _rng(rng)
    skipped = set(skipped)
    played = set(seeds) | set(history)
    out: list[int] = []

    def session(rules: Rules) -> RadioSession:
        return RadioSession.resume(catalog, seeds, list(history) + out, skipped, lookback=lookback,
                                   noise=noise, rules=rules, rng=rng)  # fmt: skip

    base = rules if rules is not None else Rules()
    for rules in (base, replace(base, artist_gap=0, near_dup_eps=0.0)):
        current = session(rules)
        while len(out) < k:
            try:
                row = current.next()
            except StopIteration:
                break
            if row in played and len(played) < len(catalog):
                break  # the session forgot its history: relax the rules first
            played.add(row)
            out.append(row)
        if len(out) == k:
            break
    if len(out) < k:  # everything has been played: go round again (endless)
        current = session(replace(base, artist_gap=0))
        while len(out) < k:
            try:
                out.append(current.next())
            except StopIteration:
                break
    return out


def radio(
    catalog: Catalog,
    seeds: Sequence[int] | int,
    n: int | None = 20,
    *,
    lookback: int = 3,
    noise: float = 0.0,
    negative: Sequence[int] | int | None = None,
    negative_weight: float = 0.5,
    rules: Rules | None = None,
    rng: Any = None,
    index: Index | None = None,
    tie_margin: float = 0.02,
    weights: TransitionWeights = DEFAULT_WEIGHTS,
    include_seeds: bool = True,
    mixable: Mixability | None = None,
) -> list[int]:
    """The seeds followed by ``n`` new tracks (row indices); see the module docstring.

    ``n=None`` with ``rules.minutes`` set runs until the target length (the result is trimmed
    to the prefix closest to it); with both, whichever comes first.  Fewer than ``n`` tracks
    come back when the rules leave no more.  ``rng``: a seed or ``numpy.random.Generator``
    (only used when ``noise > 0``).
    """
    rules = rules if rules is not None else Rules()
    if n is None and rules.minutes is None:
        raise UserError("give a number of tracks or a target length in minutes")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0):
        raise UserError(f"the number of tracks must be a whole number >= 0, got {n!r}")
    session = RadioSession(
        catalog,
        seeds,
        lookback=lookback,
        noise=noise,
        negative=negative,
        negative_weight=negative_weight,
        rules=rules,
        rng=rng,
        index=index,
        tie_margin=tie_margin,
        weights=weights,
        endless=False,
        mixable=mixable,
    )
    limit = math.inf if n is None else int(n)
    new: list[int] = []
    while len(new) < limit and not rules.long_enough(session.history):
        try:
            new.append(session.next())
        except StopIteration:
            break
    out = (list(session.seeds) if include_seeds else []) + new
    if rules.minutes is not None:
        out = fit_to_minutes(catalog, out, rules.minutes)
    return out
