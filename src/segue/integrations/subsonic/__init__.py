"""A Subsonic-compatible server: phone and desktop apps (Symfonium, DSub, Substreamer, Feishin,
...) browse, stream and start a segue radio from the library.

``segue serve --subsonic-user NAME --subsonic-password PW`` answers the Subsonic REST API under
``/rest`` beside the web player (:func:`with_subsonic` puts it in front of the web app, so the
web app's token guard does not apply here: Subsonic has its own authentication). It is the
OpenSubsonic subset a player needs: browsing by artist and album (ID3 and folder style),
search, streaming with HTTP Range (the file as it is, never transcoded), covers, playlists,
stars, scrobbles, and the calls where segue shines: ``getSimilarSongs``/``getSimilarSongs2``
are segue's radio (keep-on from the seed, steering away from recent skips) and
``getTopSongs`` ranks an artist's tracks by how often they were played to the end.

Authentication, as the API specifies: ``u`` with the salted token (``t`` = md5(password +
``s``)), or ``p`` (plain or ``enc:`` hex), or an OpenSubsonic API key (``apiKey``, without
``u``). Answers are XML (default) or JSON (``f=json``; ``f=jsonp`` with ``callback``).
Parameters come in the query or as a form body (OpenSubsonic ``formPost``).

Scrobbles feed the library's ``plays``: ``submission=false`` (now playing) records a
``start``; a now-playing for another track before the previous one was submitted records a
``skip`` of the previous one, ``position_s`` the seconds it played; ``submission=true`` records
a ``complete``.

A face: it uses only :mod:`segue.api` (one Library per worker thread, one catalogue shared).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from segue import __version__
from segue.api import Collection, Library, NotReady, TrackNotFound, UserError, fold_text, media_type

API_VERSION = "1.16.1"
XMLNS = "http://subsonic.org/restapi"
IGNORED_ARTICLES = "The El La Los Las Le Les Die Der Das"
#: Seconds between checks of whether the library changed (the shared catalogue is rebuilt).
CHECK_EVERY = 2.0
#: A now-playing track left for another before this share of its length was skipped.
SKIP_SHARE = 0.9
MAX_LIST = 500
#: How far back (play events) getSimilarSongs looks for skips to steer away from.
RECENT_PLAYS = 200

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




# -- ids: tracks are their library id, albums al-KEY, artists ar-KEY ---------------------------

ALBUM, ARTIST = "al-", "ar-"


def _index_letter(name: str) -> str:
    words = name.split(" ", 1)
    if len(words) == 2 and words[0].lower() in {a.lower() for a in IGNORED_ARTICLES.split()}:
        name = words[1]
    first = fold_text(name)[:1].upper()
    return first if first.isalpha() else "#"


class Shapes:
    """The library's tracks, albums and artists as the API's elements, for one request."""

    def __init__(self, lib: Library) -> None:
        self.lib = lib
        self.col: Collection = lib.browse()
        self._stars: dict[str, dict[Any, float]] | None = None
        self._counts: dict[int, tuple[int, float]] | None = None

    @property
    def stars(self) -> dict[str, dict[Any, float]]:
        if self._stars is None:
            self._stars = self.lib.stars()
        return self._stars

    @property
    def counts(self) -> dict[int, tuple[int, float]]:
        if self._counts is None:
            self._counts = self.lib.play_counts()
        return self._counts

    # lookups
    def track(self, sid: str) -> dict[str, Any]:
        if sid.isdigit() and int(sid) in self.col.tracks:
            return self.col.tracks[int(sid)]
        raise SubsonicError(NOT_FOUND, f"song not found: {sid}")

    def album(self, sid: str) -> Any:
        album = self.col.albums.get(sid[len(ALBUM):]) if sid.startswith(ALBUM) else None
        if album is None:
            raise SubsonicError(NOT_FOUND, f"album not found: {sid}")
        return album

    def artist(self, sid: str) -> Any:
        artist = self.col.artists.get(sid[len(ARTIST):]) if sid.startswith(ARTIST) else None
        if artist is None:
            raise SubsonicError(NOT_FOUND, f"artist not found: {sid}")
        return artist

    def artist_albums(self, artist: Any) -> list[Any]:
        """The artist's own albums, else (a guest on others' albums) the albums it plays on."""
        keys = list(artist.album_keys) or list(
            dict.fromkeys(self.col.tracks[t]["album_key"] for t in artist.track_ids))  # fmt: skip
        return [self.col.albums[k] for k in keys]

    # elements
    def song(self, t: dict[str, Any]) -> dict[str, Any]:
        tid = int(t["id"])
        album = self.col.albums[t["album_key"]]
        filename = os.path.basename(str(t["path"]))
        suffix = os.path.splitext(filename)[1].lstrip(".").lower() or None
        count = self.counts.get(tid)
        starred = self.stars["track"].get(tid)
        return {
            "id": str(tid),
            "parent": ALBUM + album.key,
            "isDir": False,
            "title": t["title"] or os.path.splitext(filename)[0],
            "album": album.name,
            "artist": t["artist"] or t["album_artist"] or "Unknown Artist",
            "track": t["track_no"],
            "year": t["year"],
            "genre": t["genre"],
            "coverArt": t["cover"],
            "size": t["size"],
            "contentType": media_type(t["format"]),
            "suffix": suffix,
            "duration": int(round(float(t["duration"]))),
            "bitRate": int(t["bitrate"] / 1000) if t["bitrate"] else None,
            "path": f"{album.artist}/{album.name}/{filename}",
            "isVideo": False,
            "playCount": count[0] if count else 0,
            "discNumber": t["disc_no"],
            "created": _iso(t["added_at"]),
            "starred": _iso(starred),
            "albumId": ALBUM + album.key,
            "artistId": ARTIST + t["artist_key"],
            "type": "music",
        }

    def album_id3(self, a: Any) -> dict[str, Any]:
        plays = sum(self.counts.get(t, (0, 0.0))[0] for t in a.track_ids)
        return {
            "id": ALBUM + a.key,
            "name": a.name,
            "artist": a.artist,
            "artistId": ARTIST + a.artist_key,
            "coverArt": a.cover,
            "songCount": len(a.track_ids),
            "duration": int(round(a.duration)),
            "playCount": plays,
            "created": _iso(a.added_at),
            "starred": _iso(self.stars["album"].get(a.key)),
            "year": a.year,
            "genre": a.genre,
        }

    def album_child(self, a: Any) -> dict[str, Any]:
        """An album as a folder (``getAlbumList``, ``getMusicDirectory``)."""
        return {
            "id": ALBUM + a.key,
            "parent": ARTIST + a.artist_key,
            "isDir": True,
            "title": a.name,
            "album": a.name,
            "artist": a.artist,
            "year": a.year,
            "genre": a.genre,
            "coverArt": a.cover,
            "duration": int(round(a.duration)),
            "created": _iso(a.added_at),
            "starred": _iso(self.stars["album"].get(a.key)),
            "albumId": ALBUM + a.key,
            "artistId": ARTIST + a.artist_key,
        }

    def artist_id3(self, a: Any) -> dict[str, Any]:
        albums = self.artist_albums(a)
        return {
            "id": ARTIST + a.key,
            "name": a.name,
            "coverArt": next((al.cover for al in albums if al.cover), None),
            "albumCount": len(albums),
            "starred": _iso(self.stars["artist"].get(a.key)),
        }

    def artist_plain(self, a: Any) -> dict[str, Any]:
        return {"id": ARTIST + a.key, "name": a.name, "starred": _iso(self.stars["artist"].get(a.key))}

    def indexed(self, artists: list[Any], shape: Callable[[Any], dict]) -> list[dict[str, Any]]:
        groups: dict[str, list[dict]] = {}
        for a in artists:
            groups.setdefault(_index_letter(a.name), []).append(shape(a))
        return [{"name": k, "artist": groups[k]} for k in sorted(groups, key=lambda k: (k == "#", k))]

    def listed_artists(self) -> list[Any]:
        """Artists with something to open: album artists, and track artists (guests)."""
        return [a for a in self.col.artists.values() if a.album_keys or a.track_ids]


# -- the per-thread libraries, one shared catalogue ----------------------------------------------


class Libraries:
    """One :class:`Library` per worker thread (SQLite connections are per thread) and one
    catalogue shared between them, rebuilt when the library's change marker moves."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._catalog: Any = None
        self._marker: tuple | None = None
        self._checked = 0.0

    def get(self, catalog: bool = False) -> Library:
        lib = getattr(self._local, "lib", None)
        if lib is None:
            lib = self._local.lib = Library.open(self.db_path)
        if catalog:
            lib.use_catalog(self._shared_catalog(lib))
        return lib

    def _shared_catalog(self, lib: Library) -> Any:
        with self._lock:
            if self._catalog is None or time.monotonic() - self._checked >= CHECK_EVERY:
                marker = lib.change_marker()
                self._checked = time.monotonic()
                if self._catalog is None or marker != self._marker:
                    lib.use_catalog(None)
                    self._catalog, self._marker = lib.catalog(), marker
            return self._catalog


