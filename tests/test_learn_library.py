"""The learned space through the one door (segue.api) and the CLI: scan, learn, clusters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from segue.api import Library
from segue.learn.synthetic import synthetic_library
from segue.library.playlist_files import read_playlist
from segue.library.store import Store
from segue.listen.pipeline import analyse_outside

from audio_factory import tag_file, write_audio
from conftest import run_cli


@pytest.fixture
def synthetic_db(tmp_path: Path) -> Path:
    db = tmp_path / "lib.db"
    with Store(db) as store:
        synthetic_library(store, 300, seed=11)
    return db


def test_a_scan_that_changes_the_library_trains_and_the_learned_space_is_the_default(
    synthetic_db: Path, tmp_path: Path
) -> None:
    music = tmp_path / "new music"
    for i in range(2):
        path = write_audio(music / f"{i}.ogg", seconds=3.0, seed=i)
        tag_file(path, title=f"New {i}", artist="Newcomer", album="Debut")
    with Library.open(synthetic_db) as lib:
        assert lib.space() == "pretrained" and lib.catalog().dim == 200
        report = lib.scan([music], workers=1, progress=False)
        # no command needed: the scan added tracks, so it trained at its end
        assert report.learned["space"] == "learned" and report.as_dict()["learned"]["dims"] >= 2
        model = lib.learned_model()
        cat = lib.catalog()
        assert lib.space() == "learned" and cat.dim == model.dims and len(cat) == 302
        assert cat.intro.shape == cat.vectors.shape  # transitions through the same head
        # the scanned tracks are placed by the head like the others
        new = [i for i, p in enumerate(cat.path) if p.startswith(str(music))]
        assert len(new) == 2 and np.isfinite(cat.vectors[new]).all()
        # today's space on request
        lib.use("musicnn")
        assert lib.space() == "pretrained" and lib.catalog().dim == 200
        # an unchanged rescan does not train again
        again = lib.scan([music], workers=1, progress=False)
        assert again.learned is None and again.unchanged == 2


def test_outside_files_are_placed_by_the_head(synthetic_db: Path, tmp_path: Path) -> None:
    outside = write_audio(tmp_path / "elsewhere" / "demo.ogg", seconds=3.0, seed=5)
    with Library.open(synthetic_db) as lib:
        lib.learn()
        expected = lib.learned_model().place(analyse_outside(str(outside)))
        vector = lib.outside_vector(str(outside))
        assert vector.shape == expected.shape == (lib.learned_model().dims,)
        np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), rtol=1e-5)
        rows = lib.similar(str(outside), 3)
        assert len(rows) == 3 and all(r["similarity"] > -1 for r in rows)
        lib.use("musicnn")
        assert lib.outside_vector(str(outside)).shape == (200,)


def test_learn_and_clusters_commands(synthetic_db: Path, tmp_path: Path) -> None:
    result = run_cli("--db", str(synthetic_db), "learn", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["space"] == "learned" and summary["contexts"]["album"] == 30
    assert set(summary) >= {"contexts", "epochs", "held_out", "seconds", "dims", "device"}
    assert "learn: fit" in result.stderr

    out = tmp_path / "clusters"
    result = run_cli("--db", str(synthetic_db), "clusters", "-o", str(out), "--json")
    assert result.returncode == 0, result.stderr
    clusters = json.loads(result.stdout)
    assert 2 <= len(clusters) <= 10
    files = sorted(out.glob("*.m3u8"))
    assert [str(f) for f in files] == sorted(c["file"] for c in clusters)
    listed = [p for f in files for p in read_playlist(f)]
    assert len(listed) == len(set(listed)) == 300  # every track in exactly one playlist
    assert all(c["name"] and c["tracks"] for c in clusters)


def test_learn_says_when_it_keeps_the_pretrained_space(tmp_path: Path) -> None:
    db = tmp_path / "lib.db"
    with Store(db) as store:
        synthetic_library(store, 100, seed=12, album_tags=False, folders="track")
    result = run_cli("--db", str(db), "learn")
    assert result.returncode == 0, result.stderr
    assert "keeping the pretrained space: no usable signal" in result.stdout
