"""The web player end to end: Playwright drives Debian's Chromium against a live server.

The server runs uvicorn in a thread on a free loopback port over a real analysed library; the
browser gets a fake microphone that plays a WAV made from one of the library's tracks.
Screenshots of each view go to the test's output folder (printed at the end of the module).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from segue.playlist.export import read_playlist
from web_helpers import XSS_TITLE, analysed_library, fresh_art_cache, wav_of

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def art_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test here gets an empty art cache: the map's t-SNE runs, not the user's cache."""
    return fresh_art_cache(tmp_path, monkeypatch)

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's Chromium is not installed at {CHROMIUM} (make test installs it)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return analysed_library(tmp_path_factory.mktemp("webb"))


@pytest.fixture(scope="module")
def server(library: tuple[Path, Path]) -> Iterator[str]:
    import uvicorn

    from segue.web.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(library[1]), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started and time.time() < deadline:
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("screenshots")
    yield folder
    print(f"\nweb player screenshots: {folder}")


@pytest.fixture(scope="module")
def browser(library: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    sync_api = pytest.importorskip("playwright.sync_api")
    mic = wav_of(next(library[0].rglob("extra 4.mp3")), tmp_path_factory.mktemp("mic") / "room.wav")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--headless", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}",
            ],
        )  # fmt: skip
        yield b
        b.close()


@pytest.fixture
def page(browser, server: str) -> Iterator:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    pg = context.new_page()
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs  # type: ignore[attr-defined]
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # these flows test the plain hand-over (gapless); crossfades have their own tests
    pg.add_init_script("localStorage.setItem('segue.xfade', JSON.stringify('off'))")
    pg.goto(server + "/?listen=4")
    yield pg
    assert errors == [], errors
    assert dialogs == [], dialogs
    context.close()


def search(page, query: str, box: str = "search", rows: str = "results") -> None:
    """Type a query and wait for its own answer: focusing the box first lists the whole library,
    and the typed query lands after a 120 ms debounce, so rows seen early may be the wrong ones."""
    page.fill(f"#{box}", query)
    page.wait_for_function(
        "([id, q]) => document.getElementById(id).dataset.q === q", arg=[rows, query.strip()]
    )


def start_radio(page, query: str, title: str) -> None:
    search(page, query)
    item = page.locator("#results li", has_text=title).first
    item.wait_for()
    item.click()
    page.wait_for_function("t => document.getElementById('title').textContent === t", arg=title)


def queue_titles(page, fixed_only: bool = False) -> list[str]:
    return page.locator("#queue li.fixed .t" if fixed_only else "#queue li .t").all_text_contents()


def wait_playing(page, beyond: float = 0.5) -> None:
    page.wait_for_function(
        "x => { const a = engine.now(); return !a.paused && a.currentTime > x; }",
        arg=beyond, timeout=15000,
    )  # fmt: skip


def events_since(page, base: str, since: float) -> list[dict]:
    """Events the server recorded from ``since`` (epoch seconds) on: the library is shared with
    the API tests, whose own events must not satisfy these tests' assertions."""
    events = page.request.get(base + "/api/events?limit=1000").json()["events"]
    return [e for e in events if e["at"] >= since]


