"""The web player: a FastAPI app over one library database.

``create_app(db_path, token=None)`` returns the app; ``segue serve`` runs it with uvicorn. The
JSON API lives under ``/api`` (OpenAPI at ``/docs``, Swagger UI and ReDoc served from a packaged
copy: no page of this server loads anything from elsewhere) and the page in ``static/`` uses
nothing else. Safety rules: tracks are addressed by id only (never by path), every error is JSON with
a 4xx code (a bug is the only 500), a token guards every request when one is set (non-loopback
hosts), and a Content-Security-Policy forbids inline script as a second line behind rendering
every tag with ``textContent``.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import secrets
from collections.abc import Sequence
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi_offline import FastAPIOffline
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


#: Host names a loopback server answers to besides loopback ones (comma-separated), e.g. a name
#: this machine has in /etc/hosts; ``create_app(allowed_hosts=...)`` adds to them.
ALLOWED_HOSTS_ENV = "SEGUE_ALLOWED_HOSTS"


def host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port, lower case (``[::1]:8050`` -> ``::1``)."""
    h = host_header.strip().lower()
    if h.startswith("["):
        return h[1 : h.find("]")] if "]" in h else h[1:]
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def is_loopback_name(name: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761: always this machine) or a loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class GuardMiddleware:
    """What every request passes before the app, as plain ASGI so that streamed audio passes
    through untouched:

    - **Host** (DNS rebinding): without a token (the loopback server), only loopback host names
      and the configured ones are answered, so a page at ``evil.example`` whose name is rebound
      to 127.0.0.1 gets a 403, not the library;
    - **token** (when one is set): ``Authorization: Bearer T``, an ``X-Segue-Token`` header, the
      ``segue_token`` cookie, or ``?token=T`` (what the printed URL carries): a page opened
      with it gets the cookie and is sent to the same address without the token (303), so the
      token does not stay in the address bar, the history or a bookmark;
    - **cross-site requests**: a browser request that another origin's page made (by its
      ``Sec-Fetch-Site``, else its ``Origin``) may not write or compute anything: every
      state-changing method, and any API call that is not a top-level navigation, gets a 403.
      Clients that send neither header (curl, scripts) are not browsers and pass;
    - **body limits**: a body over the limit is read and dropped (up to :data:`DRAIN_MAX`)
      before the 413, so the client reads the answer instead of a reset connection;
    - security headers (CSP, nosniff, no referrer) on every answer.
    """

    def __init__(self, app: Any, token: str | None, allowed_hosts: Sequence[str] = ()) -> None:
        self.app = app
        self.token = token
        env = os.environ.get(ALLOWED_HOSTS_ENV, "")
        self.allowed_hosts = {host_name(h) for h in [*allowed_hosts, *env.split(",")] if h.strip()}

    def _presented(self, headers: dict[str, str], scope: dict) -> tuple[str | None, bool]:
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

    def _host_refusal(self, headers: dict[str, str]) -> JSONResponse | None:
        if self.token is not None:
            return None  # the token guards a server on the network, whatever name it is reached by
        name = host_name(headers.get("host", ""))
        if is_loopback_name(name) or name in self.allowed_hosts:
            return None
        return _error(403, f"this server answers to loopback names only, not {name or 'no Host'!r} "
                           f"(add a name to {ALLOWED_HOSTS_ENV} to allow it)")  # fmt: skip

    @staticmethod
    def _cross_site_refusal(scope: dict, headers: dict[str, str]) -> JSONResponse | None:
        method = scope.get("method", "GET")
        path = scope.get("path", "")
        writes = method not in SAFE_METHODS
        if not (writes or path.startswith("/api/")):
            return None  # the page itself, its static files, the docs: fine to open from a link
        site = headers.get("sec-fetch-site")
        if site is not None:
            if site in ("same-origin", "none"):
                return None
            if not writes and headers.get("sec-fetch-mode") == "navigate":
                return None  # a link to an API URL: reading it is harmless, and it is the user
            return _error(403, "cross-site requests are refused")
        origin = headers.get("origin")
        if origin is None or not writes:
            return None
        parts = urlsplit(origin) if origin != "null" else None
        if parts is None or parts.netloc.lower() != headers.get("host", "").lower():
            return _error(403, "cross-site requests are refused")
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._host_refusal(headers)
        from_query = False
        if refusal is None and self.token is not None:
            given, from_query = self._presented(headers, scope)
            if given is None or not secrets.compare_digest(given.encode(), self.token.encode()):
                refusal = _error(401, "a token is required: open the URL printed by 'segue serve'")
        if refusal is None:
            refusal = self._cross_site_refusal(scope, headers)
        path = scope.get("path", "")
        if refusal is None:
            refusal = _body_refusal(scope, path)
        if refusal is not None:
            await _drain(scope, receive)
            await refusal(scope, receive, send)
            return
        cookie = f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode()
        if from_query and scope.get("method") in ("GET", "HEAD") and not path.startswith("/api/"):
            # the page was opened with ?token=: keep the cookie, drop the token from the address
            query = [(k, v) for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                  keep_blank_values=True) if k != "token"]  # fmt: skip
            where = path + ("?" + urlencode(query) if query else "")
            await Response(status_code=303, headers={"Location": where, "Cache-Control": "no-store"})(
                scope, receive, _with_headers(send, [(b"set-cookie", cookie)], strict=True)
            )
            return
        strict = not (path.startswith("/docs") or path.startswith("/redoc"))
        extra = [(b"set-cookie", cookie)] if from_query else []
        await self.app(scope, receive, _with_headers(send, extra, strict))


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _with_headers(send: Any, extra: list[tuple[bytes, bytes]], strict: bool) -> Any:
    async def send_with_headers(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            headers.append((b"x-content-type-options", b"nosniff"))
            headers.append((b"referrer-policy", b"no-referrer"))
            if strict:
                headers.append((b"content-security-policy", CSP.encode()))
            headers.extend(extra)
            message = {**message, "headers": headers}
        await send(message)

    return send_with_headers


#: Bodies allowed per path prefix: uploads up to 50 MB (plus the form's own bytes), JSON 1 MB.
UPLOAD_PATHS = ("/api/seed", "/api/listen")
MAX_JSON_BYTES = 1 << 20
#: A refused body up to this size is read and dropped before the answer (so the client sees
#: the 413); past it the connection is closed after the answer.
DRAIN_MAX = 64 << 20


async def _drain(scope: dict, receive: Any) -> None:
    """Read and drop a request body we refuse, up to :data:`DRAIN_MAX` bytes."""
    if scope.get("method") in SAFE_METHODS:
        return
    length = next((v for k, v in scope["headers"] if k.lower() == b"content-length"), b"")
    if not length.strip().isdigit() or int(length) > DRAIN_MAX:
        return
    seen = 0
    while seen <= DRAIN_MAX:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _body_refusal(scope: dict, path: str) -> JSONResponse | None:
    """A 411/413 answer for a body we will not take, before the app reads any of it.

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


def create_app(db_path: str | Path, token: str | None = None, catalog: Any = None,
               allowed_hosts: Sequence[str] = ()) -> FastAPI:  # fmt: skip
    """The web app over the library at ``db_path``.

    ``token``: required on every request when given (``segue serve`` sets one for non-loopback
    hosts). ``catalog``: a fixed :class:`~segue.playlist.catalog.Catalog` to serve instead of
    the library's (benchmarks at synthetic sizes); it never refreshes. ``allowed_hosts``: host
    names a server without a token answers to besides loopback ones (see GuardMiddleware).
    """
    app = FastAPIOffline(
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
        routes_browse,
        routes_events,
        routes_journey,
        routes_library,
        routes_map,
        routes_radio,
        routes_upload,
    )

    for module in (routes_library, routes_browse, routes_radio, routes_upload, routes_journey,
                   routes_map, routes_events):  # fmt: skip
        app.include_router(module.router, prefix="/api")

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(GuardMiddleware, token=token, allowed_hosts=allowed_hosts)
    return app