class NowPlaying:
    """What each user's player said it is playing (``scrobble`` with ``submission=false``), so
    leaving a track early for another reads as a skip."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._playing: dict[str, tuple[int, float, float]] = {}  # user -> (id, since, duration)

    def start(self, user: str, track_id: int, duration: float, now: float) -> tuple[int, float] | None:
        """Note ``track_id`` as playing; the (id, seconds played) of a track it cut short."""
        with self._lock:
            previous = self._playing.get(user)
            self._playing[user] = (track_id, now, duration)
        if previous is None or previous[0] == track_id:
            return None
        prev_id, since, prev_duration = previous
        played = max(0.0, now - since)
        return (prev_id, played) if played < SKIP_SHARE * prev_duration else None

    def finish(self, user: str, track_id: int) -> None:
        with self._lock:
            if self._playing.get(user, (None,))[0] == track_id:
                del self._playing[user]


# -- the API -------------------------------------------------------------------------------------

Handler = Callable[["Call"], "dict[str, Any] | Response"]
HANDLERS: dict[str, Handler] = {}
NO_AUTH = {"getOpenSubsonicExtensions"}


def handles(*names: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for name in names:
            HANDLERS[name] = fn
        return fn

    return register


@dataclass
class Call:
    """One API call: its method name, parameters, user and the server's shared parts."""

    method: str
    params: Params
    user: str
    libraries: Libraries
    now_playing: NowPlaying

    @property
    def lib(self) -> Library:
        return self.libraries.get()

    def shapes(self) -> Shapes:
        return Shapes(self.lib)


