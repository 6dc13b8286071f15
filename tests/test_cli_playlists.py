"""The playlist-side CLI on a real analysed library: feature sets, pooling, tags and
descriptors in ``tracks --json``, filters, tape sides, playlist files as seeds, ``order``,
``eval`` and ``scan --model deejai``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from segue import open_library
from segue.listen.models.musicnn_tags import MUSICNN_TAGS
from segue.playlist.export import read_playlist

from audio_factory import write_audio
from conftest import LIBRARY_LAYOUT, build_library, run_cli
from test_deejai_model import random_published_state_dict


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("playlists")
    music = root / "music"
    build_library(music, seconds=7.0)
    for i in range(6):  # a second "style": slower, different seed material
        write_audio(music / f"Other/Band {i % 3}/t{i}.ogg", seconds=7.0, seed=40 + i)
    db = root / "lib.db"
    with open_library(db) as lib:
        lib.scan([music], progress=False)
    return music, db


def cli_json(db: Path, *args: str) -> object:
    result = run_cli("--db", str(db), *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tracks_json_shows_tag_probabilities_and_descriptors(library: tuple[Path, Path]) -> None:
    _, db = library
    tracks = cli_json(db, "tracks")
    analysed = [t for t in tracks if t["analysed"]]
    assert len(analysed) == len(tracks) == len(LIBRARY_LAYOUT) + 6
    for t in analysed:
        assert list(t["tags"]["msd"]) == list(MUSICNN_TAGS["MSD_musicnn"])
        assert list(t["tags"]["mtt"]) == list(MUSICNN_TAGS["MTT_musicnn"])
        probs = [*t["tags"]["msd"].values(), *t["tags"]["mtt"].values()]
        assert all(0.0 <= p <= 1.0 for p in probs) and max(probs) > 0.05
        d = t["descriptors"]
        assert {"bpm", "camelot", "loudness_lufs", "true_peak_dbtp", "music_start", "beats"} <= set(d)
        assert d["loudness_lufs"] is not None and -60 < d["loudness_lufs"] < 0


@pytest.mark.parametrize("features", ["musicnn", "rp", "ssd", "rh", "timbre"])
def test_similar_with_every_feature_set(library: tuple[Path, Path], features: str) -> None:
    _, db = library
    rows = cli_json(db, "similar", "First Song", "-n", "5", "--features", features)
    assert len(rows) == 5 and "First Song" not in [r["title"] for r in rows]
    sims = [r["similarity"] for r in rows]
    assert sims == sorted(sims, reverse=True)


def test_feature_sets_disagree_and_tfidf_pooling_runs(library: tuple[Path, Path]) -> None:
    _, db = library
    orders = {f: [r["id"] for r in cli_json(db, "similar", "First Song", "-n", "8", "--features", f)]
              for f in ("musicnn", "rp", "timbre")}  # fmt: skip
    assert len({tuple(o) for o in orders.values()}) > 1  # different views of "similar"
    tfidf = cli_json(db, "similar", "First Song", "-n", "5", "--pooling", "tfidf")
    assert len(tfidf) == 5 and all(np.isfinite(r["similarity"]) for r in tfidf)


def test_unknown_feature_set_is_a_usage_error(library: tuple[Path, Path]) -> None:
    _, db = library
    result = run_cli("--db", str(db), "similar", "First Song", "--features", "colour")
    assert result.returncode == 1 and "invalid choice" in result.stderr


def test_sides_split_the_tape_and_write_one_file_per_side(library: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = library
    out = tmp_path / "tape.m3u"
    data = cli_json(db, "playlist", "First Song", "-n", "8", "--artist-gap", "0", "--sides", "2",
                    "-o", str(out))  # fmt: skip
    sides = data["sides"]
    assert [s["side"] for s in sides] == ["A", "B"]
    a, b = (sum(t["duration"] for t in s["tracks"]) for s in sides)
    assert abs(a - b) <= 7.5  # within one 7-s track of each other
    assert read_playlist(tmp_path / "tape-side-A.m3u") == [t["path"] for t in sides[0]["tracks"]]
    assert read_playlist(tmp_path / "tape-side-B.m3u") == [t["path"] for t in sides[1]["tracks"]]


def test_filters_restrict_the_picks(library: tuple[Path, Path]) -> None:
    music, db = library
    rows = cli_json(db, "playlist", "First Song", "-n", "5", "--artist-gap", "0",
                    "--folder", str(music / "Other"))  # fmt: skip
    assert all("/Other/" in r["path"] for r in rows[1:]) and len(rows) > 1
    rows = cli_json(db, "playlist", "First Song", "-n", "5", "--duration", "0-3")
    assert len(rows) == 1  # only the seed: every other track lasts 7 s


def test_a_playlist_file_seeds_a_playlist_and_order_reorders_it(library: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = library
    src = tmp_path / "in.m3u8"
    first = cli_json(db, "playlist", "First Song", "-n", "6", "--artist-gap", "0", "-o", str(src))
    seeded = cli_json(db, "playlist", str(src), "-n", "2", "--artist-gap", "0")
    assert [r["id"] for r in seeded[: len(first)]] == [r["id"] for r in first]

    ordered = cli_json(db, "order", str(src), "--keep-first", "-o", str(tmp_path / "out.xspf"))
    assert sorted(r["id"] for r in ordered) == sorted(r["id"] for r in first)
    assert ordered[0]["id"] == first[0]["id"]
    assert read_playlist(tmp_path / "out.xspf") == [r["path"] for r in ordered]
    arc = cli_json(db, "order", str(src), "--arc", "build")
    assert sorted(r["id"] for r in arc) == sorted(r["id"] for r in first)


def test_order_of_a_playlist_outside_the_library_is_a_clear_error(tmp_path: Path, library) -> None:
    _, db = library
    stray = tmp_path / "x.m3u"
    write_audio(tmp_path / "elsewhere.wav", seconds=1.0)
    stray.write_text("elsewhere.wav\n")
    result = run_cli("--db", str(db), "order", str(stray))
    assert result.returncode == 1 and "no track of" in result.stderr


def test_eval_reports_precision_hubness_and_journeys(library: tuple[Path, Path], tmp_path: Path) -> None:
    music, db = library
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "artist", "album", "genre"])
        for p in sorted(music.rglob("*.*")):
            if p.suffix in (".png", ".jpg"):
                continue
            style = "other" if "Other" in p.parts else "main"
            w.writerow([p, p.parent.parent.name, p.parent.name, style])
    result = cli_json(db, "eval", "--labels", str(labels), "-k", "3", "--journeys", "5")
    assert result["k"] == 3 and result["n_labelled"] > 0
    assert 0.0 <= result["genre_precision"]["value"] <= 1.0
    assert "skewness" in result["hubness"] and result["features"] == "learned"
    # too few tracks in albums to learn from: the default is still the pretrained space
    assert result["space"] == "pretrained"
    text = run_cli("--db", str(db), "eval", "--labels", str(labels), "-k", "3", "--journeys", "5")
    assert text.returncode == 0 and "style precision@3" in text.stdout


def test_scan_with_deejai_weights_then_similar(tmp_path: Path) -> None:
    music = tmp_path / "music"
    for i in range(4):
        write_audio(music / f"t{i}.mp3", seconds=11.0, seed=i)
    weights = tmp_path / "diffusion_pytorch_model.bin"
    torch.save(random_published_state_dict(seed=3), weights)
    db = tmp_path / "lib.db"

    missing = run_cli("--db", str(db), "scan", str(music), "--model", "deejai")
    assert missing.returncode == 1 and "needs a weights file" in missing.stderr

    result = run_cli("--db", str(db), "scan", str(music), "--model", "deejai", "--weights", str(weights))
    assert result.returncode == 0, result.stderr
    rows = cli_json(db, "similar", "t0", "-n", "3", "--features", "deejai")
    assert len(rows) == 3 and all(np.isfinite(r["similarity"]) for r in rows)
    tfidf = cli_json(db, "similar", "t0", "-n", "3", "--features", "deejai", "--pooling", "tfidf")
    assert len(tfidf) == 3
    # MusiCNN was never run on this library: its catalogue is empty, with a clear hint.
    plain = run_cli("--db", str(db), "similar", "t0")
    assert plain.returncode == 1 and "segue scan" in plain.stderr


def test_journey_renders_a_mix(library: tuple[Path, Path], tmp_path: Path) -> None:
    import av

    _, db = library
    mix = tmp_path / "trip.ogg"
    data = cli_json(db, "journey", "First Song", "t3", "--steps", "2", "--artist-gap", "0",
                    "--mix", str(mix), "--fade", "2")  # fmt: skip
    assert mix.exists() and mix.with_suffix(".cue").exists()
    with av.open(str(mix)) as container:
        seconds = float(container.duration or 0) / 1e6
    total = 7.0 * len(data["steps"])  # every track of this library lasts 7 s
    assert 0.5 * total < seconds <= total + 0.5  # overlaps and trimmed silence make it shorter
