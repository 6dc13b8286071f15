"""The listener's own things: segue's radio (``getSimilarSongs``), top songs by plays, stars,
playlists, scrobbles (which feed the library's plays), and the info calls segue has nothing
for."""

from __future__ import annotations

import time
from typing import Any

from segue.api import NotReady, fold_text
from segue.integrations.subsonic.protocol import MAX_LIST, NOT_FOUND, SubsonicError, _iso
from segue.integrations.subsonic.registry import Call, handles
from segue.integrations.subsonic.shapes import ALBUM, ARTIST, Shapes

#: How far back (play events) getSimilarSongs looks for skips to steer away from.
RECENT_PLAYS = 200

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
        return {"starred": sh.lists(artists, albums, songs, id3=False)}
    return {"starred2": sh.lists(artists, albums, songs, id3=True)}


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