@handles("ping")
def _ping(call: Call) -> dict:
    return {}


@handles("getLicense")
def _license(call: Call) -> dict:
    return {"license": {"valid": True, "email": "", "licenseExpires": _iso(4102444800.0)}}


@handles("getOpenSubsonicExtensions")
def _extensions(call: Call) -> dict:
    names = ("apiKeyAuthentication", "formPost")
    return {"openSubsonicExtensions": [{"name": n, "versions": [1]} for n in names]}


@handles("tokenInfo")
def _token_info(call: Call) -> dict:
    return {"tokenInfo": {"username": call.user}}


@handles("getUser")
def _user(call: Call) -> dict:
    return {"user": {"username": call.user, "email": "", "scrobblingEnabled": True,
                     "adminRole": False, "settingsRole": False, "downloadRole": True,
                     "uploadRole": False, "playlistRole": True, "coverArtRole": True,
                     "commentRole": False, "podcastRole": False, "streamRole": True,
                     "jukeboxRole": False, "shareRole": False, "videoConversionRole": False,
                     "folder": [1]}}  # fmt: skip


@handles("getMusicFolders")
def _folders(call: Call) -> dict:
    return {"musicFolders": {"musicFolder": [{"id": 1, "name": "Music"}]}}


@handles("getScanStatus")
def _scan_status(call: Call) -> dict:
    return {"scanStatus": {"scanning": False, "count": len(call.lib.browse().tracks)}}


