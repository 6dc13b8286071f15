"""The Subsonic API of ``segue serve``, driven by a real Subsonic client (py-sonic) against a
real server process over a scanned, analysed library; XML answers are checked against the
API's schema (the required attributes, types and element order of subsonic-rest-api 1.16.1)."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

libsonic = pytest.importorskip("libsonic", reason="py-sonic (the test extra) is not installed")
from libsonic.errors import CredentialError  # noqa: E402

from segue import open_library  # noqa: E402
from segue.integrations.subsonic import create_subsonic_app  # noqa: E402
from web_helpers import analysed_library  # noqa: E402

from conftest import REPO  # noqa: E402

USER, PASSWORD, API_KEY = "alice", "s3cret pässword", "k3y-for-phones"
NS = "{http://subsonic.org/restapi}"


def copy_db(src: Path, dst: Path) -> Path:
    """A private copy of a library database (this module writes plays, stars, playlists),
    without the plays other modules recorded in the shared one: its radio steers away from
    recent skips, and this module's expectations start from none."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    with sqlite3.connect(dst) as b:
        b.execute("DELETE FROM plays")
    return dst


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    music, db = analysed_library(tmp_path_factory.mktemp("web"))
    return music, copy_db(db, tmp_path_factory.mktemp("subsonic") / "library.db")


