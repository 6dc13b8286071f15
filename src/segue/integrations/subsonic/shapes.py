"""Ids (tracks are their library id, albums ``al-KEY``, artists ``ar-KEY``) and the library's
songs, albums and artists as the API's elements."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from segue.api import Collection, Library, fold_text, media_type
from segue.integrations.subsonic.protocol import IGNORED_ARTICLES, NOT_FOUND, SubsonicError, _iso

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

    def lists(self, artists: list[Any], albums: list[Any], songs: list[dict[str, Any]],
              id3: bool) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
        """Artists, albums and songs as one answer's three lists (search results, starred):
        ID3-style elements, or folder-style ones for the older calls."""
        return {
            "artist": [self.artist_id3(a) if id3 else self.artist_plain(a) for a in artists],
            "album": [self.album_id3(a) if id3 else self.album_child(a) for a in albums],
            "song": [self.song(t) for t in songs],
        }

    def indexed(self, artists: list[Any], shape: Callable[[Any], dict]) -> list[dict[str, Any]]:
        groups: dict[str, list[dict]] = {}
        for a in artists:
            groups.setdefault(_index_letter(a.name), []).append(shape(a))
        return [{"name": k, "artist": groups[k]} for k in sorted(groups, key=lambda k: (k == "#", k))]

    def listed_artists(self) -> list[Any]:
        """Artists with something to open: album artists, and track artists (guests)."""
        return [a for a in self.col.artists.values() if a.album_keys or a.track_ids]