@handles("getNowPlaying")
def _now_playing(call: Call) -> dict:
    return {"nowPlaying": {}}


@handles("getIndexes")
def _indexes(call: Call) -> dict:
    sh = call.shapes()
    modified = max((t["added_at"] for t in sh.col.tracks.values()), default=0.0)
    return {"indexes": {"lastModified": int(modified * 1000), "ignoredArticles": IGNORED_ARTICLES,
                        "index": sh.indexed(sh.listed_artists(), sh.artist_plain)}}  # fmt: skip


@handles("getArtists")
def _artists(call: Call) -> dict:
    sh = call.shapes()
    return {"artists": {"ignoredArticles": IGNORED_ARTICLES,
                        "index": sh.indexed(sh.listed_artists(), sh.artist_id3)}}  # fmt: skip


@handles("getArtist")
def _artist(call: Call) -> dict:
    sh = call.shapes()
    artist = sh.artist(call.params.required("id"))
    return {"artist": {**sh.artist_id3(artist), "album": [sh.album_id3(a) for a in sh.artist_albums(artist)]}}


@handles("getAlbum")
def _album(call: Call) -> dict:
    sh = call.shapes()
    album = sh.album(call.params.required("id"))
    songs = [sh.song(sh.col.tracks[t]) for t in album.track_ids]
    return {"album": {**sh.album_id3(album), "song": songs}}


@handles("getSong")
def _song(call: Call) -> dict:
    sh = call.shapes()
    return {"song": sh.song(sh.track(call.params.required("id")))}


@handles("getMusicDirectory")
def _directory(call: Call) -> dict:
    sh = call.shapes()
    sid = call.params.required("id")
    if sid.startswith(ARTIST):
        artist = sh.artist(sid)
        children = [sh.album_child(a) for a in sh.artist_albums(artist)]
        return {"directory": {"id": sid, "parent": "1", "name": artist.name,
                              "starred": _iso(sh.stars["artist"].get(artist.key)), "child": children}}  # fmt: skip
    album = sh.album(sid)
    children = [sh.song(sh.col.tracks[t]) for t in album.track_ids]
    return {"directory": {"id": sid, "parent": ARTIST + album.artist_key, "name": album.name,
                          "starred": _iso(sh.stars["album"].get(album.key)), "child": children}}  # fmt: skip


@handles("getGenres")
def _genres(call: Call) -> dict:
    sh = call.shapes()
    songs: dict[str, int] = {}
    albums: dict[str, set[str]] = {}
    for t in sh.col.tracks.values():
        if t["genre"]:
            songs[t["genre"]] = songs.get(t["genre"], 0) + 1
            albums.setdefault(t["genre"], set()).add(t["album_key"])
    return {"genres": {"genre": [{"songCount": songs[g], "albumCount": len(albums[g]), "value": g}
                                 for g in sorted(songs, key=fold_text)]}}  # fmt: skip


def _album_selection(call: Call, sh: Shapes) -> list[Any]:
    kind = call.params.required("type")
    size = call.params.int("size", 10, 1, MAX_LIST)
    offset = call.params.int("offset", 0, 0)
    albums = list(sh.col.albums.values())
    plays = {a.key: sum(sh.counts.get(t, (0, 0.0))[0] for t in a.track_ids) for a in albums}
    last = {a.key: max((sh.counts.get(t, (0, 0.0))[1] for t in a.track_ids), default=0.0) for a in albums}
    if kind == "random":
        import random

        random.shuffle(albums)
    elif kind == "newest":
        albums.sort(key=lambda a: -a.added_at)
    elif kind in ("frequent", "highest"):
        albums = sorted((a for a in albums if plays[a.key]), key=lambda a: -plays[a.key])
    elif kind == "recent":
        albums = sorted((a for a in albums if last[a.key]), key=lambda a: -last[a.key])
    elif kind == "alphabeticalByName":
        pass  # already in name order
    elif kind == "alphabeticalByArtist":
        albums.sort(key=lambda a: (fold_text(a.artist), fold_text(a.name)))
    elif kind == "starred":
        albums = [a for a in albums if a.key in sh.stars["album"]]
    elif kind == "byYear":
        low = call.params.int("fromYear", 0, -9999, 9999)
        high = call.params.int("toYear", 9999, -9999, 9999)
        lo, hi = min(low, high), max(low, high)
        albums = sorted((a for a in albums if a.year and lo <= a.year <= hi),
                        key=lambda a: a.year if low <= high else -a.year)  # fmt: skip
    elif kind == "byGenre":
        genre = fold_text(call.params.required("genre"))
        albums = [a for a in albums if fold_text(a.genre) == genre]
    else:
        raise SubsonicError(GENERIC, f"unknown album list type: {kind}")
    return albums[offset : offset + size]


