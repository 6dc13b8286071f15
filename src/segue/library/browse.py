"""The collection as a player browses it: tracks grouped into albums and artists.

Players (Subsonic apps, MPD clients) browse by artist and album, and they need ids for both
that stay the same from one request, one restart, one rescan to the next. An album is the
tracks sharing a tagged album artist and an album title (compared case- and
accent-insensitively); without an album artist, the tracks of one folder sharing an album
title (a compilation tagged only per track stays one album, by its artists' common name or
"Various Artists"). An artist is a name (album artists and track artists alike). Keys are
short hashes of those folded names, so they are stable. Tracks without an album tag fall into
one album per folder, titled by the folder's name.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

from segue.library.store import TrackRow

UNKNOWN_ARTIST = "Unknown Artist"
VARIOUS_ARTISTS = "Various Artists"


def fold(text: str | None) -> str:
    """Case- and accent-insensitive form of a name, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def group_key(*parts: str | None) -> str:
    """A stable 16-hex key for a group named by ``parts`` (folded first)."""
    joined = "\x00".join(fold(p) for p in parts)
    return hashlib.sha1(joined.encode("utf-8")).hexdigest()[:16]


@dataclass
class Album:
    """One album: its tracks in disc/track/title order."""

    key: str
    name: str
    artist: str
    artist_key: str
    track_ids: list[int] = field(default_factory=list)
    year: int | None = None
    genre: str | None = None
    cover: str | None = None
    duration: float = 0.0
    added_at: float = 0.0


@dataclass
class Artist:
    """One artist name: the albums it is the album artist of, and the tracks it plays on."""

    key: str
    name: str
    album_keys: list[str] = field(default_factory=list)
    track_ids: list[int] = field(default_factory=list)


def track_artist(track: TrackRow) -> str:
    return track.artist or track.album_artist or UNKNOWN_ARTIST


def album_name(track: TrackRow) -> str:
    if track.album:
        return track.album
    return os.path.basename(os.path.dirname(track.path)) or "Unknown Album"


def album_key(track: TrackRow) -> str:
    if track.album_artist and track.album:
        return group_key(track.album_artist, track.album)
    return group_key("\x01folder", os.path.dirname(track.path), album_name(track))


def group(tracks: Sequence[TrackRow]) -> tuple[dict[str, Album], dict[str, Artist]]:
    """Albums and artists (by key, in name order) of ``tracks``."""
    members: dict[str, list[TrackRow]] = {}
    order = sorted(tracks, key=lambda t: (t.disc_no or 0, t.track_no or 0, fold(t.title), t.path))
    for t in order:
        members.setdefault(album_key(t), []).append(t)
    artists: dict[str, Artist] = {}

    def artist_of(name: str) -> Artist:
        key = group_key(name)
        if key not in artists:
            artists[key] = Artist(key, name)
        return artists[key]

    albums: dict[str, Album] = {}
    for key, rows in members.items():
        first = rows[0]
        if first.album_artist:
            owner_name = first.album_artist
        else:
            names = {fold(track_artist(t)): track_artist(t) for t in rows}
            owner_name = next(iter(names.values())) if len(names) == 1 else VARIOUS_ARTISTS
        owner = artist_of(owner_name)
        owner.album_keys.append(key)
        album = albums[key] = Album(key, album_name(first), owner.name, owner.key)
        for t in rows:
            album.track_ids.append(t.id)
            album.duration += t.duration
            album.added_at = max(album.added_at, t.added_at)
            album.year = album.year or t.year
            album.genre = album.genre or t.genre
            album.cover = album.cover or t.cover_hash
            artist_of(track_artist(t)).track_ids.append(t.id)
    albums = dict(sorted(albums.items(), key=lambda kv: (fold(kv[1].name), fold(kv[1].artist), kv[0])))
    artists = dict(sorted(artists.items(), key=lambda kv: (fold(kv[1].name), kv[0])))
    return albums, artists
