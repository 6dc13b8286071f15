"""Browsing: albums, artists, genres and tags as cards; one group's tracks in play order;
radio seeds that stand for a whole album or artist; recently added tracks."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from segue.web.deps import State

router = APIRouter(tags=["browse"])

Kind = Literal["album", "artist", "genre", "tag"]
Key = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]


@router.get("/browse/{kind}")
def groups(
    kind: Kind,
    st: State,
    sort: Literal["name", "tracks", "recent"] = "name",
    limit: Annotated[int, Query(ge=1, le=100000)] = 100000,
) -> dict:
    """Every album, artist, genre or (MusiCNN) tag as a card; ``sort=recent`` for "recently
    added" (newest first)."""
    return {"kind": kind, "groups": st.library().browse_groups(kind, sort)[:limit]}


@router.get("/browse/{kind}/{key}")
def group(kind: Kind, key: Key, st: State) -> dict:
    """One group: its card (and its albums, for an artist, genre or tag) and its tracks in play
    order (an album in disc and track order)."""
    lib = st.library()
    card, rows = lib.browse_group(kind, key)
    return {"group": card, "tracks": lib.rows_json(rows, paths=False)}


@router.get("/browse/{kind}/{key}/seeds")
def seeds(kind: Kind, key: Key, st: State, k: Annotated[int, Query(ge=1, le=20)] = 20) -> dict:
    """Up to ``k`` track ids that stand for the whole group, to seed a radio from it."""
    lib = st.library()
    _, rows = lib.browse_group(kind, key)
    return {"seeds": [int(lib.catalog().ids[r]) for r in lib.seed_sample(rows, k)]}


@router.get("/recent")
def recent(st: State, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict:
    """The most recently added tracks, newest first."""
    lib = st.library()
    return {"tracks": lib.rows_json(lib.recent_rows(limit), paths=False)}