def test_search_play_seek_skip_knobs_keyboard(page, shots: Path, server: str) -> None:
    started = time.time()
    search(page, "extra")
    page.screenshot(path=str(shots / "search.png"))
    assert len(page.locator("#results li").all()) == 6
    page.locator("#results li", has_text="Extra Song 0").click()
    page.wait_for_function("() => document.getElementById('title').textContent === 'Extra Song 0'")
    wait_playing(page)  # the audio element really plays: currentTime advances
    page.locator("#queue li").nth(9).wait_for()
    page.screenshot(path=str(shots / "player.png"))
    # seek (HTTP Range) and keep playing from there
    page.evaluate("engine.now().currentTime = 5")
    wait_playing(page, 5.2)
    # skip with the keyboard: the first of up next plays, the old one goes to history
    upcoming = queue_titles(page)
    page.locator("body").press("n")
    page.wait_for_function("t => document.getElementById('title').textContent === t", arg=upcoming[0])
    wait_playing(page, 0.3)
    assert page.locator("#history li .t").first.text_content() == "Extra Song 0"
    # back
    page.locator("body").press("b")
    page.wait_for_function("() => document.getElementById('title').textContent === 'Extra Song 0'")
    # pause with space
    wait_playing(page, 0.2)
    page.locator("body").press(" ")
    page.wait_for_function("() => engine.now().paused")
    page.locator("body").press(" ")
    wait_playing(page, 0.1)
    # the knobs steer the picks: drunk all the way reshuffles up next
    page.locator("#queue li").nth(9).wait_for()
    before = queue_titles(page)
    for _ in range(3):
        page.evaluate("""() => { const n = document.getElementById('noise'); n.value = 1;
                          n.dispatchEvent(new Event('input')); }""")
        try:
            page.wait_for_function("b => { const q = [...document.querySelectorAll('#queue li .t')]"
                                   ".map(e => e.textContent); return q.length && q.join('|') !== b; }",
                                   arg="|".join(before), timeout=5000)  # fmt: skip
            break
        except Exception:  # noqa: BLE001 - a random draw may repeat the order; draw again
            continue
    assert queue_titles(page) != before and page.locator("#noise-v").text_content() == "1.00"
    page.evaluate("""() => { const n = document.getElementById('lookback'); n.value = 0;
                      n.dispatchEvent(new Event('input')); }""")
    assert page.locator("#lookback-v").text_content() == "0"
    # clicking a history track reseeds from it
    page.locator("#history li").first.click()
    page.wait_for_function("() => document.getElementById('title').textContent !== 'Extra Song 0'")
    # skips and listens reached the store
    events = events_since(page, server, started)
    kinds = {e["event"] for e in events}
    assert {"start", "skip"} <= kinds
    assert any(e["event"] == "skip" and e["position_s"] > 4 for e in events)


def test_track_plays_to_the_end_and_continues(page, server: str) -> None:
    started = time.time()
    start_radio(page, "second song", "Second Song")
    wait_playing(page)
    page.evaluate("() => { const a = engine.now(); a.currentTime = a.duration - 0.4; }")
    page.wait_for_function("() => document.getElementById('title').textContent !== 'Second Song'", timeout=15000)
    wait_playing(page, 0.2)
    events = events_since(page, server, started)
    second = page.request.get(server + "/api/search?q=second+song").json()["tracks"][0]["id"]
    assert any(e["event"] == "complete" and e["track_id"] == second for e in events)


def test_seed_from_uploaded_file(page, library: tuple[Path, Path], shots: Path, tmp_path: Path) -> None:
    copy = tmp_path / "dropped song.mp3"
    copy.write_bytes(next(library[0].rglob("extra 2.mp3")).read_bytes())
    page.set_input_files("#file", str(copy))
    page.wait_for_function("() => !document.getElementById('suggest-card').hidden", timeout=60000)
    assert "dropped song.mp3" in page.locator("#suggest-title").text_content()
    assert page.locator("#suggest li .t").first.text_content() == "Extra Song 2"
    page.wait_for_function("() => document.getElementById('title').textContent === 'Extra Song 2'")
    wait_playing(page)
    page.screenshot(path=str(shots / "seed-from-file.png"))


def test_microphone_listen_suggests(page, shots: Path) -> None:
    page.click("#listen")
    page.wait_for_function("() => !document.getElementById('suggest-card').hidden", timeout=60000)
    assert page.locator("#suggest-title").text_content().startswith("Sounds like")
    titles = page.locator("#suggest li .t").all_text_contents()
    # The fake microphone loops the WAV from wherever Chromium starts it, so the 10 s heard is a
    # random window of the track; the synthetic "Extra" songs are close cousins. The played song
    # must still come out among the top three of the library.
    assert len(titles) == 11 and "Extra Song 4" in titles[:3]
    page.screenshot(path=str(shots / "listen.png"))
    page.locator("#suggest li").nth(1).click()
    wait_playing(page)