@pytest.fixture(scope="module")
def server(library: tuple[Path, Path]) -> Iterator[str]:
    """``segue serve`` with a Subsonic user, as the README says to start it."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "SEGUE_SUBSONIC_API_KEY": API_KEY}
    proc = subprocess.Popen(
        [sys.executable, "-m", "segue.cli", "--db", str(library[1]), "serve", "--port", str(port),
         "--subsonic-user", USER, "--subsonic-password", PASSWORD],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/rest/ping", timeout=1)
            break
        except httpx.HTTPError:
            if proc.poll() is not None:
                pytest.fail(f"segue serve died: {proc.stderr.read()}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


def client(base: str, password: str = PASSWORD, **kw) -> libsonic.Connection:
    host, port = base.rsplit(":", 1)
    return libsonic.Connection(host, USER, password, port=int(port), appName="segue-test", **kw)


def ids_by_title(conn: libsonic.Connection) -> dict[str, str]:
    songs = conn.search3("", artistCount=0, albumCount=0, songCount=500)["searchResult3"]["song"]
    return {s["title"]: s["id"] for s in songs}


# -- the schema: required attributes, types and child order of what segue answers ---------------

CHILD = {"required": {"id", "isDir", "title"}, "int": {"track", "year", "duration", "bitRate",
         "discNumber", "size", "playCount"}, "bool": {"isDir", "isVideo"}, "date": {"created", "starred"}}  # fmt: skip
ALBUM_ID3 = {"required": {"id", "name", "songCount", "duration", "created"},
             "int": {"songCount", "duration", "year", "playCount"}, "date": {"created", "starred"}}  # fmt: skip
ARTIST_ID3 = {"required": {"id", "name", "albumCount"}, "int": {"albumCount"}, "date": {"starred"}}
ARTIST = {"required": {"id", "name"}, "date": {"starred"}}
PLAYLIST = {"required": {"id", "name", "songCount", "duration", "created", "changed"},
            "int": {"songCount", "duration"}, "bool": {"public"}, "date": {"created", "changed"}}  # fmt: skip
#: complex type -> (its attribute rules, its children in sequence order with their types)
TYPES: dict[str, tuple[dict, list[tuple[str, str]]]] = {
    "Child": (CHILD, []),
    "AlbumID3": (ALBUM_ID3, []),
    "AlbumWithSongsID3": (ALBUM_ID3, [("song", "Child")]),
    "ArtistID3": (ARTIST_ID3, []),
    "ArtistWithAlbumsID3": (ARTIST_ID3, [("album", "AlbumID3")]),
    "Artist": (ARTIST, []),
    "ArtistsID3": ({"required": {"ignoredArticles"}}, [("index", "IndexID3")]),
    "IndexID3": ({"required": {"name"}}, [("artist", "ArtistID3")]),
    "Indexes": ({"required": {"lastModified", "ignoredArticles"}, "int": {"lastModified"}},
                [("shortcut", "Artist"), ("index", "Index"), ("child", "Child")]),  # fmt: skip
    "Index": ({"required": {"name"}}, [("artist", "Artist")]),
    "SearchResult3": ({}, [("artist", "ArtistID3"), ("album", "AlbumID3"), ("song", "Child")]),
    "Songs": ({}, [("song", "Child")]),
    "AlbumList2": ({}, [("album", "AlbumID3")]),
    "Playlists": ({}, [("playlist", "Playlist")]),
    "Playlist": (PLAYLIST, [("allowedUser", "string")]),
    "PlaylistWithSongs": (PLAYLIST, [("allowedUser", "string"), ("entry", "Child")]),
    "Starred2": ({}, [("artist", "ArtistID3"), ("album", "AlbumID3"), ("song", "Child")]),
    "MusicFolders": ({}, [("musicFolder", "MusicFolder")]),
    "MusicFolder": ({"required": {"id"}, "int": {"id"}}, []),
    "License": ({"required": {"valid"}, "bool": {"valid"}, "date": {"licenseExpires"}}, []),
    "Error": ({"required": {"code"}, "int": {"code"}}, []),
}
RESPONSE_CHILDREN = {
    "artists": "ArtistsID3", "artist": "ArtistWithAlbumsID3", "album": "AlbumWithSongsID3",
    "song": "Child", "indexes": "Indexes", "searchResult3": "SearchResult3",
    "similarSongs2": "Songs", "similarSongs": "Songs", "topSongs": "Songs", "randomSongs": "Songs",
    "albumList2": "AlbumList2", "playlists": "Playlists", "playlist": "PlaylistWithSongs",
    "starred2": "Starred2", "musicFolders": "MusicFolders", "license": "License", "error": "Error",
}  # fmt: skip
TYPES["Response"] = ({"required": {"status", "version"}}, list(RESPONSE_CHILDREN.items()))  # a choice
DATE_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$"


def check_schema(element: ET.Element, type_name: str) -> None:
    """``element`` conforms to ``type_name``: required attributes, value types, children
    allowed and in the schema's sequence order."""
    import re

    rules, sequence = TYPES[type_name]
    where = f"<{element.tag.removeprefix(NS)}> ({type_name})"
    missing = rules.get("required", set()) - set(element.attrib)
    assert not missing, f"{where} lacks required {sorted(missing)}"
    for name in rules.get("int", set()) & set(element.attrib):
        assert re.fullmatch(r"-?\d+", element.attrib[name]), f"{where} {name}={element.attrib[name]!r}"
    for name in rules.get("bool", set()) & set(element.attrib):
        assert element.attrib[name] in ("true", "false"), f"{where} {name}={element.attrib[name]!r}"
    for name in rules.get("date", set()) & set(element.attrib):
        assert re.match(DATE_RE, element.attrib[name]), f"{where} {name}={element.attrib[name]!r}"
    order = [name for name, _ in sequence]
    positions = []
    for child in element:
        tag = child.tag.removeprefix(NS)
        assert tag in order, f"{where} may not hold <{tag}>"
        positions.append(order.index(tag))
        child_type = dict(sequence)[tag]
        if child_type != "string":
            check_schema(child, child_type)
    assert positions == sorted(positions), f"{where}: children out of the schema's order"


def xml_call(base: str, method: str, **params: object) -> ET.Element:
    """Call ``method`` with token auth, no ``f`` (XML, the default), check the envelope and
    the answer's schema, and return the root."""
    salt = "c19b2d"
    token = hashlib.md5((PASSWORD + salt).encode()).hexdigest()
    r = httpx.get(f"{base}/rest/{method}.view", params={"u": USER, "t": token, "s": salt,
                                                         "v": "1.16.1", "c": "test", **params})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(r.content)
    assert root.tag == f"{NS}subsonic-response"
    check_schema(root, "Response")
    assert root.attrib["status"] in ("ok", "failed") and root.attrib["version"] == "1.16.1"
    assert len(root) <= 1, "a response holds at most one answer element"
    return root


