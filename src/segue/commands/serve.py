"""``segue serve``: the web player at http://127.0.0.1:8050, and the Subsonic API under /rest.

The one place the CLI starts other faces: it imports the web app's ``create_app`` and the
Subsonic integration's ``with_subsonic`` and runs them under uvicorn, nothing else of
``segue.web`` or ``segue.integrations`` (the import rule's exceptions, see
tests/test_architecture.py).
"""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import socket
import sys

from segue.api import Library, UserError


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (``localhost`` or a loopback address)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_url(host: str, port: int) -> str:
    """The URL to print for a server on ``host``: a wildcard host shows as 127.0.0.1, an IPv6
    literal in brackets (``http://[::1]:8050/``, not the unusable ``http://::1:8050/``)."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}/"


def check_port(host: str, port: int) -> None:
    """Fail with one line, before anything is printed or loaded, when ``host:port`` cannot be
    listened on (taken by another server, or an address this machine does not have)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind((host, port))
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise UserError(f"cannot listen on {host}:{port}: {why}") from None


def cmd_serve(lib: Library, args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from segue.integrations.subsonic import credentials, with_subsonic
        from segue.web.app import create_app
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise UserError(f"the web player needs fastapi and uvicorn: {exc}") from None
    if not 0 < args.port < 65536:
        raise UserError(f"--port must be between 1 and 65535, got {args.port}")
    check_port(args.host, args.port)
    subsonic = credentials(args.subsonic_user, args.subsonic_password, args.subsonic_api_key)
    token = args.token
    if not is_loopback(args.host) and not token:
        token = secrets.token_urlsafe(24)
    db = lib.path
    lib.close()  # the app opens one connection per worker thread
    url = base_url(args.host, args.port)
    if token:
        url += f"?token={token}"
        print(f"segue: access token: {token}", file=sys.stderr)
    print(f"segue: serving {db} at {url}  (Ctrl-C stops)", file=sys.stderr)
    if subsonic:
        keys = " or its API key" if subsonic.api_keys else ""
        print(f"segue: Subsonic apps: server {base_url(args.host, args.port)}, user "
              f"{subsonic.user} with its password{keys}", file=sys.stderr)  # fmt: skip
    app = with_subsonic(create_app(db, token=token), db, subsonic)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segue serve``."""
    p = sub.add_parser("serve", help="the web player (search, radio, journeys, map) and the Subsonic API")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1; any other needs a token)")  # fmt: skip
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--token", help="access token (default: none on loopback, a random one otherwise)")
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    p.add_argument("--subsonic-user", metavar="NAME",
                   help="answer Subsonic apps under /rest as this user (or $SEGUE_SUBSONIC_USER)")  # fmt: skip
    p.add_argument("--subsonic-password", metavar="PW",
                   help="the Subsonic user's password (or $SEGUE_SUBSONIC_PASSWORD)")  # fmt: skip
    p.add_argument("--subsonic-api-key", metavar="KEY",
                   help="also accept this OpenSubsonic API key (or $SEGUE_SUBSONIC_API_KEY)")  # fmt: skip
    p.set_defaults(handler=cmd_serve)
