"""The web player: a FastAPI app over one library database.

``create_app(db_path, token=None)`` returns the app; ``segue serve`` runs it with uvicorn. The
JSON API lives under ``/api`` (OpenAPI at ``/docs``) and the page in ``static/`` uses nothing
else. Safety rules: tracks are addressed by id only (never by path), every error is JSON with
a 4xx code (a bug is the only 500), a token guards every request when one is set (non-loopback
hosts), and a Content-Security-Policy forbids inline script as a second line behind rendering
every tag with ``textContent``.
"""

from __future__ import annotations

import logging
import secrets
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from segue import __version__
from segue.api import NotReady, TrackNotFound, UnsupportedAudio, UserError, user_error_for
from segue.web.state import AppState

STATIC = Path(__file__).parent / "static"
TOKEN_COOKIE = "segue_token"
log = logging.getLogger("segue.web")

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


class GuardMiddleware:
    """Token check (when a token is set) and security headers, as plain ASGI so that
    streamed audio passes through untouched.

    The token may come as ``Authorization: Bearer T``, an ``X-Segue-Token`` header, the
    ``segue_token`` cookie, or ``?token=T`` (what the printed URL carries); the query form sets
    the cookie so the page's own requests (``<audio src>``, images) carry it from then on.
    """

    def __init__(self, app: Any, token: str | None) -> None:
        self.app = app
        self.token = token

    def _presented(self, scope: dict) -> tuple[str | None, bool]:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        if "x-segue-token" in headers:
            return headers["x-segue-token"], False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"][0], True
        if "cookie" in headers:
            cookie = SimpleCookie()
            try:
                cookie.load(headers["cookie"])
            except Exception:  # noqa: BLE001 - a garbled cookie header is simply no token
                return None, False
            if TOKEN_COOKIE in cookie:
                return cookie[TOKEN_COOKIE].value, False
        return None, False

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from_query = False
        if self.token is not None:
            given, from_query = self._presented(scope)
            if given is None or not secrets.compare_digest(given.encode(), self.token.encode()):
                response = JSONResponse(
                    {"detail": "a token is required: open the URL printed by 'segue serve'"},
                    status_code=401,
                )
                await response(scope, receive, send)
                return
        path = scope.get("path", "")
        refusal = _body_refusal(scope, path)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        strict = not (path.startswith("/docs") or path.startswith("/redoc"))

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if strict:
                    headers.append((b"content-security-policy", CSP.encode()))
                if from_query and self.token is not None:
                    headers.append(
                        (b"set-cookie", f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode())
                    )
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Bodies allowed per path prefix: uploads up to 50 MB (plus the form's own bytes), JSON 1 MB.
UPLOAD_PATHS = ("/api/seed", "/api/listen")
MAX_JSON_BYTES = 1 << 20


def _body_refusal(scope: dict, path: str) -> JSONResponse | None:
    """A 411/413 answer for a body we will not read, before any of it is received.

    Checked here rather than in the endpoint because the framework reads (and spools) a whole
    multipart body before any endpoint code runs.
    """
    if scope.get("method") not in ("POST", "PUT", "PATCH"):
        return None
    from segue.web.routes_upload import MAX_UPLOAD_BYTES

    limit = MAX_UPLOAD_BYTES + 64 * 1024 if path in UPLOAD_PATHS else MAX_JSON_BYTES
    length = None
    for k, v in scope["headers"]:
        if k.lower() == b"content-length":
            length = v.decode("latin-1").strip()
    if length is None:
        return _error(411, "send a Content-Length (chunked bodies are not accepted)")
    if not length.isdigit():
        return _error(400, "bad Content-Length")
    if int(length) > limit:
        return _error(413, f"the request is too big: at most {limit // (1024 * 1024)} MB")
    return None


def _error(status: int, detail: Any) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def create_app(db_path: str | Path, token: str | None = None, catalog: Any = None) -> FastAPI:
    """The web app over the library at ``db_path``.

    ``token``: required on every request when given (``segue serve`` sets one for non-loopback
    hosts). ``catalog``: a fixed :class:`~segue.playlist.catalog.Catalog` to serve instead of
    the library's (benchmarks at synthetic sizes); it never refreshes.
    """
    app = FastAPI(
        title="segue",
        version=__version__,
        description="Playlists, journeys and mixes from your music, by listening. "
        "Tracks are addressed by id; every error is JSON.",
    )
    app.state.segue = AppState(db_path, catalog=catalog)

    @app.exception_handler(TrackNotFound)
    async def _not_found(request: Request, exc: TrackNotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(NotReady)
    async def _not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(UnsupportedAudio)
    async def _not_audio(request: Request, exc: UnsupportedAudio) -> JSONResponse:
        return _error(415, str(exc))

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return _error(422, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        problem = user_error_for(exc, db_path)  # a damaged or busy library: say so, not "bug"
        if problem is not None:
            return _error(503, str(problem))
        log.exception("internal error on %s", request.url.path)
        return _error(500, f"internal error: {type(exc).__name__}")

    from segue.web import (
        routes_events,
        routes_journey,
        routes_library,
        routes_map,
        routes_radio,
        routes_upload,
    )

    for module in (routes_library, routes_radio, routes_upload, routes_journey, routes_map, routes_events):
        app.include_router(module.router, prefix="/api")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(GuardMiddleware, token=token)
    return app