# -- the tests -----------------------------------------------------------------------------------


def test_ping_with_token_password_and_api_key_auth(server: str) -> None:
    assert client(server).ping()  # py-sonic's default: the salted md5 token (t, s)
    assert client(server, legacyAuth=True).ping()  # p=enc:HEX
    with pytest.raises(CredentialError):
        client(server, password="wrong").ping()
    ok = httpx.get(f"{server}/rest/ping", params={"apiKey": API_KEY, "f": "json"}).json()
    assert ok["subsonic-response"]["status"] == "ok" and ok["subsonic-response"]["openSubsonic"] is True
    codes = {
        "bad key": {"apiKey": "nope"},
        "key and user": {"apiKey": API_KEY, "u": USER},
        "no credentials": {"u": USER},
    }
    got = {what: httpx.get(f"{server}/rest/ping", params={**p, "f": "json"}).json()
           ["subsonic-response"]["error"]["code"] for what, p in codes.items()}  # fmt: skip
    assert got == {"bad key": 44, "key and user": 43, "no credentials": 10}
    # the web player's own API is still there beside it
    assert httpx.get(f"{server}/api/status").json()["analysed"] == 15


def test_off_without_credentials_says_how_to_turn_it_on(library: tuple[Path, Path]) -> None:
    from fastapi.testclient import TestClient

    answer = TestClient(create_subsonic_app(library[1], None)).get("/rest/ping", params={"f": "json"}).json()
    error = answer["subsonic-response"]["error"]
    assert error["code"] == 40 and "--subsonic-user" in error["message"]


def test_browse_artists_albums_and_search3(server: str) -> None:
    conn = client(server)
    index = conn.getArtists()["artists"]["index"]
    names = {a["name"]: a for group in index for a in group["artist"]}
    assert {"Ärtist One", "Extra Band 0", "Extra Band 1", "Extra Band 2", "山田"} <= set(names)
    artist = conn.getArtist(names["Ärtist One"]["id"])["artist"]
    assert [a["name"] for a in artist["album"]] == ["Album A"]
    album = conn.getAlbum(artist["album"][0]["id"])["album"]
    assert [s["title"] for s in album["song"]] == ["First Song", "Second Song"]  # track order
    assert album["songCount"] == 2 and album["song"][0]["suffix"] == "mp3"
    found = conn.search3("extra song 3")["searchResult3"]
    assert [s["title"] for s in found["song"]] == ["Extra Song 3"]
    assert [a["name"] for a in conn.search3("extras")["searchResult3"]["album"]] == ["Extras"]
    assert len(conn.search3("")["searchResult3"]["song"]) == 15  # empty query: everything
    # the older search2 answers with folder-style elements: an album is a directory
    old = conn.search2("extras")["searchResult2"]
    assert [(a["title"], a["isDir"]) for a in old["album"]] == [("Extras", True)]
    assert [s["title"] for s in conn.search2("extra song 3")["searchResult2"]["song"]] == ["Extra Song 3"]
    song = conn.getSong(found["song"][0]["id"])["song"]
    assert song["artist"] == "Extra Band 0" and song["albumId"] == found["song"][0]["albumId"]


