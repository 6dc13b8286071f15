"""The beets plugin with real beets: a beets library built by ``beet import -A`` of real
encoded files, then ``beet segue-scan`` (only the matched items, beets left alone unless asked),
the write-back of segue_bpm & co queryable with beets' own range queries, ``segue-radio`` and
``segue-journey``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("beets", reason="beets (the test extra) is not installed")

from segue import open_library  # noqa: E402
from web_helpers import analysed_library  # noqa: E402

from audio_factory import music_like, tag_file, write_audio  # noqa: E402
from conftest import REPO  # noqa: E402

NEW = {"Housey": 128.0, "Rushing": 150.0}  # title -> tempo of the two files segue has not heard


def copy_db(src: Path, dst: Path) -> Path:
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)
    return dst


class Beets:
    """``beet`` with a private config (BEETSDIR): its own library file, plugins: segue."""

    def __init__(self, root: Path, music: Path, segue_db: Path) -> None:
        self.dir = root / "beetsdir"
        self.dir.mkdir()
        self.db = root / "beets.db"
        self.segue_db = segue_db
        (self.dir / "config.yaml").write_text(
            f"directory: {music}\nlibrary: {self.db}\nplugins: segue\n"
            "import:\n  copy: no\n  move: no\n  write: no\n  quiet: yes\n  log:\n"
            f"segue:\n  db: {segue_db}\n", encoding="utf-8")  # fmt: skip

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "BEETSDIR": str(self.dir), "PYTHONPATH": str(REPO / "src")}
        result = subprocess.run([sys.executable, "-m", "beets", *args], capture_output=True, text=True,
                                env=env, timeout=300)  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result

    def titles(self, *query: str) -> list[str]:
        return sorted(self("ls", "-f", "$title", *query).stdout.splitlines())

    def flexible(self) -> list[tuple]:
        with sqlite3.connect(self.db) as conn:
            return sorted(conn.execute("SELECT entity_id, key, value FROM item_attributes").fetchall())


@pytest.fixture(scope="module")
def beet(tmp_path_factory: pytest.TempPathFactory) -> Beets:
    music, db = analysed_library(tmp_path_factory.mktemp("web"))
    root = tmp_path_factory.mktemp("beets")
    new = root / "new"
    for n, (title, bpm) in enumerate(NEW.items()):
        path = write_audio(new / f"{n + 1:02d} {title}.mp3", signal=music_like(8.0, seed=60 + n, bpm=bpm))
        tag_file(path, title=title, artist="Tempo Band", album="New Tracks", track=str(n + 1))
    beet = Beets(root, music, copy_db(db, root / "segue.db"))
    beet("import", "-A", str(music), str(new))  # as-is: no autotagging, files left in place
    return beet


def test_import_and_the_plugin_is_loaded(beet: Beets) -> None:
    assert "plugins: segue" in beet("version").stdout
    assert len(beet.titles()) == 17
    assert "segue-radio" in beet("help").stdout


def test_segue_scan_analyses_the_matched_items_and_leaves_beets_alone(beet: Beets) -> None:
    before = beet.flexible()
    out = beet("segue-scan", "album:New Tracks").stdout
    assert "2 items: 2 added, 0 updated, 0 unchanged, 2 analysed, 0 failed" in out
    with open_library(beet.segue_db) as lib:
        assert lib.count_tracks() == 17  # the 15 it had, and only the two matched
        new_ids = [lib.track_id_at(p) for p in (beet.dir.parent / "new").iterdir()]
        assert all(lib.track_facts(i)["analysed"] for i in new_ids)
    assert beet.flexible() == before  # nothing written to beets without --write-back
    assert beet.titles("segue_bpm:0..1000") == []


def test_write_back_makes_segue_attributes_queryable(beet: Beets) -> None:
    out = beet("segue-scan", "--write-back").stdout
    assert "17 items: 0 added, 0 updated, 17 unchanged, 0 analysed" in out
    assert "wrote segue_* attributes of 17 items" in out
    with open_library(beet.segue_db) as lib:
        facts = {t["path"]: lib.track_facts(t["id"]) for t in lib.tracks(details=False)}
    # beets' own numeric range queries over what segue heard
    for low, high in ((115, 125), (125, 131), (145, 155)):
        expected = sorted(p for p, f in facts.items() if f["bpm"] is not None and low <= round(f["bpm"], 1) <= high)
        assert sorted(beet("ls", "-p", f"segue_bpm:{low}..{high}").stdout.splitlines()) == expected
    assert beet.titles("segue_bpm:125..131") == ["Housey"]
    assert beet.titles("segue_bpm:145..155") == ["Rushing"]
    housey = facts[str(beet.dir.parent / "new" / "01 Housey.mp3")]
    line = beet("ls", "-f", "$segue_key|$segue_camelot|$segue_loudness|$segue_tags", "title:Housey").stdout
    key, camelot, loudness, tags = line.strip().split("|")
    assert key == housey["key"] and camelot == housey["camelot"]
    assert abs(float(loudness) - housey["loudness_lufs"]) < 0.06
    assert tags == ", ".join(housey["tags"])


def test_radio_and_journey_from_beets_queries(beet: Beets, tmp_path: Path) -> None:
    playlist = tmp_path / "radio.m3u"
    radio = beet("segue-radio", "title:Extra Song 0", "-n", "3", "-o", str(playlist)).stdout.splitlines()
    assert radio[0] == "Extra Band 0 - Extras - Extra Song 0" and len(radio) == 5  # 4 tracks + "wrote"
    assert len(set(radio[:4])) == 4 and radio[4].startswith("wrote")
    entries = [line for line in playlist.read_text().splitlines() if line and not line.startswith("#")]
    assert len(entries) == 4
    journey = beet("segue-journey", "title:Extra Song 0", "title:Housey", "--steps", "2").stdout.splitlines()
    assert len(journey) == 4
    assert journey[0].endswith("Extra Song 0") and journey[-1] == "Tempo Band - New Tracks - Housey"
