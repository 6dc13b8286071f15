"""Outside audio as a seed: a dropped-in file, or ~10 s of the room from the microphone.

The upload is streamed to a temporary file (size-capped) and handed to
:meth:`segue.api.Library.outside_vector`, which checks its format from its bytes (not the name
or the declared type) and analyses it with the same pipeline as a scan; then it is deleted.
Nothing is added to the library. The answer is the nearest library tracks; the page starts a
radio from the best one (an outside file stands for its nearest track, as in the CLI).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Annotated

import numpy as np
from fastapi import APIRouter, File, HTTPException, Query, UploadFile

from segue.web.deps import State
from segue.web.state import AppState

router = APIRouter(tags=["seeds"])

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
_CHUNK = 1 << 20


def _too_big() -> HTTPException:
    return HTTPException(413, f"the file is too big: at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")


def _save(upload: UploadFile) -> str:
    fd, path = tempfile.mkstemp(prefix="segue-upload-", suffix=".audio")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := upload.file.read(_CHUNK):
                size += len(chunk)
                if size > MAX_UPLOAD_BYTES:
                    raise _too_big()
                out.write(chunk)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    if size == 0:
        os.unlink(path)
        raise HTTPException(422, "the file is empty")
    return path


def _upload_vector(st: AppState, upload: UploadFile) -> np.ndarray:
    """The uploaded audio's unit track vector, after failing fast (409) on an empty library:
    the analysis is the expensive part. The temporary file is deleted whatever happens.
    (Oversize bodies never get here: the app's middleware refuses them from their
    Content-Length before any byte is read.)"""
    lib = st.library()
    lib.catalog()
    path = _save(upload)
    try:
        return lib.outside_vector(path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


@router.post("/seed")
def seed_from_file(
    st: State,
    file: Annotated[UploadFile, File(description="any audio file (at most 50 MB)")],
    n: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict:
    """Analyse a dropped-in audio file and return the library tracks nearest to it."""
    vector = _upload_vector(st, file)
    lib = st.library()
    tracks = lib.rows_json(*lib.similar_rows(None, n, vector), paths=False)
    return {"name": os.path.basename(file.filename or "upload"), "tracks": tracks}


@router.post("/listen")
def listen(
    st: State,
    file: Annotated[UploadFile, File(description="a short recording of the room, WAV")],
    n: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict:
    """What is playing in the room, and what from the library should come next.

    ``match`` is the library track nearest to the recording (probably what is playing, if it
    is in the library); ``next`` are the tracks to follow it, the match and its duplicates
    (other copies of the same recording) excluded.
    """
    vector = _upload_vector(st, file)
    lib = st.library()
    best, score = lib.similar_rows(None, 1, vector)
    if not best:
        return {"match": None, "next": []}
    # the recording's neighbours, without the match nor other copies of the same recording
    following = lib.rows_json(*lib.similar_rows(best[0], n, vector), paths=False)
    return {"match": lib.rows_json(best, score, paths=False)[0], "next": following}
