"""Media: the audio file as it is (``stream``/``download``, with HTTP Range) and cover art
(scaled down on request)."""

from __future__ import annotations

import io
import os
from typing import Any

from fastapi.responses import FileResponse, Response

from segue.api import TrackNotFound, media_type
from segue.integrations.subsonic.protocol import NOT_FOUND, SubsonicError
from segue.integrations.subsonic.registry import Call, handles
from segue.integrations.subsonic.shapes import ALBUM, ARTIST


class RangeFileResponse(FileResponse):
    """A file with HTTP Range support for POST as for GET: OpenSubsonic's ``formPost`` lets a
    client (py-sonic does) call ``stream`` as a POST and still seek."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("method") == "POST":
            scope = {**scope, "method": "GET"}
        await super().__call__(scope, receive, send)


@handles("stream", "download")
def _stream(call: Call) -> Response:
    sid = call.params.required("id")
    if not sid.isdigit():
        raise SubsonicError(NOT_FOUND, f"song not found: {sid}")
    try:
        path, fmt = call.lib.track_file(int(sid))
    except TrackNotFound as exc:
        raise SubsonicError(NOT_FOUND, str(exc)) from None
    filename = os.path.basename(path) if call.method == "download" else None
    return RangeFileResponse(path, media_type=media_type(fmt), filename=filename,
                             headers={"Cache-Control": "private, max-age=3600"})  # fmt: skip


@handles("getCoverArt")
def _cover(call: Call) -> Response:
    sid = call.params.required("id")
    sh = call.shapes()
    digest: str | None = sid
    if sid.startswith(ALBUM):
        digest = sh.album(sid).cover
    elif sid.startswith(ARTIST):
        digest = sh.artist_id3(sh.artist(sid))["coverArt"]
    elif sid.isdigit() and int(sid) in sh.col.tracks:
        digest = sh.col.tracks[int(sid)]["cover"]
    hexadecimal = bool(digest) and all(c in "0123456789abcdefABCDEF" for c in str(digest))
    got = call.lib.cover_image(str(digest)) if hexadecimal else None
    if got is None:
        raise SubsonicError(NOT_FOUND, f"cover art not found: {sid}")
    mime, data = got
    size = call.params.int("size", 0, 0, 4096)
    if size:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as image:
            if max(image.size) > size:
                image.thumbnail((size, size))
                buffer = io.BytesIO()
                image.convert("RGB").save(buffer, format="JPEG", quality=88)
                mime, data = "image/jpeg", buffer.getvalue()
    if not mime.startswith("image/"):
        mime = "application/octet-stream"
    return Response(data, media_type=mime, headers={"Cache-Control": "private, max-age=86400"})
