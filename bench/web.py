"""Web player figures: API latency, time to first audio byte, 50 streaming clients during a scan.

    python bench/web.py --db /work/corpus.db           # reuse a scanned corpus library (copied)
    python bench/web.py --db LIB.db --synthetic 100000 --stream-seconds 20 --clients 50

The library database is copied first (SQLite backup; the original is never touched). The app
runs in its own uvicorn process on a free loopback port (so the client's CPU is not the
server's GIL); the clients are httpx. Reported:

- ``similar``: ``GET /api/similar?id=..&n=10`` p50/p99 over ``--runs`` random seeds, at corpus
  size and (``--synthetic N``) on a synthetic N-track catalogue injected into the app
  (``create_app(..., catalog=Catalog.synthetic(N, 200))``); ``radio`` and ``search`` likewise;
- ``first_byte``: time from sending ``GET /api/tracks/{id}/audio`` to the first body byte;
- ``map_hover`` (with ``--synthetic N``): the map tab in Debian's Chromium at N points: the time
  one hover takes in the page (grid lookup + overlay redraw: ``map.bench.hover``, over
  ``--hover-moves`` mouse moves) against a redraw of every point (``drawMap``: what each hover
  cost before the overlay, the baseline), medians, and the first map request's wait;
- ``stream``: ``--clients`` concurrent clients each streaming whole files (every third request
  a Range request from the middle) for ``--stream-seconds`` while ``segue scan`` analyses new
  audio into the same database; every response is checked (status 200/206, byte count equal to
  Content-Length); errors must be 0. Plus the API's p50/p99 during that load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
sys.path.insert(0, str(SRC))
SCAN_DIR = REPO.parent / "shared" / "corpus" / "jamendolyrics10" / "audio"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


def _ms(xs: list[float]) -> dict[str, float]:
    return {"p50_ms": round(_pct(xs, 50) * 1000, 2), "p99_ms": round(_pct(xs, 99) * 1000, 2), "n": len(xs)}


def serve(db: str, port: int, synthetic: int) -> None:
    """Run the app (in this process): the bench's server side."""
    import uvicorn

    from segue.web.app import create_app

    catalog = None
    if synthetic:
        from segue.playlist.catalog import Catalog

        catalog = Catalog.synthetic(synthetic, d=200, seed=0)
        catalog.get_index()  # build before serving, as a running app would have
    uvicorn.run(create_app(db, catalog=catalog), host="127.0.0.1", port=port, log_level="error")


class Server:
    def __init__(self, db: Path, synthetic: int = 0) -> None:
        self.port = _free_port()
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", "--db", str(db), "--port", str(self.port),
             "--synthetic", str(synthetic)], env=env,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 300
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/api/status", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def latency(url: str, ids: list[int], runs: int) -> dict[str, dict[str, float]]:
    rnd = random.Random(0)
    out: dict[str, list[float]] = {"similar": [], "radio": [], "search": []}
    words = ["a", "the", "love", "track 12", "artist 3", "night"]
    with httpx.Client(base_url=url, timeout=60) as c:
        c.get("/api/similar", params={"id": ids[0]})  # warm: catalogue and index built
        c.get("/api/search", params={"q": "x"})
        for i in range(runs):
            seed = rnd.choice(ids)
            t = time.perf_counter()
            r = c.get("/api/similar", params={"id": seed, "n": 10})
            out["similar"].append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
            hist = rnd.sample(ids, min(30, len(ids)))
            t = time.perf_counter()
            r = c.post("/api/radio", json={"seeds": [seed], "history": hist, "k": 10, "noise": 0.2})
            out["radio"].append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
            t = time.perf_counter()
            r = c.get("/api/search", params={"q": words[i % len(words)], "limit": 50})
            out["search"].append(time.perf_counter() - t)
            assert r.status_code == 200, r.text
    return {k: _ms(v) for k, v in out.items()}


def first_byte(url: str, ids: list[int], runs: int) -> dict[str, float]:
    times = []
    with httpx.Client(base_url=url, timeout=60) as c:
        for i in range(runs):
            tid = ids[i % len(ids)]
            t = time.perf_counter()
            with c.stream("GET", f"/api/tracks/{tid}/audio") as r:
                for _ in r.iter_raw(1024):
                    times.append(time.perf_counter() - t)
                    break
    return _ms(times)


async def _stream_load(url: str, ids: list[int], clients: int, seconds: float) -> dict:
    stats = {"requests": 0, "bytes": 0, "errors": [], "durations": [], "api": []}
    stop_at = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients + 5, max_keepalive_connections=clients + 5)

    async def one(c: httpx.AsyncClient, k: int) -> None:
        rnd = random.Random(k)
        n = 0
        while time.perf_counter() < stop_at:
            tid = rnd.choice(ids)
            headers = {}
            if n % 3 == 2:
                headers["Range"] = "bytes=100000-"
            n += 1
            t = time.perf_counter()
            try:
                async with c.stream("GET", f"/api/tracks/{tid}/audio", headers=headers) as r:
                    got = 0
                    async for chunk in r.aiter_raw(65536):
                        got += len(chunk)
                    want = int(r.headers.get("content-length", -1))
                    if r.status_code not in (200, 206) or got != want:
                        stats["errors"].append(f"{tid}: {r.status_code}, {got} of {want} bytes")
                    stats["bytes"] += got
            except Exception as exc:  # noqa: BLE001 - every failure is counted, none hidden
                stats["errors"].append(f"{tid}: {type(exc).__name__}: {exc}")
            stats["requests"] += 1
            stats["durations"].append(time.perf_counter() - t)

    async def api_probe(c: httpx.AsyncClient) -> None:
        rnd = random.Random(99)
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            r = await c.get("/api/similar", params={"id": rnd.choice(ids), "n": 10})
            stats["api"].append(time.perf_counter() - t)
            if r.status_code != 200:
                stats["errors"].append(f"similar: {r.status_code} {r.text[:100]}")
            await asyncio.sleep(0.05)

    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as c:
        await asyncio.gather(*(one(c, k) for k in range(clients)), api_probe(c))
    return stats


