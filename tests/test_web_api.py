"""The web player's JSON API against a real scanned, analysed library (httpx TestClient)."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import av
import pytest
from fastapi.testclient import TestClient

from segue import open_library
from segue.library.store import Store
from segue.playlist.export import read_playlist
from segue.web.app import create_app
from web_helpers import XSS_TITLE, analysed_library, fresh_art_cache

from audio_factory import write_audio


@pytest.fixture(autouse=True)
def art_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test here gets an empty art cache: the map's t-SNE runs, not the user's cache."""
    return fresh_art_cache(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def lib_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return analysed_library(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def client(lib_db: tuple[Path, Path]) -> TestClient:
    return TestClient(create_app(lib_db[1]))


def ids_by_title(client: TestClient) -> dict[str, int]:
    return {t["title"]: t["id"] for t in client.get("/api/search?limit=500").json()["tracks"]}


def test_search_as_you_type_matches_title_artist_album(client: TestClient) -> None:
    titles = lambda q: [t["title"] for t in client.get("/api/search", params={"q": q}).json()["tracks"]]  # noqa: E731
    assert titles("first") == ["First Song"]
    assert titles("artist one") == ["First Song", "Second Song"]  # accent-insensitive artist
    assert set(titles("extras")) == {f"Extra Song {i}" for i in range(6)}  # album
    assert titles("夜") == ["夜"]
    assert titles("extra song 3") == ["Extra Song 3"]
    assert titles("zzzz nothing") == []
    everything = client.get("/api/search", params={"limit": 500}).json()["tracks"]
    assert len(everything) == 15 and {"id", "title", "artist", "cover", "duration"} <= set(everything[0])
    assert "path" not in everything[0]  # ids, never paths


def test_similar_excludes_seed_and_ranks(client: TestClient) -> None:
    ids = ids_by_title(client)
    got = client.get("/api/similar", params={"id": ids["First Song"], "n": 5}).json()["tracks"]
    assert len(got) == 5 and ids["First Song"] not in [t["id"] for t in got]
    sims = [t["similarity"] for t in got]
    assert sims == sorted(sims, reverse=True)


def test_radio_is_stateless_knobs_steer_and_never_repeats(client: TestClient) -> None:
    ids = ids_by_title(client)
    seed = ids["Extra Song 0"]
    body = {"seeds": [seed], "history": [seed], "k": 5, "lookback": 3, "noise": 0.0}
    first = [t["id"] for t in client.post("/api/radio", json=body).json()["tracks"]]
    again = [t["id"] for t in client.post("/api/radio", json=body).json()["tracks"]]
    assert first == again and len(first) == 5 and seed not in first and len(set(first)) == 5
    # the history is never repeated
    played = [seed, *first[:3]]
    nxt = [t["id"] for t in client.post("/api/radio", json={**body, "history": played}).json()["tracks"]]
    assert not set(nxt) & set(played)
    # drunk changes the picks
    drunk = {
        tuple(t["id"] for t in client.post("/api/radio", json={**body, "noise": 1.0, "k": 8}).json()["tracks"])
        for _ in range(5)
    }
    assert len(drunk) > 1
    # keep-on 0 (stay on the seed) and 10 differ once there is a history to follow
    long_history = [seed, *nxt]
    a = client.post("/api/radio", json={**body, "history": long_history, "lookback": 0, "k": 3}).json()
    b = client.post("/api/radio", json={**body, "history": long_history, "lookback": 1, "k": 3}).json()
    assert [t["id"] for t in a["tracks"]] != [t["id"] for t in b["tracks"]]


def test_radio_goes_on_forever(client: TestClient) -> None:
    ids = list(ids_by_title(client).values())
    history = list(ids)  # everything has been played once
    got = client.post("/api/radio", json={"seeds": [ids[0]], "history": history, "k": 4}).json()
    assert len(got["tracks"]) == 4  # the oldest plays are forgotten, not the end of the radio
    # before that, every track plays once: no repeat until the library is exhausted
    whole = client.post("/api/radio", json={"seeds": [ids[0]], "history": [ids[0]], "k": len(ids) - 1}).json()
    assert sorted(t["id"] for t in whole["tracks"]) == sorted(ids[1:])


def test_audio_streams_with_range(client: TestClient, lib_db: tuple[Path, Path]) -> None:
    tid = ids_by_title(client)["First Song"]
    whole = client.get(f"/api/tracks/{tid}/audio")
    assert whole.status_code == 200 and whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    path = next(lib_db[0].rglob("01 First Song.mp3"))
    assert whole.content == path.read_bytes()
    part = client.get(f"/api/tracks/{tid}/audio", headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.content == path.read_bytes()[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{path.stat().st_size}"
    tail = client.get(f"/api/tracks/{tid}/audio", headers={"Range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == path.read_bytes()[-100:]
    assert client.get(f"/api/tracks/{tid}/audio", headers={"Range": "bytes=999999999-"}).status_code == 416


def test_covers_and_track(client: TestClient) -> None:
    t = client.get(f"/api/tracks/{ids_by_title(client)['First Song']}").json()
    assert t["cover"]
    img = client.get(f"/api/covers/{t['cover']}")
    assert img.status_code == 200 and img.headers["content-type"].startswith("image/")
    assert img.content[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1", b"\xff\xd8\xff\xdb")


def test_journey_and_exports(client: TestClient, lib_db: tuple[Path, Path], tmp_path: Path) -> None:
    ids = ids_by_title(client)
    a, b = ids["First Song"], ids["Extra Song 5"]
    got = client.post("/api/journey", json={"waypoints": [a, b], "steps": 3}).json()["tracks"]
    assert [t["id"] for t in got][0] == a and got[-1]["id"] == b and len(got) == 5
    assert [t["waypoint"] for t in got] == [True, False, False, False, True]
    for fmt in ("m3u", "xspf"):
        res = client.post("/api/export", json={"ids": [t["id"] for t in got], "format": fmt, "name": "my trip"})
        assert res.status_code == 200 and f'filename="my trip.{fmt}"' in res.headers["content-disposition"]
        out = tmp_path / f"trip.{fmt}"
        out.write_bytes(res.content)
        paths = read_playlist(out)
        assert len(paths) == 5 and all(Path(p).exists() for p in paths)
        assert Path(paths[0]).name == "01 First Song.mp3"
    started = client.post("/api/mix", json={"ids": [t["id"] for t in got[:3]], "format": "ogg", "fade": 2})
    assert started.status_code == 202, started.text
    job = started.json()["job"]
    deadline = time.monotonic() + 120
    while (state := client.get(f"/api/mix/{job}").json())["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert state["state"] == "done" and state["progress"] == 1.0, state
    res = client.get(f"/api/mix/{job}/file")
    assert res.status_code == 200 and res.headers["content-type"] == "audio/ogg"
    mix = tmp_path / "mix.ogg"
    mix.write_bytes(res.content)
    with av.open(str(mix)) as container:
        assert float(container.duration or 0) / 1e6 > 3.0  # three tracks, overlapped
    assert client.get("/api/mix/nope").status_code == 404
    assert client.post("/api/mix", json={"ids": [999999]}).status_code == 404
    assert client.post("/api/mix", json={"ids": [a], "format": "exe"}).status_code == 422


def test_map_points(client: TestClient, art_cache: Path) -> None:
    m = client.get("/api/map").json()
    assert any(p.is_file() for p in art_cache.rglob("*"))  # t-SNE ran here, into the test's cache
    n = len(m["ids"])
    assert n == 15 and len(m["x"]) == len(m["y"]) == len(m["tag"]) == len(m["title"]) == n
    assert all(0 <= v <= 1 for v in m["x"] + m["y"]) and m["method"] == "tsne"
    assert all(0 <= c < len(m["tag_names"]) for c in m["tag"]) and m["tag_names"][0]
    assert len(set(zip(m["x"], m["y"], strict=True))) > n // 2  # the points are spread out


def test_events_recorded_in_store(client: TestClient, lib_db: tuple[Path, Path]) -> None:
    tid = ids_by_title(client)["Second Song"]
    assert client.post("/api/events", json={"track_id": tid, "event": "start", "position_s": 0}).status_code == 201
    assert client.post("/api/events", json={"track_id": tid, "event": "skip", "position_s": 2.5, "duration_s": 8}).status_code == 201
    assert client.post("/api/events", json={"track_id": tid, "event": "complete", "position_s": 8}).status_code == 201
    with Store(lib_db[1]) as store:
        h = store.track(tid).audio_hash
        plays = store.plays(h)
    assert [p.event for p in plays] == ["complete", "skip", "start"]
    assert plays[1].position_s == 2.5 and plays[1].duration_s == 8 and plays[1].track_id == tid
    assert client.get("/api/events?limit=1").json()["events"][0]["event"] == "complete"


def test_xss_title_is_plain_data(client: TestClient) -> None:
    got = client.get("/api/search", params={"q": "img"}).json()["tracks"]
    assert [t["title"] for t in got] == [XSS_TITLE]
    page = client.get("/")
    assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
    js = client.get("/static/app.js").text
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", js)


def test_upload_seed_file(client: TestClient, lib_db: tuple[Path, Path]) -> None:
    src = next(lib_db[0].rglob("extra 2.mp3"))
    res = client.post("/api/seed", files={"file": ("mystery.bin", src.read_bytes(), "application/octet-stream")})
    assert res.status_code == 200, res.text
    got = res.json()
    assert got["name"] == "mystery.bin" and got["tracks"][0]["title"] == "Extra Song 2"
    assert got["tracks"][0]["similarity"] > 0.99
    assert client.get("/api/status").json()["tracks"] == 15  # not added


def test_upload_limits(client: TestClient, tmp_path: Path) -> None:
    text = client.post("/api/seed", files={"file": ("song.mp3", b"hello, this is not audio" * 100, "audio/mpeg")})
    assert text.status_code == 415 and "not a supported audio file" in text.json()["detail"]
    empty = client.post("/api/seed", files={"file": ("e.mp3", b"", "audio/mpeg")})
    assert empty.status_code == 422
    big = client.post(
        "/api/seed", content=b"x" * 100, headers={"Content-Length": str(60 * 1024 * 1024), "Content-Type": "multipart/form-data; boundary=x"}
    )
    assert big.status_code == 413
    broken = tmp_path / "broken.flac"
    write_audio(broken, seconds=2.0)
    data = broken.read_bytes()[:200]  # a FLAC header and nothing to decode
    res = client.post("/api/seed", files={"file": ("broken.flac", data, "audio/flac")})
    assert res.status_code in (415, 422), res.text


def test_listen_wav(client: TestClient, lib_db: tuple[Path, Path], tmp_path: Path) -> None:
    from web_helpers import wav_of

    wav = wav_of(next(lib_db[0].rglob("extra 4.mp3")), tmp_path / "room.wav")
    got = client.post("/api/listen", files={"file": ("room.wav", wav.read_bytes(), "audio/wav")}).json()
    assert got["match"]["title"] == "Extra Song 4"
    assert len(got["next"]) == 10 and got["match"]["id"] not in [t["id"] for t in got["next"]]


@pytest.mark.parametrize(
    ("method", "url", "kw", "status"),
    [
        ("get", "/api/tracks/999999/audio", {}, 404),
        ("get", "/api/tracks/-1/audio", {}, 404),
        ("get", "/api/tracks/abc/audio", {}, 422),
        ("get", "/api/tracks/99999999999999999999999/audio", {}, 404),
        ("get", "/api/tracks/..%2F..%2Fetc%2Fpasswd/audio", {}, 404),
        ("get", "/api/tracks/1%2F..%2F..%2Fetc%2Fpasswd", {}, 404),
        ("get", "/api/covers/..%2f..%2f..%2fetc%2fpasswd", {}, 404),  # httpx keeps %2f; see below
        ("get", "/api/covers/zzzz", {}, 404),
        ("get", "/api/covers/" + "a" * 64, {}, 404),
        ("get", "/static/..%2fapp.py", {}, 404),
        ("get", "/api/similar", {}, 422),
        ("get", "/api/similar?id=424242", {}, 404),
        ("get", "/api/similar?id=1&n=0", {}, 422),
        ("get", "/api/search?limit=-3", {}, 422),
        ("get", "/api/nope", {}, 404),
        ("post", "/api/radio", {"content": b"{not json", "headers": {"Content-Type": "application/json"}}, 422),
        ("post", "/api/radio", {"json": {}}, 422),
        ("post", "/api/radio", {"json": {"seeds": []}}, 422),
        ("post", "/api/radio", {"json": {"seeds": [424242]}}, 404),
        ("post", "/api/radio", {"json": {"seeds": [1], "lookback": 11}}, 422),
        ("post", "/api/radio", {"json": {"seeds": [1], "noise": 1.5}}, 422),
        ("post", "/api/radio", {"json": {"seeds": ["x"]}}, 422),
        ("post", "/api/radio", {"json": {"seeds": [10**30]}}, 404),
        ("post", "/api/journey", {"json": {"waypoints": [1]}}, 422),
        ("post", "/api/journey", {"json": {"waypoints": [1, 1]}}, 400),
        ("post", "/api/journey", {"json": {"waypoints": [1, 424242]}}, 404),
        ("post", "/api/export", {"json": {"ids": [1], "format": "exe"}}, 422),
        ("post", "/api/export", {"json": {"ids": [424242]}}, 404),
        ("post", "/api/events", {"json": {"track_id": 1, "event": "dance"}}, 422),
        ("post", "/api/events", {"json": {"track_id": 424242, "event": "skip"}}, 404),
        ("post", "/api/seed", {}, 422),
        ("post", "/api/seed", {"data": {"file": "not a file"}}, 422),
        ("delete", "/api/radio", {}, 405),
    ],
)
def test_bad_requests_get_json_4xx(client: TestClient, method: str, url: str, kw: dict, status: int) -> None:
    res = getattr(client, method)(url, **kw)
    assert res.status_code == status, res.text
    assert res.headers["content-type"].startswith("application/json")
    assert "detail" in res.json()


def test_token_required_off_loopback(lib_db: tuple[Path, Path]) -> None:
    guarded = TestClient(create_app(lib_db[1], token="s3cret"))
    assert guarded.get("/api/status").status_code == 401
    assert guarded.get("/").status_code == 401
    assert guarded.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert guarded.get("/api/status", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    first = guarded.get("/?token=s3cret")
    assert first.status_code == 200 and "segue_token=s3cret" in first.headers["set-cookie"]
    assert guarded.get("/api/search").status_code == 200  # the cookie carries on


def test_serve_command_off_loopback_prints_a_token_and_requires_it(lib_db: tuple[Path, Path]) -> None:
    import os
    import socket
    import subprocess
    import sys

    import httpx

    from segue.commands.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "segue.cli", "--db", str(lib_db[1]), "serve", "--host", "0.0.0.0",
         "--port", str(port)],
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        token = None
        deadline = time.monotonic() + 60
        while token is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if line.startswith("segue: access token: "):
                token = line.split(": ", 2)[2].strip()
        assert token and len(token) >= 20
        url = f"http://127.0.0.1:{port}/api/status"
        while True:  # the banner comes before uvicorn listens
            try:
                refused = httpx.get(url, timeout=5)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert refused.status_code == 401
        allowed = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert allowed.status_code == 200 and allowed.json()["tracks"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_keeps_working_while_library_changes(lib_db: tuple[Path, Path], tmp_path: Path) -> None:
    """A scan in another connection adds tracks: requests keep answering, the catalogue refreshes."""
    import segue.web.state as state_mod

    music, db = lib_db
    copy = tmp_path / "copy.db"
    with Store(db) as src, Store(copy) as dst:
        src.conn.backup(dst.conn)
    client = TestClient(create_app(copy))
    before = client.get("/api/status").json()["analysed"]
    new = tmp_path / "new"
    write_audio(new / "late.mp3", seconds=6.0, seed=77)
    errors: list[str] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            for url in ("/api/search?q=song", "/api/status", "/api/map"):
                r = client.get(url)
                if r.status_code != 200:
                    errors.append(f"{url}: {r.status_code}")

    t = threading.Thread(target=hammer)
    t.start()
    try:
        with open_library(copy) as lib:
            lib.scan([new], progress=False, workers=1)
    finally:
        stop.set()
        t.join()
    assert errors == []
    old = state_mod.CHECK_EVERY
    state_mod.CHECK_EVERY = 0.0
    try:
        time.sleep(0.5)
        assert client.get("/api/status").json()["analysed"] == before + 1
        assert [t["file"] for t in client.get("/api/search?q=late").json()["tracks"]] == ["late.mp3"]
    finally:
        state_mod.CHECK_EVERY = old


def test_plays_table_store_methods(tmp_path: Path) -> None:
    from segue.errors import UserError
    from segue.library.store import SCHEMA_VERSION

    with Store(tmp_path / "p.db") as store:
        assert store.schema_version() == SCHEMA_VERSION >= 3
        store.record_play(1, "h1", "start", 0.0, 200.0, at=1.0)
        store.record_play(1, "h1", "skip", 12.5, 200.0, at=2.0)
        store.record_play(2, "h2", "complete", 180.0, 180.0, at=3.0)
        with pytest.raises(UserError):
            store.record_play(1, "h1", "dance")
        assert [p.event for p in store.plays()] == ["complete", "skip", "start"]
        assert [p.event for p in store.plays("h1", limit=1)] == ["skip"]
        assert store.plays("h1")[0].position_s == 12.5


def test_ids_are_never_read_as_files_in_the_cwd(
    client: TestClient, lib_db: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file named like a track id in the server's working folder changes nothing: the web
    passes rows to the engine, never the id as seed text (which the CLI reads as a path)."""
    ids = ids_by_title(client)
    seed, end = ids["First Song"], ids["Extra Song 5"]
    similar = lambda: client.get("/api/similar", params={"id": seed, "n": 5}).json()  # noqa: E731
    body = {"waypoints": [seed, end], "steps": 3}
    journey = lambda: client.post("/api/journey", json=body).json()  # noqa: E731
    before_similar, before_journey = similar(), journey()
    # real audio of another track under the ids' names: read as seeds, they would steer elsewhere
    other = next(lib_db[0].rglob("extra 3.mp3")).read_bytes()
    for name in (str(seed), str(end)):
        (tmp_path / name).write_bytes(other)
    monkeypatch.chdir(tmp_path)
    assert similar() == before_similar
    assert journey() == before_journey


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("/api/covers/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "root:"),
        ("/static/..%2fapp.py", "GuardMiddleware"),
        ("/static/%2e%2e/app.py", "GuardMiddleware"),
        ("/static/..%2f..%2fapi.py", "class Library"),
        ("/static/..%5capp.py", "GuardMiddleware"),
    ],
)
def test_path_traversal_really_reaches_the_app_and_is_refused(lib_db: tuple[Path, Path], url: str, secret: str) -> None:
    """httpx drops a literal ``..`` before sending; percent-encoded, the route and StaticFiles
    really see it (checked at the ASGI door), and answer 404 without a byte of the file."""
    app = create_app(lib_db[1])
    seen: list[str] = []

    async def door(scope: dict, receive, send) -> None:  # noqa: ANN001
        if scope["type"] == "http":
            seen.append(scope["path"])
        await app(scope, receive, send)

    res = TestClient(door).get(url)
    assert seen and (".." in seen[-1]), seen  # the traversal arrived as such
    assert res.status_code == 404 and res.headers["content-type"].startswith("application/json")
    assert secret not in res.text


def test_radio_skipped_tracks_do_not_steer_and_do_not_come_back(client: TestClient) -> None:
    """``skipped``: the tracks stay played (never picked again), leave the query window and
    steer away (the engine's own rule, RadioSession.resume; tested in test_playlist_radio)."""
    ids = ids_by_title(client)
    seed = ids["First Song"]
    far = [t["id"] for t in client.get("/api/similar", params={"id": seed, "n": 14}).json()["tracks"]][-2:]
    history = [seed, *far]  # heard two tracks unlike the seed
    ask = lambda **kw: [  # noqa: E731
        t["id"] for t in client.post("/api/radio", json={"seeds": [seed], "history": history, "k": 6, **kw}).json()["tracks"]
    ]
    steered = ask(lookback=3)  # the far tracks steer
    skipped = ask(lookback=3, skipped=far)  # skipped: only the seed is left in the window
    assert skipped != steered
    assert not set(skipped) & set(history)  # skipped tracks are not played again


def test_token_in_x_segue_token_header(lib_db: tuple[Path, Path]) -> None:
    guarded = TestClient(create_app(lib_db[1], token="s3cret"))
    assert guarded.get("/api/status", headers={"X-Segue-Token": "s3cret"}).status_code == 200
    assert guarded.get("/api/status", headers={"X-Segue-Token": "wrong"}).status_code == 401


def test_body_limits_json_and_chunked(client: TestClient) -> None:
    from segue.web.app import MAX_JSON_BYTES

    chunked = client.post("/api/radio", content=iter([b'{"seeds": [1]}']), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 411 and "Content-Length" in chunked.json()["detail"]
    pad = b" " * (MAX_JSON_BYTES - len(b'{"seeds": [1]}') + 1)
    big = client.post("/api/radio", content=b'{"seeds": [1]}' + pad, headers={"Content-Type": "application/json"})
    assert big.status_code == 413 and "too big" in big.json()["detail"]
    fits = client.post("/api/radio", content=b'{"seeds": [1]}' + pad[:-1], headers={"Content-Type": "application/json"})
    assert fits.status_code == 200, fits.text  # exactly at the limit is accepted


def test_serve_prints_usable_urls() -> None:
    from segue.commands.serve import base_url

    assert base_url("::1", 8050) == "http://[::1]:8050/"
    assert base_url("fe80::1", 80) == "http://[fe80::1]:80/"
    assert base_url("::", 8050) == base_url("0.0.0.0", 8050) == "http://127.0.0.1:8050/"
    assert base_url("localhost", 9) == "http://localhost:9/"


def test_status_of_an_empty_library(tmp_path: Path) -> None:
    got = TestClient(create_app(tmp_path / "empty.db")).get("/api/status")
    assert got.status_code == 200 and got.json()["tracks"] == got.json()["analysed"] == 0


def test_listen_next_leaves_out_copies_of_the_match(lib_db: tuple[Path, Path], tmp_path: Path) -> None:
    """A second copy of the recording in the library is the same song: not 'what comes next'."""
    from web_helpers import wav_of

    music, db = lib_db
    copy = tmp_path / "dup.db"
    with Store(db) as src, Store(copy) as dst:
        src.conn.backup(dst.conn)
    original = next(music.rglob("extra 4.mp3"))
    twin = tmp_path / "twin" / "extra 4 (copy).mp3"
    twin.parent.mkdir()
    twin.write_bytes(original.read_bytes())
    with open_library(copy) as lib:
        lib.scan([twin.parent], progress=False, workers=1)  # same audio: analysis is reused
        copies = {t.id for t in lib.store.tracks() if t.path in (str(original), str(twin))}
    assert len(copies) == 2
    wav = wav_of(original, tmp_path / "room.wav")
    got = TestClient(create_app(copy)).post("/api/listen", files={"file": ("room.wav", wav.read_bytes(), "audio/wav")})
    assert got.status_code == 200, got.text
    match, following = got.json()["match"], got.json()["next"]
    assert match["id"] in copies and len(following) == 10
    assert not copies & {t["id"] for t in following}


def test_one_outside_pipeline_per_process() -> None:
    """Uploads (web threads) and outside seed files (Library) share one loaded pipeline."""
    from segue.listen.pipeline import outside_listener

    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(outside_listener())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got) and got[0]._models is not None
