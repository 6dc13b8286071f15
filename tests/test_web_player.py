"""The web player as people use it (issue 18), in Debian's Chromium driven by Playwright, at
three viewport sizes: phone 390x844 (touch), tablet 820x1180 (touch), desktop 1440x900.

One server and one browser for the module; each test gets a fresh browser context (its own
localStorage). The tests wait on the page's own signals (data attributes, the player's state),
never on sleeps. Screenshots of every tab at every size go to test-output/screenshots/<size>/.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from web_helpers import analysed_library, fresh_art_cache

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[1]
SHOTS = REPO / "test-output" / "screenshots"
SIZES = {"phone": (390, 844), "tablet": (820, 1180), "desktop": (1440, 900)}
SERVER_LOG: list[dict] = []

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's Chromium is not installed at {CHROMIUM} (make test installs it)"
)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return analysed_library(tmp_path_factory.mktemp("webp"))


@pytest.fixture(scope="module")
def server(library: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from segue.web.app import create_app

    mp = pytest.MonkeyPatch()
    fresh_art_cache(tmp_path_factory.mktemp("art"), mp)  # the map's layout job really runs
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(library[1])

    async def recorded(scope: dict, receive, send) -> None:  # noqa: ANN001
        """The app, with each request's method, path, Sec-Fetch-Site and answer noted."""
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        entry = {"method": scope["method"], "path": scope["path"], "status": None,
                 "site": dict(scope["headers"]).get(b"sec-fetch-site", b"").decode()}  # fmt: skip
        SERVER_LOG.append(entry)

        async def noting(message: dict) -> None:
            if message["type"] == "http.response.start":
                entry["status"] = message["status"]
            await send(message)

        await app(scope, receive, noting)

    srv = uvicorn.Server(uvicorn.Config(recorded, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)
    mp.undo()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--headless", "--no-sandbox", "--autoplay-policy=no-user-gesture-required"])  # fmt: skip
        yield b
        b.close()


def open_page(browser, server: str, size: str = "desktop", init_script: str | None = None):  # noqa: ANN001, ANN201
    w, h = SIZES[size]
    touch = size != "desktop"
    context = browser.new_context(viewport={"width": w, "height": h}, has_touch=touch, is_mobile=size == "phone",
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    if init_script:
        page.add_init_script(init_script)
    page.goto(server + "/")
    page.wait_for_function("() => document.body.dataset.ready === '1'")
    return page


@pytest.fixture
def page(browser, server: str) -> Iterator:  # noqa: ANN001
    pg = open_page(browser, server)
    yield pg
    assert pg.errors == [], pg.errors
    pg.context.close()


def search(page, query: str) -> None:  # noqa: ANN001
    page.fill("#search", query)
    page.wait_for_function("q => document.getElementById('results').dataset.q === q", arg=query)


def now_title(page) -> str:  # noqa: ANN001
    return page.locator("#title").text_content()


def wait_title(page, title: str) -> None:  # noqa: ANN001
    page.wait_for_function("t => document.getElementById('title').textContent === t", arg=title, timeout=15000)


def wait_playing(page, beyond: float = 0.3) -> None:  # noqa: ANN001
    page.wait_for_function("x => { const a = engine.now(); return !a.paused && a.currentTime > x; }",
                           arg=beyond, timeout=15000)  # fmt: skip


def queue_ids(page) -> list[int]:  # noqa: ANN001
    return page.evaluate("() => player.queue.map(q => q.t.id)")


def queue_titles(page, fixed_only: bool = False) -> list[str]:  # noqa: ANN001
    sel = "#queue li.fixed .t" if fixed_only else "#queue li[data-index] .t"
    return page.locator(sel).all_text_contents()


def wait_radio(page, count: int) -> None:  # noqa: ANN001
    """Until ``count`` radio answers have been used (shown in "Up next")."""
    page.wait_for_function("n => player.radioAnswers.length >= n && !player.pending", arg=count, timeout=15000)


def start_radio(page, query: str, title: str) -> None:  # noqa: ANN001
    search(page, query)
    page.locator("#results li", has_text=title).first.click()
    wait_title(page, title)


def tap(page, locator) -> None:  # noqa: ANN001
    box = locator.bounding_box()
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def no_sideways_scroll(page) -> None:  # noqa: ANN001
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the page is {width} px wide"


# -- the phone flow ------------------------------------------------------------------------------
def test_phone_search_play_skip_queue_edit_and_reload_restores(browser, server: str) -> None:  # noqa: ANN001
    page = open_page(browser, server, "phone")
    search(page, "extra")
    box = page.locator("#search").bounding_box()
    assert box["width"] > 300  # the search box spans the phone, not 30 px
    no_sideways_scroll(page)
    tap(page, page.locator("#results li", has_text="Extra Song 0").first)
    wait_title(page, "Extra Song 0")
    wait_playing(page)
    wait_radio(page, 1)
    assert page.locator("#queue").bounding_box()["y"] < 844  # "Up next" starts on the first screen
    # skip: the first of up next plays, the old one goes to history
    upcoming = queue_titles(page)
    tap(page, page.locator("#skip"))
    wait_title(page, upcoming[0])
    wait_radio(page, 2)
    assert page.locator("#history li .t").first.text_content() == "Extra Song 0"
    # queue edit: remove the second row, play the (new) third next, drag the last to the top
    before = queue_ids(page)
    tap(page, page.locator("#queue li[data-index='1'] .x"))
    page.wait_for_function("id => !player.queue.some(q => q.t.id === id)", arg=before[1])
    wait_radio(page, 3)
    search(page, "first song")
    tap(page, page.locator("#results li", has_text="First Song").locator(".pn"))
    page.wait_for_function("() => player.queue.length && player.queue[0].fixed && player.queue[0].t.title === 'First Song'")
    wait_radio(page, 4)
    page.locator("#search").press("Escape")
    page.evaluate("() => document.getElementById('results').hidden = true")
    handle = page.locator("#queue li[data-index] .drag").nth(3)
    moved = int(page.locator("#queue li[data-index]").nth(3).get_attribute("data-id"))
    target = page.locator("#queue li[data-index]").nth(0).bounding_box()
    hb = handle.bounding_box()
    page.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
    page.mouse.down()
    page.mouse.move(hb["x"] + 5, target["y"] + 2, steps=6)
    page.mouse.up()
    page.wait_for_function("id => player.queue[0].t.id === id", arg=moved)
    wait_radio(page, 5)
    position = page.evaluate("() => engine.now().currentTime")
    state = page.evaluate("() => ({t: player.current.title, q: player.queue.map(q => [q.t.id, q.fixed]),"
                          " h: player.history.map(t => t.id)})")  # fmt: skip
    page.evaluate("() => writePlayer()")
    page.screenshot(path=str(_shot_dir("phone") / "queue-edited.png"))
    # reload: the same track, at the same place, the same queue and history (paused)
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === '1'")
    assert now_title(page) == state["t"]
    assert page.evaluate("() => player.queue.map(q => [q.t.id, q.fixed])") == state["q"]
    assert page.evaluate("() => player.history.map(t => t.id)") == state["h"]
    page.wait_for_function("p => Math.abs(engine.now().currentTime - p) < 1.0", arg=position)
    assert queue_titles(page) and page.locator("#history li .t").first.text_content()
    tap(page, page.locator("#play"))
    wait_playing(page, position + 0.1)
    assert page.errors == [], page.errors
    page.context.close()


def _shot_dir(size: str) -> Path:
    folder = SHOTS / size
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- every tab at every size ---------------------------------------------------------------------
@pytest.mark.parametrize("size", list(SIZES))
def test_every_tab_fits_and_is_photographed(browser, server: str, size: str) -> None:  # noqa: ANN001
    page = open_page(browser, server, size)
    start_radio(page, "extra song 2", "Extra Song 2")
    wait_radio(page, 1)
    no_sideways_scroll(page)
    if size != "phone":  # the cover does not push "Up next" below the fold
        q = page.locator("#queue li[data-index]").first.bounding_box()
        assert q["y"] + q["height"] < SIZES[size][1]
    folder = _shot_dir(size)
    page.screenshot(path=str(folder / "player.png"))
    page.click("button[data-view=browse]")
    page.wait_for_function("() => document.getElementById('browse-list').dataset.kind === 'album'")
    no_sideways_scroll(page)
    page.screenshot(path=str(folder / "browse.png"))
    page.click("button[data-view=journey]")
    no_sideways_scroll(page)
    page.screenshot(path=str(folder / "journey.png"))
    page.click("button[data-view=map]")
    page.wait_for_function("() => map.loaded && map.px && map.px.length === 15", timeout=120_000)
    no_sideways_scroll(page)
    # the legend sits outside the drawing: no point is under it
    legend = page.locator("#legend").bounding_box()
    canvas = page.locator("#map").bounding_box()
    assert legend["y"] + legend["height"] <= canvas["y"] + 1
    hint = page.locator("#map-hint").text_content()
    assert ("Tap" in hint) == (size != "desktop") and ("Hover" in hint) == (size == "desktop")
    page.screenshot(path=str(folder / "map.png"))
    assert page.errors == [], page.errors
    page.context.close()


# -- the queue -----------------------------------------------------------------------------------
def test_a_journey_stays_queued_whatever_the_knobs_do(page) -> None:  # noqa: ANN001
    ids = {t["title"]: t["id"] for t in page.request.get(page.url + "api/search?limit=100").json()["tracks"]}
    page.evaluate("ids => { journey.waypoints = ids.map(id => ({id})); renderWaypoints(); }",
                  [ids["First Song"], ids["Extra Song 5"]])  # fmt: skip
    page.click("button[data-view=journey]")
    page.fill("#steps", "3")
    page.click("#preview")
    page.locator("#jlist li").nth(4).wait_for()
    planned = page.evaluate("() => journey.tracks.map(t => t.id)")
    page.click("#jplay")
    wait_title(page, "First Song")
    wait_radio(page, 1)
    # "Play it" asked the radio once and shows its answer after the journey (nothing thrown away)
    assert queue_ids(page) == planned[1:] + page.evaluate("() => player.radioAnswers[0]")
    assert queue_titles(page, fixed_only=True) == page.evaluate("() => journey.tracks.slice(1).map(t => t.title)")
    page.evaluate("""() => { const n = document.getElementById('noise'); n.value = 0.6;
                      n.dispatchEvent(new Event('input')); }""")  # fmt: skip
    wait_radio(page, 2)
    assert queue_ids(page)[:4] == planned[1:]  # the journey is still next; only the radio changed
    # clicking a row of "Up next" plays it (the rows before it are passed over)
    third = page.locator("#queue li[data-index='2'] .t").text_content()
    page.locator("#queue li[data-index='2']").click()
    wait_title(page, third)
    assert queue_ids(page)[0] == planned[4]
    # back to radio drops the rest of the journey
    page.click("#to-radio")
    page.wait_for_function("() => player.queue.length && player.queue.every(q => !q.fixed)")
    assert page.locator("#to-radio").is_hidden()


# -- browsing ------------------------------------------------------------------------------------
def test_browse_an_album_plays_in_order_and_an_artist_seeds_a_radio(page) -> None:  # noqa: ANN001
    page.click("button[data-view=browse]")
    page.wait_for_function("() => document.getElementById('browse-list').dataset.kind === 'album'")
    names = page.locator("#browse-list .gname").all_text_contents()
    assert "Album A" in names and "Extras" in names
    assert page.locator("#browse-list .gcard", has_text="Album A").locator("img.gart").count() == 1  # its cover
    page.locator("#browse-list .gcard", has_text="Album A").click()
    page.wait_for_function("() => document.getElementById('browse-detail').dataset.key")
    assert page.locator("#bd-tracks li .t").all_text_contents() == ["First Song", "Second Song"]
    page.click("#bd-play")
    wait_title(page, "First Song")
    assert queue_titles(page, fixed_only=True) == ["Second Song"]
    # consecutive album tracks are gapless: no crossfade is planned between them
    page.wait_for_function("() => engine.planKey.endsWith(':off')")
    # genres exist here (one track is tagged Rock); "sounds like" groups by MusiCNN tag
    page.click("button[data-view=browse]")
    page.click(".browse-bar button[data-kind=genre]")
    page.wait_for_function("() => document.getElementById('browse-list').dataset.kind === 'genre'")
    assert page.locator("#browse-list .gname").all_text_contents() == ["Rock"]
    page.click(".browse-bar button[data-kind=recent]")
    page.wait_for_function("() => document.getElementById('browse-list').dataset.kind === 'recent'")
    assert page.locator("#browse-list .gcard").count() == 8
    page.click(".browse-bar button[data-kind=artist]")
    page.wait_for_function("() => document.getElementById('browse-list').dataset.kind === 'artist'")
    album_key = page.evaluate("() => document.getElementById('browse-detail').dataset.key")
    page.locator("#browse-list .gcard", has_text="Extra Band 0").click()
    # the album's detail is still up until the artist's arrives: wait for the new one
    page.wait_for_function("k => (document.getElementById('browse-detail').dataset.key || k) !== k",
                           arg=album_key)  # fmt: skip
    artist_ids = page.evaluate("() => browse.detail.tracks.map(t => t.id)")
    page.click("#bd-radio")
    page.wait_for_function("n => player.seeds.length === n", arg=len(artist_ids))
    assert sorted(page.evaluate("() => player.seeds")) == sorted(artist_ids)  # every song of the artist steers
    assert page.evaluate("() => player.current.id") in artist_ids
    wait_radio(page, 1)


# -- lock screen and headset ---------------------------------------------------------------------
RECORD_MEDIA_SESSION = """
window.__ms = {handlers: {}, positions: []};
const setAction = navigator.mediaSession.setActionHandler.bind(navigator.mediaSession);
navigator.mediaSession.setActionHandler = (a, fn) => { window.__ms.handlers[a] = fn; setAction(a, fn); };
const setPos = navigator.mediaSession.setPositionState.bind(navigator.mediaSession);
navigator.mediaSession.setPositionState = (s) => { window.__ms.positions.push(s); setPos(s); };
"""


def test_media_session_metadata_controls_and_position(browser, server: str) -> None:  # noqa: ANN001
    page = open_page(browser, server, init_script=RECORD_MEDIA_SESSION)
    start_radio(page, "first song", "First Song")
    wait_playing(page, 1.2)
    meta = page.evaluate("() => { const m = navigator.mediaSession.metadata; return {t: m.title, a: m.artist,"
                         " al: m.album, art: m.artwork.map(x => x.src)}; }")  # fmt: skip
    assert meta["t"] == "First Song" and meta["a"] == "Ärtist One" and meta["al"] == "Album A"
    assert meta["art"] and meta["art"][0].startswith(server + "/api/covers/")
    assert page.request.get(meta["art"][0]).status == 200
    assert {"play", "pause", "nexttrack", "previoustrack", "seekto"} <= set(page.evaluate("() => Object.keys(__ms.handlers)"))
    page.wait_for_function("() => __ms.positions.some(p => p.position > 0.5 && p.duration > 7)")
    # a headset's "next" skips, "previous" comes back, "pause" pauses
    wait_radio(page, 1)
    upcoming = queue_titles(page)[0]
    page.evaluate("() => __ms.handlers.nexttrack({action: 'nexttrack'})")
    wait_title(page, upcoming)
    page.evaluate("() => __ms.handlers.previoustrack({action: 'previoustrack'})")
    wait_title(page, "First Song")
    page.evaluate("() => __ms.handlers.seekto({action: 'seekto', seekTime: 4})")
    page.wait_for_function("() => engine.now().currentTime >= 4")
    page.evaluate("() => __ms.handlers.pause({action: 'pause'})")
    page.wait_for_function("() => engine.now().paused && navigator.mediaSession.playbackState === 'paused'")
    assert page.errors == [], page.errors
    page.context.close()


# -- crossfades in the browser -------------------------------------------------------------------
def test_beat_matched_crossfade_as_the_mix_planner_plans_it(page) -> None:  # noqa: ANN001
    page.select_option("#xfade", "beat")
    start_radio(page, "extra song 0", "Extra Song 0")
    wait_radio(page, 1)
    page.wait_for_function("() => engine.plan && engine.plan.from === player.current.id")
    plan = page.evaluate("() => engine.plan")
    assert plan["beatmatched"] and plan["overlap"] > 1.0, plan  # the test songs are 120 BPM with a kick
    nxt = page.evaluate("() => player.queue[0].t.title")
    wait_playing(page, 0.2)
    page.evaluate("p => { engine.now().currentTime = p.out_at - 1.6; }", plan)
    page.wait_for_function("() => engine.last !== null", timeout=20000)
    last = page.evaluate("() => engine.last")
    assert now_title(page) == nxt and last["to"] == plan["to"] and last["together"]
    # downbeats met: the incoming song ran on the planned timeline within a few ms
    assert last["fadeErrorMs"] is not None and abs(last["fadeErrorMs"]) <= 40, last
    assert last["settledErrorMs"] <= 25, last
    # equal power: cos/sin gains, whose squares sum to one all through the fade
    samples = [s for s in last["samples"] if 0.05 < s["x"] < 0.95]
    assert len(samples) >= 5
    for s in samples:
        assert abs(s["a"] ** 2 + s["b"] ** 2 - 1) < 0.15, s
        assert abs(s["b"] - math.sin(s["x"] * math.pi / 2)) < 0.2, s
    wait_playing(page, plan["in_start"] + plan["overlap"])


# -- events that could not be sent ---------------------------------------------------------------
def test_play_events_are_sent_again_until_the_server_takes_them(page, server: str) -> None:  # noqa: ANN001
    refused = {"n": 0}

    def flaky(route) -> None:  # noqa: ANN001
        if refused["n"] < 3:  # the server is busy (issue 13: "database is locked") three times
            refused["n"] += 1
            route.fulfill(status=503, json={"detail": "database is locked"})
        else:
            route.continue_()

    started = time.time()
    page.route("**/api/events", flaky)
    start_radio(page, "second song", "Second Song")
    page.wait_for_function("() => outbox.retries >= 3 && outbox.items.length === 0", timeout=20000)
    assert refused["n"] == 3
    second = page.request.get(server + "/api/search?q=second+song").json()["tracks"][0]["id"]
    events = [e for e in page.request.get(server + "/api/events?limit=1000").json()["events"] if e["at"] >= started]
    assert any(e["event"] == "start" and e["track_id"] == second for e in events)
    # an event still waiting when the page closes is sent by the next visit
    page.unroute("**/api/events")
    page.route("**/api/events", lambda route: route.abort())
    page.locator("#skip").click()
    page.wait_for_function("() => outbox.items.length >= 2")
    page.unroute("**/api/events")
    page.reload()
    page.wait_for_function("() => document.body.dataset.ready === '1' && outbox.items.length === 0")
    kinds = [e["event"] for e in page.request.get(server + "/api/events?limit=1000").json()["events"] if e["at"] >= started]
    assert kinds.count("skip") >= 1 and kinds.count("start") >= 2


# -- the map -------------------------------------------------------------------------------------
def _oklab(hex_colour: str) -> tuple[float, float, float]:
    rgb = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    l_ = (0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b) ** (1 / 3)
    m_ = (0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b) ** (1 / 3)
    s_ = (0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b) ** (1 / 3)
    return (0.2104542553 * l_ + 0.7936177850 * m_ - 0.0040720468 * s_,
            1.9779984951 * l_ - 2.4285922050 * m_ + 0.4505937099 * s_,
            0.0259040371 * l_ + 0.7827717662 * m_ - 0.8086757660 * s_)  # fmt: skip


def test_map_palette_touch_selection_and_colouring_without_genres(browser, server: str) -> None:  # noqa: ANN001
    page = open_page(browser, server, "phone")
    page.click("button[data-view=map]")
    page.wait_for_function("() => map.loaded && map.px && map.px.length === 15", timeout=120_000)
    # every two colours of the palette are far apart (OKLab distance), not two shades of blue
    palette = page.evaluate("() => PALETTE")
    labs = [_oklab(c) for c in palette]
    closest = min(math.dist(a, b) for i, a in enumerate(labs) for b in labs[i + 1 :])
    assert closest > 0.08, closest
    # colour by sound cluster or album is there; the legend lists what is drawn
    options = page.locator("#colour-by option:not([disabled])").evaluate_all("os => os.map(o => o.value)")
    assert {"tag", "cluster", "album"} <= set(options)
    page.select_option("#colour-by", "cluster")
    assert page.locator("#legend li").count() >= 2
    # a library without genre tags is not offered an all-grey "genre" colouring
    page.evaluate("() => { const m = map.data; m.genre_names = m.genre_names.map(() => ''); setupColourChoices(); }")
    assert page.locator("#colour-by option[value=genre]").is_disabled()
    # touch: a tap shows the point, a second tap on it plays it
    page.evaluate("() => document.getElementById('map-over').scrollIntoView({block: 'end'})")
    box = page.locator("#map-over").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 844  # the whole map on the phone's screen
    # the point with the most room around it (a finger's reach is 22 px)
    i, px, py = page.evaluate("""() => { let best = [0, -1];
        for (let i = 0; i < map.px.length; i++) { let d = 1e9;
          for (let j = 0; j < map.px.length; j++) if (j !== i) d = Math.min(d, Math.hypot(map.px[i] - map.px[j], map.py[i] - map.py[j]));
          if (d > best[1]) best = [i, d]; }
        return [best[0], map.px[best[0]], map.py[best[0]]]; }""")
    page.touchscreen.tap(box["x"] + px, box["y"] + py)
    page.wait_for_function("i => !document.getElementById('tip').hidden && map.hover === i", arg=i)
    assert "tap again" in page.locator("#tip-artist").text_content()
    title = page.evaluate("i => mapTrack(i).title", i)
    page.touchscreen.tap(box["x"] + px, box["y"] + py)
    wait_title(page, title)
    # select with a finger: switch on Select and draw round everything (touch pointer events)
    page.click("button[data-view=map]")
    page.check("#lasso-mode")
    cdp = page.context.new_cdp_session(page)
    corners = [(4, 4), (box["width"] - 4, 4), (box["width"] - 4, box["height"] - 4), (4, box["height"] - 4), (4, 6)]
    points = [(box["x"] + x, box["y"] + y) for x, y in corners]
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        for k in range(1, 6):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [
                {"x": x0 + (x1 - x0) * k / 5, "y": y0 + (y1 - y0) * k / 5}]})  # fmt: skip
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_function("() => map.selected.length === 15")
    assert page.locator("#sel-count").text_content() == "15 selected"
    page.screenshot(path=str(_shot_dir("phone") / "map-selected.png"))
    page.click("#sel-play")
    wait_radio(page, 1)
    assert len([q for q in page.evaluate("() => player.queue") if q["fixed"]]) == 14  # the selection, then radio
    assert page.errors == [], page.errors
    page.context.close()


