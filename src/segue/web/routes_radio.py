"""Radio: the next picks for a listener, from what they have heard so far (stateless).

The page keeps the state (seeds, history, skips, the two knobs) and posts it; the server
rebuilds a :class:`~segue.playlist.radio.RadioSession` with that history and draws the next
``k`` tracks. So any number of tabs and restarts of the server are fine, and "no repeats" is
exactly the history the page sent (the session forgets the oldest half only when every track
has been played: endless).
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, Field

from segue.web.deps import State

router = APIRouter(tags=["radio"])

MAX_HISTORY = 5000


class RadioRequest(BaseModel):
    seeds: list[int] = Field(min_length=1, max_length=20, description="track ids to start from")
    history: list[int] = Field(default=[], max_length=MAX_HISTORY, description="played ids, oldest first")
    skipped: list[int] = Field(default=[], max_length=MAX_HISTORY, description="ids skipped early")
    lookback: int = Field(default=3, ge=0, le=10, description="'Keep on': recent tracks that steer (0: the seeds)")
    noise: float = Field(default=0.0, ge=0.0, le=1.0, description="'Drunk': 0 exact .. 1 nearly random")
    k: int = Field(default=10, ge=1, le=50, description="how many picks")
    random_seed: int | None = Field(default=None, ge=0, le=2**32 - 1)


def _session(catalog, seeds: list[int], history: list[int], skipped: set[int], lookback: int,
             noise: float, rules, rng):  # fmt: skip
    from segue.playlist.radio import RadioSession

    session = RadioSession(catalog, seeds, lookback=lookback, noise=noise, rules=rules, rng=rng)
    seed_set = set(seeds)
    for row in history:
        if row in seed_set:
            continue
        session.history.add(row)
        if row not in skipped:
            session.window.append(row)
    return session


def next_picks(catalog, seeds: list[int], history: list[int], skipped: set[int], lookback: int,
               noise: float, k: int, rng=None) -> list[int]:  # fmt: skip
    """Catalogue rows of the next ``k`` picks after ``history`` (rows), radio from ``seeds``.

    Skipped tracks count as played (no repeat) but leave the query window: they do not steer.
    When the playlist rules (artist gap, near-duplicates) leave no unplayed track, they are
    relaxed before anything played is repeated; repeats come only once everything has played.
    """
    from segue.playlist.rules import Rules

    rng = np.random.default_rng(rng)
    played = set(seeds) | set(history)
    out: list[int] = []
    for rules in (Rules(), Rules(artist_gap=0, near_dup_eps=0.0)):
        session = _session(catalog, seeds, history + out, skipped, lookback, noise, rules, rng)
        while len(out) < k:
            try:
                row = session.next()
            except StopIteration:
                break
            if row in played and len(played) < len(catalog):
                break  # the session forgot its history: relax the rules first
            played.add(row)
            out.append(row)
        if len(out) == k:
            break
    if len(out) < k:  # everything has been played: go round again (endless)
        session = _session(catalog, seeds, history + out, skipped, lookback, noise, Rules(artist_gap=0), rng)
        while len(out) < k:
            try:
                out.append(session.next())
            except StopIteration:
                break
    return out


@router.post("/radio")
def radio(req: RadioRequest, st: State) -> dict:
    """The next ``k`` tracks of a keep-on / drunk radio from ``seeds`` after ``history``."""
    view = st.view()
    seeds = [view.row(i) for i in dict.fromkeys(req.seeds)]
    # tracks removed by a rescan since the page played them are simply forgotten
    history = view.known_rows(req.history)
    skipped = set(view.known_rows(req.skipped))
    rows = next_picks(view.catalog, seeds, history, skipped, req.lookback, req.noise, req.k, req.random_seed)
    return {"tracks": [view.track(r) for r in rows]}
