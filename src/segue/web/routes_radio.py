"""Radio: the next picks for a listener, from what they have heard so far (stateless).

The page keeps the state (seeds, history, skips, the two knobs) and posts it; the library
resumes a radio with that history (:meth:`segue.api.Library.radio_next`) and draws the next
``k`` tracks. So any number of tabs and restarts of the server are fine, and "no repeats" is
exactly the history the page sent (played tracks come round again only when every track has
been played: endless).
"""

from __future__ import annotations

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


@router.post("/radio")
def radio(req: RadioRequest, st: State) -> dict:
    """The next ``k`` tracks of a keep-on / drunk radio from ``seeds`` after ``history``;
    skipped tracks are never played again and steer the radio away from themselves."""
    lib = st.library()
    seeds = [lib.row(i) for i in dict.fromkeys(req.seeds)]
    # tracks removed by a rescan since the page played them are simply forgotten
    rows = lib.radio_next(seeds, lib.known_rows(req.history), req.k, skipped=lib.known_rows(req.skipped),
                          lookback=req.lookback, noise=req.noise, rng=req.random_seed)  # fmt: skip
    return {"tracks": lib.rows_json(rows, paths=False)}
