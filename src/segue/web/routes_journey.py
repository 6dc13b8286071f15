"""Journeys through waypoints, playlist export (M3U/XSPF/...), and the mix render stub."""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from segue.web.deps import State

router = APIRouter(tags=["journeys"])

EXPORT_TYPES = {
    "m3u": "audio/x-mpegurl",
    "m3u8": "audio/x-mpegurl",
    "xspf": "application/xspf+xml",
    "pls": "audio/x-scpls",
}


class JourneyRequest(BaseModel):
    waypoints: list[int] = Field(min_length=2, max_length=20, description="track ids, in order")
    steps: int = Field(default=5, ge=0, le=50, description="tracks between each pair of waypoints")


class ExportRequest(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=10000)
    format: Literal["m3u", "m3u8", "xspf", "pls"] = "m3u"
    name: str = Field(default="segue", max_length=100)


@router.post("/journey")
def journey(req: JourneyRequest, st: State) -> dict:
    """Every waypoint in order with ``steps`` tracks between each pair (as ``segue journey``)."""
    lib, view = st.request_library()
    for i in req.waypoints:
        view.row(i)  # 404 for an unknown id rather than a fuzzy match of its digits
    result = lib.journey([str(i) for i in req.waypoints], req.steps)
    out = []
    for step in result.steps:
        t = view.track(step.index)
        t["waypoint"] = bool(step.waypoint)
        t["segment"] = int(step.segment)
        out.append(t)
    return {"tracks": out}


def _safe_name(name: str) -> str:
    name = re.sub(r"[^\w .-]+", "_", name, flags=re.UNICODE).strip(" .")
    return name[:80] or "segue"


@router.post("/export")
def export(req: ExportRequest, st: State) -> Response:
    """The tracks as a playlist file to download (absolute paths: it is for this machine)."""
    lib, view = st.request_library()
    rows = [view.row(i) for i in req.ids]
    name = _safe_name(req.name)
    folder = tempfile.mkdtemp(prefix="segue-export-")
    target = os.path.join(folder, f"playlist.{req.format}")
    try:
        written = lib.write_playlist(rows, target, absolute=True)
        data = written.read_bytes()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(target)
        with contextlib.suppress(OSError):
            os.rmdir(folder)
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(
        data,
        media_type=EXPORT_TYPES[req.format],
        headers={"Content-Disposition": f'attachment; filename="{ascii_name}.{req.format}"'},
    )


@router.post("/mix", status_code=501)
def mix() -> JSONResponse:
    """Render a continuous mix of a track list. STUB: wired up when the mix renderer lands."""
    # TODO(lead): call the mix renderer here (job id + progress polling + download).
    return JSONResponse({"detail": "mixes are not available yet"}, status_code=501)