@handles("getAlbumList2")
def _album_list2(call: Call) -> dict:
    sh = call.shapes()
    return {"albumList2": {"album": [sh.album_id3(a) for a in _album_selection(call, sh)]}}


@handles("getAlbumList")
def _album_list(call: Call) -> dict:
    sh = call.shapes()
    return {"albumList": {"album": [sh.album_child(a) for a in _album_selection(call, sh)]}}


@handles("getRandomSongs")
def _random_songs(call: Call) -> dict:
    import random

    sh = call.shapes()
    genre = fold_text(call.params.get("genre"))
    low = call.params.int("fromYear", -9999, -9999, 9999)
    high = call.params.int("toYear", 9999, -9999, 9999)
    pool = [t for t in sh.col.tracks.values()
            if (not genre or fold_text(t["genre"]) == genre)
            and (("fromYear" not in call.params and "toYear" not in call.params)
                 or (t["year"] is not None and low <= t["year"] <= high))]  # fmt: skip
    picked = random.sample(pool, min(len(pool), call.params.int("size", 10, 1, MAX_LIST)))
    return {"randomSongs": {"song": [sh.song(t) for t in picked]}}


def _matches(words: list[str], *texts: str | None) -> bool:
    """Every query word starts a word of the texts ("song 3" finds "Song 3", not "x.mp3")."""
    tokens = re.findall(r"\w+", " ".join(fold_text(t) for t in texts if t))
    return all(any(t.startswith(w) for t in tokens) for w in words)


@handles("search3", "search2")
def _search(call: Call) -> dict:
    sh = call.shapes()
    p = call.params
    words = re.findall(r"\w+", fold_text(p.get("query")))

    def window(items: list, what: str) -> list:
        offset = p.int(f"{what}Offset", 0, 0)
        return items[offset : offset + p.int(f"{what}Count", 20, 0, MAX_LIST)]

    artists = window([a for a in sh.listed_artists() if _matches(words, a.name)], "artist")
    albums = window([a for a in sh.col.albums.values() if _matches(words, a.name, a.artist)], "album")
    songs = window([t for t in sh.col.tracks.values()
                    if _matches(words, t["title"], t["artist"], t["album"],
                                os.path.basename(str(t["path"])))], "song")  # fmt: skip
    if call.method == "search2":
        return {"searchResult2": {"artist": [sh.artist_plain(a) for a in artists],
                                  "album": [sh.album_child(a) for a in albums],
                                  "song": [sh.song(t) for t in songs]}}  # fmt: skip
    return {"searchResult3": {"artist": [sh.artist_id3(a) for a in artists],
                              "album": [sh.album_id3(a) for a in albums],
                              "song": [sh.song(t) for t in songs]}}  # fmt: skip


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


def _seed_tracks(call: Call, sh: Shapes, sid: str) -> list[int]:
    if sid.startswith(ALBUM):
        return list(sh.album(sid).track_ids)
    if sid.startswith(ARTIST):
        return list(sh.artist(sid).track_ids)
    return [int(sh.track(sid)["id"])]