def test_journey_build_preview_export(page, shots: Path, tmp_path: Path) -> None:
    page.click("button[data-view=journey]")
    for q, title in (("first song", "First Song"), ("extra song 5", "Extra Song 5")):
        search(page, q, "wp-search", "wp-results")
        page.locator("#wp-results li", has_text=title).first.click()
    assert page.locator("#waypoints li .t").all_text_contents() == ["First Song", "Extra Song 5"]
    page.fill("#steps", "3")
    page.click("#preview")
    page.locator("#jlist li").nth(4).wait_for()
    got = page.locator("#jlist li .t").all_text_contents()
    assert len(got) == 5 and got[0] == "First Song" and got[-1] == "Extra Song 5"
    page.screenshot(path=str(shots / "journey.png"))
    for fmt in ("m3u", "xspf"):
        with page.expect_download() as dl:
            page.click(f"#export-{fmt}")
        out = tmp_path / f"journey.{fmt}"
        dl.value.save_as(out)
        paths = read_playlist(out)
        assert len(paths) == 5 and Path(paths[0]).name == "01 First Song.mp3"
    page.click("#render-mix")
    page.wait_for_function("() => document.getElementById('mix-status').textContent.startsWith('Done')",
                           timeout=120_000)  # fmt: skip
    with page.expect_download() as dl:
        page.click("#mix-download")
    mix = tmp_path / "journey-mix.ogg"
    dl.value.save_as(mix)
    assert mix.stat().st_size > 10_000
    page.click("#jplay")
    page.wait_for_function("() => document.getElementById('title').textContent === 'First Song'")
    assert queue_titles(page, fixed_only=True) == got[1:]  # the journey, then the radio


def test_xss_title_renders_as_text(page, shots: Path) -> None:
    search(page, "img src")
    item = page.locator("#results li").first
    item.wait_for()
    assert item.locator(".t").text_content() == XSS_TITLE
    assert page.locator("img[src='x']").count() == 0 and page.locator("#results b").count() == 0
    item.click()
    page.wait_for_function("t => document.getElementById('title').textContent === t", arg=XSS_TITLE)
    assert page.locator("#artist").text_content() == "<b>bold</b> & co"
    assert page.locator("#album").text_content() == "<script>x</script>"
    page.screenshot(path=str(shots / "xss-as-text.png"))
    assert page.evaluate("() => window.__xss === undefined")


def test_collection_map_hover_click_lasso(page, shots: Path, tmp_path: Path) -> None:
    page.click("button[data-view=map]")
    page.wait_for_function("() => map.loaded && map.px && map.px.length === 15")
    assert page.locator("#legend li").count() >= 1
    box = page.locator("#map").bounding_box()
    px, py = page.evaluate("() => [map.px[0], map.py[0]]")
    page.mouse.move(box["x"] + px, box["y"] + py)
    page.wait_for_function("() => !document.getElementById('tip').hidden")
    hovered = page.locator("#tip-title").text_content()
    assert hovered
    page.screenshot(path=str(shots / "map.png"))
    page.mouse.click(box["x"] + px, box["y"] + py)
    page.wait_for_function("t => document.getElementById('title').textContent === t", arg=hovered)
    # lasso the whole canvas (Shift + drag): every point is selected, exported as M3U
    page.click("button[data-view=map]")
    page.keyboard.down("Shift")
    corners = [(5, 5), (box["width"] - 5, 5), (box["width"] - 5, box["height"] - 5), (5, box["height"] - 5)]
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    for cx, cy in corners[1:] + corners[:1]:
        page.mouse.move(box["x"] + cx, box["y"] + cy, steps=5)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert page.locator("#sel-count").text_content() == "15 selected"
    page.screenshot(path=str(shots / "map-lasso.png"))
    with page.expect_download() as dl:
        page.click("#sel-export")
    out = tmp_path / "sel.m3u"
    dl.value.save_as(out)
    assert len(read_playlist(out)) == 15