def stream_during_scan(url: str, db: Path, ids: list[int], clients: int, seconds: float) -> dict:
    scan = None
    scan_dir = Path(tempfile.mkdtemp(prefix="segue-bench-scan-"))
    if SCAN_DIR.is_dir():
        for f in sorted(SCAN_DIR.iterdir()):
            shutil.copy(f, scan_dir / f.name)
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        scan = subprocess.Popen(
            [sys.executable, "-m", "segue.cli", "--db", str(db), "scan", str(scan_dir), "--workers", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(3)  # let it get going: decoding and analysing, writing to the store
    t0 = time.perf_counter()
    stats = asyncio.run(_stream_load(url, ids, clients, seconds))
    wall = time.perf_counter() - t0
    scan_running = scan is not None and scan.poll() is None
    if scan is not None:
        scan.terminate()
        scan.wait(30)
    shutil.rmtree(scan_dir, ignore_errors=True)
    return {
        "clients": clients,
        "seconds": round(wall, 1),
        "scan_running_throughout": scan_running,
        "requests": stats["requests"],
        "mb": round(stats["bytes"] / 1e6, 1),
        "mb_per_s": round(stats["bytes"] / 1e6 / wall, 1),
        "errors": len(stats["errors"]),
        "error_samples": stats["errors"][:5],
        "request": _ms(stats["durations"]),
        "similar_under_load": _ms(stats["api"]) if stats["api"] else None,
    }


CHROMIUM = "/usr/bin/chromium"


def map_hover(url: str, moves: int) -> dict[str, object]:
    """Hover cost on the map in a real browser (see the module docstring)."""
    from statistics import median

    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--headless", "--no-sandbox"])
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url + "/")
        t = time.perf_counter()
        page.click("button[data-view=map]")
        page.wait_for_function("() => map.loaded && map.grid", timeout=600_000)
        ready = time.perf_counter() - t
        n = page.evaluate("() => map.px.length")
        box = page.locator("#map-over").bounding_box()
        page.evaluate("() => { map.bench.hover = []; map.bench.base = []; }")
        rnd = random.Random(0)
        for _ in range(moves):
            page.mouse.move(box["x"] + rnd.uniform(20, box["width"] - 20), box["y"] + rnd.uniform(20, box["height"] - 20))
        hover = page.evaluate("() => map.bench.hover")
        for _ in range(7):
            page.evaluate("() => drawMap()")
        base = page.evaluate("() => map.bench.base")
        browser.close()
    h, b = median(hover), median(base)
    return {"points": n, "map_ready_s": round(ready, 1), "hover_ms_p50": round(h, 3),
            "hover_ms_p99": round(_pct(hover, 99), 3), "hovers": len(hover),
            "full_redraw_ms_p50": round(b, 1), "hover_vs_full_redraw": round(h / b, 4)}  # fmt: skip


def copy_db(src: Path, dst: Path) -> None:
    """An online backup, read-only on the source: the original is never opened for writing."""
    s = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    d = sqlite3.connect(dst)
    s.backup(d)
    s.close()
    d.close()


class _Skip(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", required=True, help="a scanned, analysed library (copied, not modified)")
    ap.add_argument("--synthetic", type=int, default=100000, help="synthetic catalogue size (0: skip)")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--stream-seconds", type=float, default=20.0)
    ap.add_argument("--hover-moves", type=int, default=300, help="mouse moves over the map (0: skip)")
    ap.add_argument("--only-map", action="store_true", help="only the map hover figure (with --synthetic)")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.db, args.port, args.synthetic)
        return
    work = Path(tempfile.mkdtemp(prefix="segue-bench-web-"))
    db = work / "lib.db"
    copy_db(Path(args.db), db)
    results: dict[str, object] = {}
    server = Server(db) if not args.only_map else None
    try:
        if server is None:
            raise _Skip
        with httpx.Client(base_url=server.url) as c:
            ids = [t["id"] for t in c.get("/api/search", params={"limit": 500}).json()["tracks"]]
        results["corpus"] = {"tracks": len(ids), **latency(server.url, ids, args.runs)}
        results["first_byte"] = first_byte(server.url, ids, min(args.runs, 100))
        results["stream"] = stream_during_scan(server.url, db, ids, args.clients, args.stream_seconds)
    except _Skip:
        pass
    finally:
        if server is not None:
            server.stop()
    if args.synthetic:
        t = time.perf_counter()
        server = Server(db, synthetic=args.synthetic)
        start = time.perf_counter() - t
        try:
            ids = list(range(1, args.synthetic + 1))
            if not args.only_map:
                results[f"synthetic_{args.synthetic}"] = {
                    "server_start_s": round(start, 1), **latency(server.url, ids, args.runs)
                }
            if args.hover_moves:
                results[f"map_hover_{args.synthetic}"] = map_hover(server.url, args.hover_moves)
        finally:
            server.stop()
    shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
