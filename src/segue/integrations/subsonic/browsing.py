"""Browsing: the server's facts (ping, license, extensions, user, folders, scan status), the
artist indexes, artists, albums, songs and folders, genres, album lists, random songs and
search."""

from __future__ import annotations

import os
import re
from typing import Any

from segue.api import fold_text
from segue.integrations.subsonic.protocol import (
    GENERIC,
    IGNORED_ARTICLES,
    MAX_LIST,
    SubsonicError,
    _iso,
)
from segue.integrations.subsonic.registry import Call, handles
from segue.integrations.subsonic.shapes import ARTIST, Shapes


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
        return {"searchResult2": sh.lists(artists, albums, songs, id3=False)}
    return {"searchResult3": sh.lists(artists, albums, songs, id3=True)}