@handles("getSimilarSongs", "getSimilarSongs2")
def _similar(call: Call) -> dict:
    """segue's radio from the song (or an album's or artist's songs): keep-on picks that never
    repeat the seeds and steer away from what this library's players skipped lately."""
    key = "similarSongs2" if call.method == "getSimilarSongs2" else "similarSongs"
    sh = call.shapes()
    count = call.params.int("count", 50, 1, MAX_LIST)
    seed_ids = _seed_tracks(call, sh, call.params.required("id"))
    lib = call.libraries.get(catalog=True)
    try:
        seeds = lib.known_rows(seed_ids)[:20]  # only analysed tracks can seed
        if not seeds:
            return {key: {}}
        recent = lib.plays(limit=RECENT_PLAYS)
        skipped = [r for r in lib.known_rows(p.track_id for p in recent if p.event == "skip" and p.track_id)
                   if r not in seeds]  # fmt: skip
        # skipped tracks count as heard (never offered again) and steer the radio away
        rows = lib.radio_next(seeds, [*seeds, *dict.fromkeys(skipped)], count, skipped=skipped)
    except NotReady:
        return {key: {}}
    ids = [r["id"] for r in lib.rows_json(rows, paths=False)]
    return {key: {"song": [sh.song(sh.col.tracks[i]) for i in ids if i in sh.col.tracks]}}


@handles("getTopSongs")
def _top_songs(call: Call) -> dict:
    """An artist's songs, the most played to the end first (then in album order)."""
    sh = call.shapes()
    name = fold_text(call.params.required("artist"))
    count = call.params.int("count", 50, 1, MAX_LIST)
    artist = next((a for a in sh.col.artists.values() if fold_text(a.name) == name), None)
    if artist is None:
        return {"topSongs": {}}
    own_albums = (t for a in artist.album_keys for t in sh.col.albums[a].track_ids)
    ids = list(dict.fromkeys([*artist.track_ids, *own_albums]))
    ids.sort(key=lambda t: -sh.counts.get(t, (0, 0.0))[0])  # stable: album order breaks ties
    return {"topSongs": {"song": [sh.song(sh.col.tracks[t]) for t in ids[:count]]}}


def _star_targets(call: Call, sh: Shapes) -> list[tuple[str, str | int]]:
    out: list[tuple[str, str | int]] = []
    for sid in call.params.all("id"):
        if sid.startswith(ALBUM):
            out.append(("album", sh.album(sid).key))
        elif sid.startswith(ARTIST):
            out.append(("artist", sh.artist(sid).key))
        else:
            out.append(("track", int(sh.track(sid)["id"])))
    out += [("album", sh.album(s).key) for s in call.params.all("albumId")]
    out += [("artist", sh.artist(s).key) for s in call.params.all("artistId")]
    return out


@handles("star", "unstar")
def _star(call: Call) -> dict:
    sh = call.shapes()
    for kind, key in _star_targets(call, sh):
        call.lib.star(kind, key, starred=call.method == "star")
    return {}


@handles("getStarred2", "getStarred")
def _starred(call: Call) -> dict:
    sh = call.shapes()
    stars = sh.stars
    artists = [sh.col.artists[k] for k in stars["artist"] if k in sh.col.artists]
    albums = [sh.col.albums[k] for k in stars["album"] if k in sh.col.albums]
    songs = [sh.col.tracks[t] for t in stars["track"] if t in sh.col.tracks]
    if call.method == "getStarred":
        return {"starred": {"artist": [sh.artist_plain(a) for a in artists],
                            "album": [sh.album_child(a) for a in albums],
                            "song": [sh.song(t) for t in songs]}}  # fmt: skip
    return {"starred2": {"artist": [sh.artist_id3(a) for a in artists],
                         "album": [sh.album_id3(a) for a in albums],
                         "song": [sh.song(t) for t in songs]}}  # fmt: skip


