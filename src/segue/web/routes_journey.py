"""Journeys through waypoints, playlist export (M3U/XSPF/...), and mix renders (background jobs)."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from segue.api import Library
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
    lib = st.library()
    # rows straight to the engine: an id is never read as seed text (fuzzy match, a file named
    # like it in the server's cwd); an unknown id is a 404
    result = lib.journey_from_rows([lib.row(i) for i in req.waypoints], req.steps)
    out = lib.rows_json(result.rows, paths=False)
    for track, step in zip(out, result.steps, strict=True):
        track["waypoint"] = bool(step["waypoint"])
        track["segment"] = int(step["segment"])
    return {"tracks": out}


def _safe_name(name: str) -> str:
    name = re.sub(r"[^\w .-]+", "_", name, flags=re.UNICODE).strip(" .")
    return name[:80] or "segue"


@router.post("/export")
def export(req: ExportRequest, st: State) -> Response:
    """The tracks as a playlist file to download (absolute paths: it is for this machine)."""
    lib = st.library()
    rows = [lib.row(i) for i in req.ids]
    name = _safe_name(req.name)
    data = lib.playlist_text(rows, req.format, absolute=True, title=name).encode("utf-8")
    ascii_name = name.encode("ascii", "replace").decode().replace("?", "_")
    return Response(
        data,
        media_type=EXPORT_TYPES[req.format],
        headers={"Content-Disposition": f'attachment; filename="{ascii_name}.{req.format}"'},
    )


class MixRequest(BaseModel):
    ids: list[int] = Field(min_length=1, max_length=500, description="track ids, in order")
    format: Literal["ogg", "mp3", "opus", "flac", "wav"] = "ogg"
    fade: float = Field(default=8.0, ge=0.5, le=30.0, description="crossfade seconds")


@dataclass
class MixJob:
    """One background render; the page polls it and then downloads the file."""

    id: str
    folder: str
    path: str
    state: str = "running"  # running | done | error
    progress: float = 0.0
    error: str | None = None
    started: float = field(default_factory=time.monotonic)


_JOBS: dict[str, MixJob] = {}
_JOBS_LOCK = threading.Lock()
MAX_RUNNING_MIXES = 2
KEEP_FINISHED = 8


def _forget_old_jobs() -> None:
    finished = [j for j in _JOBS.values() if j.state != "running"]
    for job in sorted(finished, key=lambda j: j.started)[: max(0, len(finished) - KEEP_FINISHED)]:
        _JOBS.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)


def _render(job: MixJob, st: Any, paths: list[str], fade: float) -> None:
    def progress(share: float) -> None:
        job.progress = round(share, 3)

    try:
        # a thread of its own, used once: its connection is closed with it, not kept per thread
        with Library.open(st.db_path) as lib:
            lib.mix(paths, job.path, title="segue journey", progress=False,
                    on_progress=progress, fade=fade)  # fmt: skip
        job.progress, job.state = 1.0, "done"
    except Exception as exc:  # noqa: BLE001 - reported to the page, never raised into a thread
        job.state, job.error = "error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@router.post("/mix", status_code=202)
def mix(req: MixRequest, st: State) -> dict:
    """Start rendering the tracks as one continuous mix; poll ``/api/mix/{job}``."""
    lib = st.library()
    paths = [lib.catalog().path[lib.row(i)] for i in req.ids]  # 404 for an unknown id
    with _JOBS_LOCK:
        if sum(j.state == "running" for j in _JOBS.values()) >= MAX_RUNNING_MIXES:
            raise HTTPException(429, "two mixes are already rendering; try again when one is done")
        _forget_old_jobs()
        folder = tempfile.mkdtemp(prefix="segue-mix-")
        job = MixJob(id=secrets.token_urlsafe(8), folder=folder,
                     path=os.path.join(folder, f"segue-mix.{req.format}"))  # fmt: skip
        _JOBS[job.id] = job
    threading.Thread(target=_render, args=(job, st, paths, req.fade), daemon=True).start()
    return {"job": job.id, "state": job.state}


def _job(job_id: str) -> MixJob:
    job = _JOBS.get(job_id)
    if job is None:
        raise HTTPException(404, f"no mix job {job_id!r}")
    return job


@router.get("/mix/{job_id}")
def mix_status(job_id: str) -> dict:
    """A render's state (running, done, error), progress 0..1 and error message."""
    job = _job(job_id)
    return {"job": job.id, "state": job.state, "progress": job.progress, "error": job.error}


@router.get("/mix/{job_id}/file")
def mix_file(job_id: str) -> FileResponse:
    """The finished mix, as a download."""
    job = _job(job_id)
    if job.state != "done":
        raise HTTPException(409, f"the mix is {job.state}, not done")
    ext = os.path.splitext(job.path)[1]
    return FileResponse(job.path, filename=f"segue-mix{ext}", media_type=MIX_TYPES[ext])


MIX_TYPES = {".ogg": "audio/ogg", ".mp3": "audio/mpeg", ".opus": "audio/ogg",
             ".flac": "audio/flac", ".wav": "audio/wav"}  # fmt: skip
