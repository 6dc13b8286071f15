"""The collection map: every analysed track as a point, with what colours and labels it."""

from __future__ import annotations

from fastapi import APIRouter

from segue.web.deps import State

router = APIRouter(tags=["map"])


@router.get("/map")
def collection_map(st: State) -> dict:
    """Columns, one entry per track: id, x, y in [0, 1], tag/genre codes, title, artist, cover."""
    return st.library().map_points()