def test_xml_answers_follow_the_schema(server: str) -> None:
    conn = client(server)
    artists = xml_call(server, "getArtists")
    first_artist = artists.find(f"{NS}artists/{NS}index/{NS}artist").attrib["id"]
    artist = xml_call(server, "getArtist", id=first_artist)
    album_id = artist.find(f"{NS}artist/{NS}album").attrib["id"]
    xml_call(server, "getAlbum", id=album_id)
    song_id = ids_by_title(conn)["First Song"]
    for method, params in [
        ("ping", {}), ("getLicense", {}), ("getMusicFolders", {}), ("getIndexes", {}),
        ("getSong", {"id": song_id}), ("search3", {"query": "song"}),
        ("getAlbumList2", {"type": "alphabeticalByName", "size": 50}),
        ("getSimilarSongs2", {"id": song_id, "count": 4}), ("getTopSongs", {"artist": "Extra Band 0"}),
        ("getPlaylists", {}), ("getStarred2", {}), ("getRandomSongs", {"size": 3}),
    ]:  # fmt: skip
        root = xml_call(server, method, **params)
        assert root.attrib["status"] == "ok", (method, ET.tostring(root))
    hostile = xml_call(server, "search3", query="bold")  # tags with markup are escaped, not parsed
    assert hostile.find(f"{NS}searchResult3/{NS}artist").attrib["name"] == "<b>bold</b> & co"
    failed = xml_call(server, "getAlbum", id="al-0000")
    assert failed.attrib["status"] == "failed" and failed.find(f"{NS}error").attrib["code"] == "70"


def test_stream_serves_a_range_of_the_file(server: str, library: tuple[Path, Path]) -> None:
    conn = client(server)
    song_id = ids_by_title(conn)["First Song"]
    path = library[0] / "Ärtist One/Album A/01 First Song.mp3"
    data, size = path.read_bytes(), path.stat().st_size
    whole = conn.stream(song_id)
    assert whole.headers["Content-Type"] == "audio/mpeg" and whole.read() == data
    ranged = client(server, customHeaders={"Range": "bytes=100-1123"}).stream(song_id)
    assert ranged.status == 206 and ranged.headers["Content-Range"] == f"bytes 100-1123/{size}"
    assert ranged.read() == data[100:1124]
    # a phone's media player seeks with GET and the credentials in the URL
    salt = "a1b2c3"
    token = hashlib.md5((PASSWORD + salt).encode()).hexdigest()
    seek = httpx.get(f"{server}/rest/stream", headers={"Range": f"bytes={size - 500}-"},
                     params={"u": USER, "t": token, "s": salt, "c": "phone", "v": "1.16.1", "id": song_id})  # fmt: skip
    assert seek.status_code == 206 and seek.content == data[-500:]
    cover = client(server).getCoverArt(conn.getSong(song_id)["song"]["coverArt"], size=16)
    assert cover.headers["Content-Type"].startswith("image/") and len(cover.read()) > 50


def test_similar_songs_are_segue_radio_and_skips_steer_away(server: str, library: tuple[Path, Path]) -> None:
    conn = client(server)
    ids = ids_by_title(conn)
    seed = ids["Extra Song 0"]
    similar = [s["id"] for s in conn.getSimilarSongs2(seed, count=5)["similarSongs2"]["song"]]
    assert len(similar) == 5 and seed not in similar and len(set(similar)) == 5
    with open_library(library[1]) as lib:  # the same picks as the library's own radio
        row = lib.row(int(seed))
        expected = [r["id"] for r in lib.rows_json(lib.radio_next([row], [row], 5))]
    assert [int(i) for i in similar] == expected
    by_album = conn.getSimilarSongs(conn.getSong(seed)["song"]["albumId"], count=3)["similarSongs"]["song"]
    assert len(by_album) == 3 and "Extras" not in {s["album"] for s in by_album}
    # the player skips the first pick 1 s in (now playing, then now playing the next one)
    skipped = similar[0]
    conn.scrobble(skipped, submission=False)
    time.sleep(1.0)
    conn.scrobble(similar[1], submission=False)
    with open_library(library[1]) as lib:
        events = [(p.track_id, p.event) for p in lib.plays(limit=3)]
        skip = lib.plays(limit=3)[1]
    assert events == [(int(similar[1]), "start"), (int(skipped), "skip"), (int(skipped), "start")]
    assert 0.9 <= skip.position_s < 5
    after = [s["id"] for s in conn.getSimilarSongs2(seed, count=5)["similarSongs2"]["song"]]
    assert skipped not in after and after != similar


