"""The web app's HTTP edges (issue 13, items 15-19): DNS rebinding, cross-site writes, offline
docs, HEAD, odd Range headers, refused bodies that the client can still read, the token in the
address bar, exports for a remote browser."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

from segue.playlist.export import read_playlist
from segue.web.app import create_app
from web_helpers import analysed_library, fresh_art_cache, local_client


@pytest.fixture(autouse=True)
def art_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return fresh_art_cache(tmp_path, monkeypatch)


@pytest.fixture(scope="module")
def lib_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return analysed_library(tmp_path_factory.mktemp("webhttp"))


@pytest.fixture(scope="module")
def client(lib_db: tuple[Path, Path]):  # noqa: ANN201
    return local_client(create_app(lib_db[1]))


@pytest.fixture(scope="module")
def live(lib_db: tuple[Path, Path]) -> Iterator[int]:
    """The app under uvicorn on a loopback port (what a socket-level client talks to)."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(lib_db[1]), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def first_id(client) -> int:  # noqa: ANN001
    return client.get("/api/search", params={"q": "first song"}).json()["tracks"][0]["id"]


# -- 15: DNS rebinding ---------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8050", "192.168.1.9", "127.0.0.1.evil.example"])
def test_a_loopback_server_refuses_other_host_names(client, host: str) -> None:  # noqa: ANN001
    for method, url, kw in (("get", "/api/search?q=a", {}), ("get", "/", {}),
                            ("get", f"/api/tracks/{first_id(client)}/audio", {}),
                            ("post", "/api/events", {"json": {"track_id": 1, "event": "start"}})):  # fmt: skip
        res = getattr(client, method)(url, headers={"Host": host}, **kw)
        assert res.status_code == 403, (host, url, res.status_code)
        assert "loopback" in res.json()["detail"]


@pytest.mark.parametrize("host", ["127.0.0.1:8050", "localhost", "LOCALHOST:1", "[::1]:8050", "player.localhost", "127.9.9.9"])
def test_loopback_host_names_are_answered(client, host: str) -> None:  # noqa: ANN001
    assert client.get("/api/status", headers={"Host": host}).status_code == 200


def test_configured_host_names_are_answered(lib_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    app = local_client(create_app(lib_db[1], allowed_hosts=["music.home"]))
    assert app.get("/api/status", headers={"Host": "music.home:8050"}).status_code == 200
    assert app.get("/api/status", headers={"Host": "other.home"}).status_code == 403
    monkeypatch.setenv("SEGUE_ALLOWED_HOSTS", "den.lan, attic.lan")
    env = local_client(create_app(lib_db[1]))
    assert env.get("/api/status", headers={"Host": "attic.lan"}).status_code == 200
    # a server with a token (on the network) is reached by any name: the token guards it
    guarded = local_client(create_app(lib_db[1], token="t0k"))
    assert guarded.get("/api/status", headers={"Host": "192.168.1.9:8050", "X-Segue-Token": "t0k"}).status_code == 200


# -- 16: cross-site writes -----------------------------------------------------------------------
CROSS = [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:3000"},  # another port: same site
    {"Origin": "https://evil.example"},  # an older browser: Origin only
    {"Origin": "null"},  # a sandboxed frame or a file:// page
]


@pytest.mark.parametrize("headers", CROSS)
def test_no_cross_site_write_of_any_kind(client, lib_db: tuple[Path, Path], headers: dict) -> None:  # noqa: ANN001
    song = next(lib_db[0].rglob("extra 2.mp3")).read_bytes()
    tid = first_id(client)
    before = len(client.get("/api/events?limit=1000").json()["events"])
    attempts = [
        client.post("/api/seed", headers=headers, files={"file": ("x.mp3", song, "audio/mpeg")}),  # multipart
        client.post("/api/events", headers=headers, json={"track_id": tid, "event": "skip"}),
        client.post("/api/events", headers={**headers, "Content-Type": "text/plain"},
                    content=json.dumps({"track_id": tid, "event": "skip"})),  # a "simple" request
        client.post("/api/radio", headers=headers, json={"seeds": [tid]}),
        client.post("/api/mix", headers=headers, json={"ids": [tid]}),
        client.post("/api/export", headers=headers, json={"ids": [tid]}),
    ]  # fmt: skip
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert len(client.get("/api/events?limit=1000").json()["events"]) == before


def test_cross_site_reads_of_the_api_are_refused_but_links_work(client) -> None:  # noqa: ANN001
    cross = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    assert client.get("/api/map", headers=cross).status_code == 403  # expensive: a layout job
    assert client.get(f"/api/tracks/{first_id(client)}/audio", headers=cross).status_code == 403
    # a link from elsewhere to the page, or to an API URL, opens as usual
    assert client.get("/", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}).status_code == 200
    assert client.get("/api/status", headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}).status_code == 200


def test_same_origin_and_non_browser_writes_pass(client) -> None:  # noqa: ANN001
    tid = first_id(client)
    body = {"track_id": tid, "event": "start"}
    assert client.post("/api/events", json=body, headers={"Sec-Fetch-Site": "same-origin",
                                                          "Origin": "http://127.0.0.1"}).status_code == 201  # fmt: skip
    assert client.post("/api/events", json=body, headers={"Origin": "http://127.0.0.1"}).status_code == 201
    assert client.post("/api/events", json=body).status_code == 201  # curl, scripts: no browser headers


