"""Library: status, search as you type, one track, its audio (HTTP Range), covers, similar."""

from __future__ import annotations

import os
import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, Response
from starlette.responses import MalformedRangeHeader

from segue.api import NotReady, media_type
from segue.web.deps import State

router = APIRouter(tags=["library"])

_HASH_RE = re.compile(r"^[0-9a-fA-F]{16,128}$")

TrackId = Annotated[int, Query(ge=1, le=2**62)]


@router.get("/status")
def status(st: State) -> dict:
    """How many tracks the library holds and how many the player can use (analysed)."""
    tracks = st.raw_library().count_tracks()
    try:
        analysed = len(st.library().catalog())
    except NotReady:  # nothing analysed yet is a state, not an error, here; a bug stays a 500
        analysed = 0
    return {"tracks": tracks, "analysed": analysed, "db": os.path.basename(str(st.db_path))}


@router.get("/search")
def search_tracks(
    st: State,
    q: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict:
    """Tracks whose title, artist or album contain every word typed (empty: the library)."""
    lib = st.library()
    return {"tracks": lib.rows_json(lib.search(q, limit), paths=False)}


@router.get("/tracks/{track_id}")
def track(track_id: int, st: State) -> dict:
    """One analysed track."""
    lib = st.library()
    return lib.rows_json([lib.row(track_id)], paths=False)[0]


class AudioFileResponse(FileResponse):
    """A file with Range support that ignores a Range header it cannot parse (``bytes=5-2``)
    and sends the whole file with a 200, as RFC 9110 (14.2) allows, instead of a 400 that
    leaves a player with nothing. An unsatisfiable range (past the end) is still a 416."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        headers = dict(scope.get("headers", []))
        value = headers.get(b"range")
        if value is not None:
            try:
                self._parse_range_header(value.decode("latin-1"), 1 << 62)
            except MalformedRangeHeader:
                scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"range"]}
        await super().__call__(scope, receive, send)


@router.get("/tracks/{track_id}/audio", response_class=FileResponse)
@router.head("/tracks/{track_id}/audio", response_class=FileResponse, include_in_schema=False)
def audio(track_id: int, st: State) -> FileResponse:
    """The track's own file, byte for byte, with HTTP Range support (seeking).

    Only files the library knows are served, by id: no path ever comes from the request.
    """
    path, fmt = st.raw_library().track_file(track_id)
    return AudioFileResponse(
        path,
        media_type=media_type(fmt),
        headers={"Cache-Control": "private, max-age=3600"},
    )


@router.get("/covers/{digest}")
def cover(digest: str, st: State) -> Response:
    """A cover image by its content hash (as found in a track's ``cover``)."""
    got = st.raw_library().cover_image(digest) if _HASH_RE.match(digest) else None
    if got is None:
        raise HTTPException(404, "no such cover")
    mime, data = got
    if not mime.startswith("image/"):
        mime = "application/octet-stream"
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=86400, immutable"})


@router.get("/similar")
def similar(
    id: TrackId,
    st: State,
    n: Annotated[int, Query(ge=1, le=200)] = 10,
) -> dict:
    """The ``n`` nearest tracks by listening (the same call as ``segue similar``)."""
    lib = st.library()
    # by row, never as seed text: an id is not a fuzzy search nor a file in the server's cwd
    rows, scores = lib.similar_rows(lib.row(id), n)
    return {"seed": id, "tracks": lib.rows_json(rows, scores, paths=False)}