def test_scrobble_submission_counts_and_top_songs_rank_by_plays(server: str, library: tuple[Path, Path]) -> None:
    conn = client(server)
    ids = ids_by_title(conn)
    for _ in range(2):
        conn.scrobble(ids["Extra Song 3"], submission=True)
    with open_library(library[1]) as lib:
        latest = lib.plays(limit=1)[0]
    assert (latest.track_id, latest.event) == (int(ids["Extra Song 3"]), "complete")
    top = conn.getTopSongs("extra band 0", count=10)["topSongs"]["song"]
    assert top[0]["title"] == "Extra Song 3" and top[0]["playCount"] == 2
    assert {s["title"] for s in top} == {"Extra Song 0", "Extra Song 3"}
    frequent = conn.getAlbumList2("frequent")["albumList2"]["album"]
    assert frequent[0]["name"] == "Extras"


def test_playlists_create_get_update_delete(server: str) -> None:
    conn = client(server)
    ids = ids_by_title(conn)
    songs = [ids["First Song"], ids["夜"], ids["Extra Song 2"]]
    made = conn.createPlaylist(name="Road trip", songIds=songs)["playlist"]
    assert made["name"] == "Road trip" and made["songCount"] == 3 and made["owner"] == USER
    listed = conn.getPlaylists()["playlists"]["playlist"]
    assert [(p["id"], p["name"], p["songCount"]) for p in listed] == [(made["id"], "Road trip", 3)]
    conn.updatePlaylist(made["id"], name="Road trip II", songIdsToAdd=[ids["Extra Song 4"]],
                        songIndexesToRemove=[1])  # fmt: skip
    got = conn.getPlaylist(made["id"])["playlist"]
    assert got["name"] == "Road trip II"
    assert [e["title"] for e in got["entry"]] == ["First Song", "Extra Song 2", "Extra Song 4"]
    conn.deletePlaylist(made["id"])
    assert "playlist" not in conn.getPlaylists()["playlists"]


def test_star_and_unstar_songs_albums_artists(server: str) -> None:
    conn = client(server)
    ids = ids_by_title(conn)
    song = conn.getSong(ids["Second Song"])["song"]
    conn.star(sids=[song["id"]], albumIds=[song["albumId"]], artistIds=[song["artistId"]])
    starred = conn.getStarred2()["starred2"]
    assert [s["title"] for s in starred["song"]] == ["Second Song"] and "starred" in starred["song"][0]
    assert [a["name"] for a in starred["album"]] == ["Album A"]
    assert [a["name"] for a in starred["artist"]] == ["Ärtist One"]
    assert conn.getAlbumList2("starred")["albumList2"]["album"][0]["name"] == "Album A"
    folders = conn.getStarred()["starred"]  # the older call: folder-style album and artist
    assert [(a["title"], a["isDir"]) for a in folders["album"]] == [("Album A", True)]
    assert [a["name"] for a in folders["artist"]] == ["Ärtist One"]
    assert [s["title"] for s in folders["song"]] == ["Second Song"]
    conn.unstar(sids=[song["id"]], albumIds=[song["albumId"]], artistIds=[song["artistId"]])
    assert conn.getStarred2()["starred2"] == {}


def test_credentials_from_options_or_environment() -> None:
    from segue.api import UserError
    from segue.integrations.subsonic import credentials

    assert credentials(None, None, env={}) is None  # off
    env = {"SEGUE_SUBSONIC_USER": "bob", "SEGUE_SUBSONIC_PASSWORD": "pw", "SEGUE_SUBSONIC_API_KEY": "k"}
    got = credentials(None, None, env=env)
    assert (got.user, got.password, got.api_keys) == ("bob", "pw", ("k",))
    assert credentials("amy", "x", env=env).user == "amy"  # options first
    with pytest.raises(UserError, match="both a user and a password"):
        credentials("amy", None, env={})
