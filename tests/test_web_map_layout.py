"""The map never keeps a page waiting in silence: the layout is made at the end of a scan, one
computation at a time per layout (two first requests do not compute it twice), and the web's
layout job reports its progress."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import segue.api
from segue import open_library
from segue.art.layout import layout_points
from segue.library.store import Store
from segue.web.app import create_app
from web_helpers import analysed_library, local_client

from audio_factory import write_audio


def test_two_first_requests_compute_one_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    vectors = {f"h{i}": rng.normal(size=32).astype(np.float32) for i in range(12)}
    got: list[str] = []
    heard: list[float] = []
    start = threading.Barrier(2)

    def first_view() -> None:
        start.wait()
        got.append(layout_points(vectors, cache=tmp_path, on_progress=heard.append).how)

    threads = [threading.Thread(target=first_view) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == ["cached", "fresh"]  # the second waited and read the first's result
    assert heard and heard == sorted(heard) and 0 < heard[-1] <= 1.0  # progress, only upwards
    assert len(list((tmp_path / "projections").glob("*.npz"))) == 1


def test_a_scan_lays_out_the_map_and_the_page_then_gets_it_at_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    music, db = analysed_library(tmp_path_factory.mktemp("webmap"))
    copy = tmp_path / "copy.db"
    with Store(db) as src, Store(copy) as dst:
        src.conn.backup(dst.conn)
    art = tmp_path / "art"
    monkeypatch.setenv("SEGUE_ART_CACHE", str(art))
    monkeypatch.setattr(segue.api, "MAP_AT_SCAN_MIN", 1)  # a big library's rule, on a small one
    write_audio(tmp_path / "new" / "late.mp3", seconds=6.0, seed=78)
    with open_library(copy) as lib:
        lib.scan([tmp_path / "new"], progress=False, workers=1)
        n = lib.store.count_vectors("musicnn", "track")
    layouts = list((art / "projections").glob("*.npz"))
    assert len(layouts) == 1
    with np.load(layouts[0]) as saved:
        assert len(saved["keys"]) == n == 16  # every analysed track, the new one included
    # a server started afterwards answers the first map request without a job
    client = local_client(create_app(copy))
    first = client.get("/api/map")
    assert first.status_code == 200 and len(first.json()["ids"]) == 16 and first.json()["method"] == "tsne"


def test_small_libraries_are_laid_out_on_first_view_not_by_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Below MAP_AT_SCAN_MIN tracks the scan does not spend the seconds (the page shows a job)."""
    assert segue.api.MAP_AT_SCAN_MIN >= 100
    monkeypatch.setenv("SEGUE_ART_CACHE", str(tmp_path / "art"))
    with open_library(tmp_path / "empty.db") as lib:
        lib._prepare_map(progress=False)  # nothing analysed: nothing to lay out, no error
    assert not (tmp_path / "art").exists()