def _playlist(sh: Shapes, p: Any, user: str, songs: bool) -> dict[str, Any]:
    ids = [t for t in p.track_ids if t in sh.col.tracks]
    out: dict[str, Any] = {
        "id": str(p.id),
        "name": p.name,
        "comment": p.comment,
        "owner": p.owner or user,
        "public": p.public,
        "songCount": len(ids),
        "duration": int(round(sum(float(sh.col.tracks[t]["duration"]) for t in ids))),
        "created": _iso(p.created_at),
        "changed": _iso(p.changed_at),
        "coverArt": next((sh.col.tracks[t]["cover"] for t in ids if sh.col.tracks[t]["cover"]), None),
    }
    if songs:
        out["entry"] = [sh.song(sh.col.tracks[t]) for t in ids]
    return out


def _playlist_id(text: str) -> int:
    if not text.isdigit():
        raise SubsonicError(NOT_FOUND, f"playlist not found: {text}")
    return int(text)


def _song_ids(call: Call, sh: Shapes, name: str) -> list[int]:
    return [int(sh.track(s)["id"]) for s in call.params.all(name)]


@handles("getPlaylists")
def _playlists(call: Call) -> dict:
    sh = call.shapes()
    return {"playlists": {"playlist": [_playlist(sh, p, call.user, False) for p in call.lib.saved_playlists()]}}


@handles("getPlaylist")
def _get_playlist(call: Call) -> dict:
    sh = call.shapes()
    return {"playlist": _playlist(sh, call.lib.saved_playlist(_playlist_id(call.params.required("id"))),
                                  call.user, True)}  # fmt: skip


@handles("createPlaylist")
def _create_playlist(call: Call) -> dict:
    sh = call.shapes()
    songs = _song_ids(call, sh, "songId")
    existing = call.params.get("playlistId")
    if existing:
        pid = _playlist_id(existing)
        name = call.params.get("name") or call.lib.saved_playlist(pid).name
        call.lib.save_playlist(name, songs, playlist_id=pid)
    else:
        pid = call.lib.save_playlist(call.params.required("name"), songs, owner=call.user)
    return {"playlist": _playlist(sh, call.lib.saved_playlist(pid), call.user, True)}


@handles("updatePlaylist")
def _update_playlist(call: Call) -> dict:
    sh = call.shapes()
    p = call.params
    pid = _playlist_id(p.required("playlistId"))
    public = p.bool("public", False) if "public" in p else None
    remove = [int(i) for i in p.all("songIndexToRemove") if i.isdigit()]
    call.lib.update_saved_playlist(pid, name=p.get("name"), comment=p.get("comment"), public=public,
                                   add=_song_ids(call, sh, "songIdToAdd"), remove_positions=remove)  # fmt: skip
    return {}


@handles("deletePlaylist")
def _delete_playlist(call: Call) -> dict:
    call.lib.delete_saved_playlist(_playlist_id(call.params.required("id")))
    return {}


@handles("scrobble")
def _scrobble(call: Call) -> dict:
    sh = call.shapes()
    submission = call.params.bool("submission", True)
    now = time.time()
    for sid in call.params.all("id") or [call.params.required("id")]:
        track = sh.track(sid)
        tid, duration = int(track["id"]), float(track["duration"])
        if submission:
            call.lib.record_play(tid, "complete", duration, duration)
            call.now_playing.finish(call.user, tid)
            continue
        cut = call.now_playing.start(call.user, tid, duration, now)
        if cut is not None:
            prev = sh.col.tracks.get(cut[0])
            call.lib.record_play(cut[0], "skip", round(cut[1], 3),
                                 float(prev["duration"]) if prev else None)  # fmt: skip
        call.lib.record_play(tid, "start", 0.0, duration)
    return {}


@handles("getArtistInfo", "getArtistInfo2", "getAlbumInfo", "getAlbumInfo2")
def _info(call: Call) -> dict:
    """Biographies and notes come from the web in other servers; segue has none to give."""
    key = {"getArtistInfo": "artistInfo", "getArtistInfo2": "artistInfo2",
           "getAlbumInfo": "albumInfo", "getAlbumInfo2": "albumInfo"}[call.method]  # fmt: skip
    return {key: {}}


# -- wiring --------------------------------------------------------------------------------------


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
