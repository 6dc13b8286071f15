"""The Subsonic protocol: parameters, credentials and authentication, error codes, and the
answer envelope written as XML or JSON (``f=json``/``jsonp``)."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fastapi.responses import Response

from segue import __version__
from segue.api import UserError

API_VERSION = "1.16.1"
XMLNS = "http://subsonic.org/restapi"
IGNORED_ARTICLES = "The El La Los Las Le Les Die Der Das"
MAX_LIST = 500

ENV_USER = "SEGUE_SUBSONIC_USER"
ENV_PASSWORD = "SEGUE_SUBSONIC_PASSWORD"
ENV_API_KEY = "SEGUE_SUBSONIC_API_KEY"

# Error codes of the Subsonic API (and OpenSubsonic's API-key ones).
GENERIC, MISSING, CLIENT_TOO_OLD, SERVER_TOO_OLD, WRONG_LOGIN = 0, 10, 20, 30, 40
KEY_NOT_ALLOWED, CONFLICTING_AUTH, BAD_API_KEY, NOT_AUTHORISED, NOT_FOUND = 42, 43, 44, 50, 70


class SubsonicError(Exception):
    """An error answered as ``status="failed"`` with a Subsonic error code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Credentials:
    """The one Subsonic user segue serves (a personal server), and its API keys."""

    user: str
    password: str
    api_keys: tuple[str, ...] = ()


def credentials(user: str | None, password: str | None, api_key: str | None = None,
                env: dict[str, str] | None = None) -> Credentials | None:  # fmt: skip
    """Credentials from options, else ``SEGUE_SUBSONIC_USER``/``_PASSWORD``/``_API_KEY``;
    None when no user is set (the API then answers every call with how to turn it on).
    UserError when only half is given."""
    env = dict(os.environ) if env is None else env
    user = user or env.get(ENV_USER)
    password = password or env.get(ENV_PASSWORD)
    api_key = api_key or env.get(ENV_API_KEY)
    if not user and not password and not api_key:
        return None
    if not user or not password:
        raise UserError("the Subsonic API needs both a user and a password "
                        f"(or {ENV_USER} and {ENV_PASSWORD})")  # fmt: skip
    return Credentials(user, password, (api_key,) if api_key else ())


# -- parameters and authentication -------------------------------------------------------------


class Params:
    """A request's parameters (query and form body), with typed getters that raise
    :class:`SubsonicError` for what is missing or malformed."""

    def __init__(self, items: list[tuple[str, str]]) -> None:
        self._items = items

    def all(self, name: str) -> list[str]:
        return [v for k, v in self._items if k == name]

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.all(name)
        return values[0] if values else default

    def __contains__(self, name: str) -> bool:
        return any(k == name for k, _ in self._items)

    def required(self, name: str) -> str:
        value = self.get(name)
        if value is None or value == "":
            raise SubsonicError(MISSING, f"required parameter is missing: {name}")
        return value

    def int(self, name: str, default: int, low: int = 0, high: int = 2**62) -> int:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise SubsonicError(GENERIC, f"parameter {name} must be a whole number, got {value!r}") from None
        return max(low, min(high, number))

    def bool(self, name: str, default: bool) -> bool:
        value = self.get(name)
        return default if value is None else value.strip().lower() in ("true", "1", "yes")