# -- 17: /docs without a CDN ---------------------------------------------------------------------
def test_docs_are_served_from_this_server_only(client) -> None:  # noqa: ANN001
    import re

    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)""", html.text) + re.findall(r"""url: ?['"]([^'"]+)""", html.text)
        assert urls and all(u.startswith("/") for u in urls), urls  # nothing from another host
        for u in urls:
            assert client.get(u).status_code == 200, u
    assert client.get("/openapi.json").json()["paths"]["/api/radio"]


# -- 18: HEAD, Range, 413 ------------------------------------------------------------------------
def test_head_on_the_page_and_on_audio(client, lib_db: tuple[Path, Path]) -> None:  # noqa: ANN001
    page = client.head("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html") and page.content == b""
    tid = first_id(client)
    size = next(lib_db[0].rglob("01 First Song.mp3")).stat().st_size
    audio = client.head(f"/api/tracks/{tid}/audio")
    assert audio.status_code == 200 and int(audio.headers["content-length"]) == size and audio.content == b""
    assert audio.headers["accept-ranges"] == "bytes"


@pytest.mark.parametrize("value", ["bytes=5-2", "bytes=abc", "bytes=-", "items=0-10", "bytes"])
def test_a_range_that_cannot_be_parsed_is_ignored(client, lib_db: tuple[Path, Path], value: str) -> None:  # noqa: ANN001
    whole = next(lib_db[0].rglob("01 First Song.mp3")).read_bytes()
    res = client.get(f"/api/tracks/{first_id(client)}/audio", headers={"Range": value})
    assert res.status_code == 200 and res.content == whole


def test_ranges_still_work(client, lib_db: tuple[Path, Path]) -> None:  # noqa: ANN001
    whole = next(lib_db[0].rglob("01 First Song.mp3")).read_bytes()
    url = f"/api/tracks/{first_id(client)}/audio"
    assert client.get(url, headers={"Range": "bytes=5-9"}).content == whole[5:10]
    assert client.get(url, headers={"Range": f"bytes={len(whole) + 10}-"}).status_code == 416


def _raw_post(port: int, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """POST over a real socket, as a browser sends it (the whole body, without waiting)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **(headers or {})})
        res = conn.getresponse()
        return res.status, json.loads(res.read() or b"{}")
    finally:
        conn.close()


@pytest.mark.parametrize("size", [2 << 20, 12 << 20])
def test_a_body_too_big_gets_a_413_not_a_reset(live: int, size: int) -> None:
    status, body = _raw_post(live, "/api/events", b" " * size)
    assert status == 413 and "too big" in body["detail"]
    # and the server is fine afterwards
    status, _ = _raw_post(live, "/api/radio", b"{}")
    assert status == 422


# -- 19: the token leaves the address bar; exports for a remote browser --------------------------
def test_token_in_the_url_is_swapped_for_a_cookie_and_dropped(lib_db: tuple[Path, Path]) -> None:
    guarded = local_client(create_app(lib_db[1], token="s3cret"))
    first = guarded.get("/?token=s3cret&listen=4", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/?listen=4"
    assert "segue_token=s3cret" in first.headers["set-cookie"] and "HttpOnly" in first.headers["set-cookie"]
    page = guarded.get(first.headers["location"])
    assert page.status_code == 200 and "token" not in str(page.url)
    assert guarded.get("/api/status").status_code == 200  # the cookie carries on
    fresh = local_client(create_app(lib_db[1], token="s3cret"))
    assert fresh.get("/?token=wrong", follow_redirects=False).status_code == 401


def test_exports_keep_non_ascii_names(client) -> None:  # noqa: ANN001
    res = client.post("/api/export", json={"ids": [first_id(client)], "format": "m3u", "name": "ünïcödé 日本"})
    disposition = res.headers["content-disposition"]
    assert "filename*=UTF-8''" in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "ünïcödé 日本.m3u"
    assert 'filename="' in disposition  # the ASCII fallback for old clients


def test_a_remote_browser_gets_no_server_paths(lib_db: tuple[Path, Path], tmp_path: Path) -> None:
    music, db = lib_db
    remote = local_client(create_app(db, token="t"), client=("192.168.1.77", 40000), headers={"X-Segue-Token": "t"})
    tracks = remote.get("/api/search", params={"q": "extra"}).json()["tracks"]
    ids = [t["id"] for t in tracks]
    for fmt in ("m3u", "xspf", "pls"):
        text = remote.post("/api/export", json={"ids": ids, "format": fmt}).text
        assert str(music) not in text and str(music.parent) not in text
        out = tmp_path / f"copy-of-music/list.{fmt}"  # the playlist beside a copy of the music folder
        out.parent.mkdir(exist_ok=True)
        out.write_text(text, encoding="utf-8")
        got = [Path(p).relative_to(out.parent).as_posix() for p in read_playlist(out)]
        assert got == [f"Extra/{t['file']}" for t in tracks]
