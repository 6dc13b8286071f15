"""Saved catalogues: a fresh process maps the library's catalogue (and its ANN index) back in
instead of rebuilding them, and a changed library never reads a stale one."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

import segue.api as api
from segue import open_library
from segue.playlist import snapshot
from segue.playlist.catalog import Catalog

from conftest import build_library


def test_round_trip_keeps_every_column(tmp_path: Path) -> None:
    cat = Catalog.synthetic(500, 16, seed=3)
    cat.title[0], cat.artist[1] = "ünïcödé 日本", "A\x00B"  # a NUL cannot split a column apart
    cat.cover[2] = "ab" * 32
    assert snapshot.save(cat, tmp_path, "musicnn-mean-k1") is not None
    back = snapshot.load(tmp_path, "musicnn-mean-k1")
    assert back is not None and len(back) == len(cat)
    np.testing.assert_array_equal(back.vectors, cat.vectors)
    np.testing.assert_array_equal(back.intro, cat.intro)
    for name in ("ids", "duration", "year", "group", "bpm", "bpm_confidence", "loudness_lufs"):
        np.testing.assert_array_equal(getattr(back, name), getattr(cat, name))
    for name in ("path", "title", "album", "genre", "cover", "camelot"):
        assert getattr(back, name) == getattr(cat, name), name
    assert back.title[0] == "ünïcödé 日本" and back.artist[1] == "AB"
    assert back.tags is not None and set(back.tags) == set(cat.tags)
    np.testing.assert_array_equal(back.tags["rock"], cat.tags["rock"])
    np.testing.assert_array_equal(back.album_codes, cat.album_codes)
    np.testing.assert_array_equal(back.artist_codes, cat.artist_codes)
    assert snapshot.load(tmp_path, "musicnn-mean-other") is None


def test_a_newer_snapshot_replaces_the_old_one(tmp_path: Path) -> None:
    cat = Catalog.synthetic(50, 8, seed=1)
    snapshot.save(cat, tmp_path, "musicnn-mean-aaa")
    snapshot.save(cat, tmp_path, "rp-mean-aaa")
    snapshot.save(cat, tmp_path, "musicnn-mean-bbb")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["musicnn-mean-bbb", "rp-mean-aaa"]


def test_the_ann_index_is_trained_once(tmp_path: Path) -> None:
    cat = Catalog.synthetic(60_000, 24, seed=2, transitions=False)
    snapshot.save(cat, tmp_path, "k")
    first = snapshot.load(tmp_path, "k")
    started = time.perf_counter()
    index = first.get_index()
    trained = time.perf_counter() - started
    assert index.backend == "ivf" and (tmp_path / "k" / snapshot.INDEX_FILE).exists()
    again = snapshot.load(tmp_path, "k")
    started = time.perf_counter()
    loaded = again.get_index()
    assert loaded.backend == "ivf" and time.perf_counter() - started < trained
    q = cat.vectors[:5]
    np.testing.assert_array_equal(index.search(q, 10)[0], loaded.search(q, 10)[0])


def test_the_library_saves_and_reuses_its_catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "SNAPSHOT_MIN_TRACKS", 1)  # real libraries do this from 10k tracks
    music = tmp_path / "music"
    build_library(music, seconds=3.0)
    db = tmp_path / "lib.db"
    with open_library(db) as lib:
        lib.scan([music], progress=False)
        built = lib.catalog()
    assert (tmp_path / "lib.db.catalog").is_dir()

    def no_build(*args: object) -> None:
        raise AssertionError("rebuilt although nothing changed")

    with monkeypatch.context() as m:
        m.setattr(api.Library, "_build_catalog", no_build)
        with open_library(db) as lib:
            loaded = lib.catalog()
            assert list(loaded.ids) == list(built.ids) and loaded.title == built.title
            assert [r["id"] for r in lib.similar(str(built.ids[0]), 3)]
    # a changed library is never answered from the old snapshot
    with open_library(db) as lib:
        lib.store.update_track(int(built.ids[0]), {"title": "Renamed"})  # as a rescan of a re-tag
    with open_library(db) as lib:
        assert "Renamed" in lib.catalog().title