def authenticate(params: Params, creds: Credentials | None) -> str:
    """The user a request speaks for, or SubsonicError (codes as the API specifies)."""
    if creds is None:
        raise SubsonicError(WRONG_LOGIN, "the Subsonic API is off: start 'segue serve' with "
                            "--subsonic-user NAME --subsonic-password PW")  # fmt: skip
    api_key = params.get("apiKey")
    if api_key is not None:
        if "u" in params:
            raise SubsonicError(CONFLICTING_AUTH, "give either apiKey or u, not both")
        if not creds.api_keys:
            raise SubsonicError(KEY_NOT_ALLOWED, "no API key is set: start 'segue serve' with "
                                "--subsonic-api-key KEY")  # fmt: skip
        if not any(secrets.compare_digest(api_key.encode(), k.encode()) for k in creds.api_keys):
            raise SubsonicError(BAD_API_KEY, "invalid API key")
        return creds.user
    user = params.required("u")
    if "p" in params:
        given = params.required("p")
        candidates = [given]
        if given.startswith("enc:"):
            try:
                raw = bytes.fromhex(given[4:])
            except ValueError:
                raise SubsonicError(WRONG_LOGIN, "wrong username or password") from None
            # the API means UTF-8; some clients hex-encode code points (latin-1 for a password
            # like "pässword"): either matches
            candidates = [raw.decode("latin-1")] + ([raw.decode("utf-8")] if _utf8(raw) else [])
        ok = any(secrets.compare_digest(c.encode(), creds.password.encode()) for c in candidates)
    elif "t" in params and "s" in params:
        expected = hashlib.md5((creds.password + params.required("s")).encode("utf-8")).hexdigest()
        ok = secrets.compare_digest(params.required("t").lower().encode(), expected.encode())
    else:
        raise SubsonicError(MISSING, "required parameter is missing: t and s, p, or apiKey")
    if not ok or not secrets.compare_digest(user.encode(), creds.user.encode()):
        raise SubsonicError(WRONG_LOGIN, "wrong username or password")
    return user


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# -- answers: one tree, written as XML or JSON ---------------------------------------------------


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml(name: str, node: dict[str, Any], out: list[str]) -> None:
    """``node``'s scalars as attributes, dicts as child elements, lists as repeated children
    (in the node's key order, which the schema's sequences fix); ``value`` of a genre is text."""
    attrs = "".join(
        f" {k}={quoteattr(_xml_value(v))}" for k, v in node.items()
        if v is not None and not isinstance(v, dict | list) and not (name == "genre" and k == "value")
    )  # fmt: skip
    children: list[str] = []
    for k, v in node.items():
        if isinstance(v, dict):
            _xml(k, v, children)
        elif isinstance(v, list):
            for item in v:
                if isinstance(item, dict):
                    _xml(k, item, children)
                else:
                    children.append(f"<{k}>{escape(_xml_value(item))}</{k}>")
    text = escape(str(node["value"])) if name == "genre" and "value" in node else ""
    if children or text:
        out.append(f"<{name}{attrs}>{text}{''.join(children)}</{name}>")
    else:
        out.append(f"<{name}{attrs}/>")


def _json_clean(node: Any) -> Any:
    """None and empty lists left out, as the XML form has no trace of them either."""
    if isinstance(node, dict):
        return {k: _json_clean(v) for k, v in node.items() if v is not None and v != []}
    if isinstance(node, list):
        return [_json_clean(v) for v in node]
    return node


def render(params: Params, payload: dict[str, Any], error: SubsonicError | None = None) -> Response:
    """The ``subsonic-response`` envelope around ``payload`` in the format asked (``f``)."""
    head: dict[str, Any] = {
        "status": "failed" if error else "ok",
        "version": API_VERSION,
        "type": "segue",
        "serverVersion": __version__,
        "openSubsonic": True,
    }
    body = {**head, **({"error": {"code": error.code, "message": error.message}} if error else payload)}
    fmt = (params.get("f") or "xml").lower()
    if fmt in ("json", "jsonp"):
        text = json.dumps({"subsonic-response": _json_clean(body)}, ensure_ascii=False)
        callback = params.get("callback") or ""
        if fmt == "jsonp" and callback.replace("_", "").replace(".", "").isalnum():
            return Response(f"{callback}({text});", media_type="application/javascript")
        return Response(text, media_type="application/json")
    out: list[str] = []
    _xml("subsonic-response", {"xmlns": XMLNS, **body}, out)
    return Response('<?xml version="1.0" encoding="UTF-8"?>\n' + out[0], media_type="application/xml")


def _iso(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{int(seconds * 1000) % 1000:03d}Z")  # fmt: skip
