"""Listening events: starts, skips (and how far in) and full listens, kept for later learning."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from segue.web.deps import State

router = APIRouter(tags=["events"])


class PlayEventIn(BaseModel):
    track_id: int = Field(ge=1, le=2**62)
    event: Literal["start", "skip", "complete"]
    position_s: float | None = Field(default=None, ge=0, le=86400 * 7)
    duration_s: float | None = Field(default=None, ge=0, le=86400 * 7)


@router.post("/events", status_code=201)
def record(ev: PlayEventIn, st: State) -> dict:
    """Record one event in the library's ``plays`` table."""
    st.raw_library().record_play(ev.track_id, ev.event, ev.position_s, ev.duration_s)
    return {"ok": True}


@router.get("/events")
def recent(
    st: State,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict:
    """The most recent events, newest first."""
    plays = st.raw_library().plays(limit=limit)
    return {
        "events": [
            {"track_id": p.track_id, "event": p.event, "position_s": p.position_s,
             "duration_s": p.duration_s, "at": p.at}
            for p in plays
        ]
    }  # fmt: skip