def test_the_suggestions_card_can_be_closed(page) -> None:  # noqa: ANN001
    page.evaluate("() => showSuggestions('Closest to a file', [])")
    assert page.locator("#suggest-card").is_visible()
    page.click("#suggest-close")
    assert page.locator("#suggest-card").is_hidden()


# -- another site's page -------------------------------------------------------------------------
def test_a_page_on_another_site_cannot_make_the_server_do_anything(browser, server: str) -> None:  # noqa: ANN001
    """A page at another origin (here http://localhost:PORT, a different site from 127.0.0.1)
    posts to the player as a hostile page would: multipart, text/plain JSON, no-cors. Chromium
    sends them (they are "simple" requests, no preflight); the server refuses every one."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Cats(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(b"<p>cute cats</p>")

        def log_message(self, *args: object) -> None:
            pass

    other = ThreadingHTTPServer(("127.0.0.1", 0), Cats)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    page = browser.new_page()
    page.goto(f"http://localhost:{other.server_address[1]}/")
    tid = page.request.get(server + "/api/search?q=first").json()["tracks"][0]["id"]
    before = len(SERVER_LOG)
    page.evaluate("""async ([base, tid]) => {
        const form = new FormData();
        form.append("file", new Blob([new Uint8Array(4096)], {type: "audio/mpeg"}), "x.mp3");
        const json = JSON.stringify({track_id: tid, event: "skip"});
        const tries = [["/api/seed", form, {}], ["/api/events", json, {"Content-Type": "text/plain"}],
                       ["/api/radio", JSON.stringify({seeds: [tid]}), {"Content-Type": "text/plain"}],
                       ["/api/mix", JSON.stringify({ids: [tid]}), {"Content-Type": "text/plain"}]];
        for (const [path, body, headers] of tries) {
          try { await fetch(base + path, {method: "POST", body, headers, mode: "no-cors"}); } catch (e) { /* refused */ }
        }
        try { await fetch(base + "/api/map", {mode: "no-cors"}); } catch (e) { /* refused */ }
    }""", [server, tid])  # fmt: skip
    reached = [e for e in SERVER_LOG[before:] if e["path"] != "/api/search"]
    assert {e["path"] for e in reached} == {"/api/seed", "/api/events", "/api/radio", "/api/mix", "/api/map"}
    assert all(e["site"] == "cross-site" and e["status"] == 403 for e in reached), reached
    page.close()
    other.shutdown()


def test_a_next_song_this_browser_cannot_play_is_passed_over(page) -> None:  # noqa: ANN001
    """Chromium plays no WMA: the song waiting in the other element fails to load; no crossover
    starts into it, and when the current song ends the player moves on instead of stalling."""
    start_radio(page, "extra song 3", "Extra Song 3")
    wait_radio(page, 1)
    search(page, "wma")
    page.locator("#results li", has_text="Wma").locator(".pn").click()
    page.wait_for_function("() => player.queue[0].t.title === 'Wma' && !player.pending")
    after = page.evaluate("() => player.queue[1].t.title")
    page.wait_for_function("() => engine.preloaded === player.queue[0].t.id && engine.other().error")
    page.evaluate("() => { const a = engine.now(); a.currentTime = a.duration - 1.5; }")
    wait_title(page, after)
    wait_playing(page, 0.2)
    assert engine_last_is_none(page)


def engine_last_is_none(page) -> bool:  # noqa: ANN001
    return page.evaluate("() => engine.last === null")
