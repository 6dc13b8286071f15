"""The wiring: the ``/rest/{method}`` routes that authenticate a call and hand it to its
handler, the stand-alone app, and the dispatcher that puts the API in front of the web app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from segue.api import TrackNotFound, UserError

# the endpoint modules register their handlers in HANDLERS as they are imported
from segue.integrations.subsonic import browsing, media, personal  # noqa: F401
from segue.integrations.subsonic.protocol import (
    GENERIC,
    NOT_FOUND,
    Credentials,
    Params,
    SubsonicError,
    authenticate,
    render,
)
from segue.integrations.subsonic.registry import HANDLERS, NO_AUTH, Call
from segue.integrations.subsonic.state import Libraries, NowPlaying


def subsonic_router(db_path: str | Path, creds: Credentials | None) -> APIRouter:
    """The ``/rest/{method}`` routes (with or without ``.view``, GET or POST) over the library
    at ``db_path``."""
    router = APIRouter()
    libraries = Libraries(db_path)
    now_playing = NowPlaying()

    @router.api_route("/rest/{method}", methods=["GET", "HEAD", "POST"], include_in_schema=False)
    async def rest(method: str, request: Request) -> Response:
        items = list(request.query_params.multi_items())
        if request.method == "POST":
            form = await request.form()
            items += [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        params = Params(items)
        name = method[:-5] if method.endswith(".view") else method
        try:
            handler = HANDLERS.get(name)
            if handler is None:
                raise SubsonicError(GENERIC, f"unknown or unsupported method: {name}")
            user = "" if name in NO_AUTH else authenticate(params, creds)
            call = Call(name, params, user, libraries, now_playing)
            result = await run_in_threadpool(handler, call)
        except SubsonicError as exc:
            return render(params, {}, exc)
        except TrackNotFound as exc:
            return render(params, {}, SubsonicError(NOT_FOUND, str(exc)))
        except UserError as exc:
            return render(params, {}, SubsonicError(GENERIC, str(exc)))
        if isinstance(result, Response):
            return result
        return render(params, result)

    return router


def create_subsonic_app(db_path: str | Path, creds: Credentials | None) -> FastAPI:
    """A stand-alone app answering only the Subsonic API (``/rest/...``)."""
    app = FastAPI(title="segue Subsonic API", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(subsonic_router(db_path, creds))
    return app


def with_subsonic(app: Any, db_path: str | Path, creds: Credentials | None) -> Any:
    """An ASGI app that sends ``/rest/...`` to the Subsonic API and everything else to ``app``
    (the web player, with its own token guard, untouched)."""
    rest = create_subsonic_app(db_path, creds)

    async def dispatch(scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path == "/rest" or path.startswith("/rest/"):
            await rest(scope, receive, send)
        else:
            await app(scope, receive, send)

    return dispatch
