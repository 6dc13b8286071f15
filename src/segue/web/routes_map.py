"""The collection map: every analysed track as a point, with what colours and labels it.

The first layout of a library can take a minute (t-SNE); it is usually made at the end of a
scan, but when it is not ready the first request starts it as a background job and answers 202
with its progress, and the page polls while staying usable. One job per catalogue; the layout
itself is locked per library (a scan's end and the server never compute it twice).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from segue.web.deps import State
from segue.web.state import AppState

router = APIRouter(tags=["map"])


@dataclass
class LayoutJob:
    """The map being laid out in the background."""

    state: str = "running"  # running | done | error
    progress: float = 0.0
    error: str | None = None
    started: float = field(default_factory=time.monotonic)


_JOBS: dict[int, LayoutJob] = {}  # by id(catalogue): a rebuilt catalogue gets its own job
_LOCK = threading.Lock()


def _lay_out(st: AppState, job: LayoutJob) -> None:
    def progress(share: float) -> None:
        job.progress = round(min(max(share, job.progress), 0.99), 3)

    try:
        with st.job_library() as lib:
            lib.map_points(on_progress=progress)
        job.progress, job.state = 1.0, "done"
    except Exception as exc:  # noqa: BLE001 - reported to the page, never raised into a thread
        job.state, job.error = "error", str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@router.get("/map", responses={202: {"description": "the layout is being made: state, progress"}})
def collection_map(st: State) -> object:
    """Columns, one entry per track: id, x, y in [0, 1], codes and names for colouring (top
    tag, genre, album, sound cluster), title, artist, cover. While the layout is being made:
    202 with ``{"state": "running", "progress": 0..1}``; ask again."""
    lib = st.library()
    if lib.map_ready():
        return lib.map_points()
    key = id(lib.catalog())
    with _LOCK:
        job = _JOBS.get(key)
        if job is None or job.state == "error":
            for old in [k for k, j in _JOBS.items() if j.state != "running"]:
                _JOBS.pop(old, None)
            job = _JOBS[key] = LayoutJob()
            threading.Thread(target=_lay_out, args=(st, job), daemon=True).start()
        elif job.state == "done":
            return lib.map_points()
    if job.state == "error":
        return JSONResponse({"detail": f"the map could not be made: {job.error}"}, status_code=500)
    return JSONResponse({"state": job.state, "progress": job.progress}, status_code=202)
