"""The scan/tracks/status commands as a user runs them, crash safety, and the real corpus."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audio_factory import write_audio
from conftest import LIBRARY_LAYOUT, REPO, corpus_or_skip, run_cli

TRACK_FIELDS = {"id", "path", "title", "artist", "album", "genre", "duration", "analysed", "error"}


def test_scan_tracks_status_json(music: Path, db: Path) -> None:
    (music / "junk.mp3").write_text("not music")
    result = run_cli("--db", str(db), "scan", "--no-analysis", "--json", str(music))
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # stdout holds the JSON and nothing else
    assert report["added"] == len(LIBRARY_LAYOUT) and report["failed"] == 1
    assert "failed: " in result.stderr and "junk.mp3" in result.stderr

    tracks = json.loads(run_cli("--db", str(db), "tracks", "--json").stdout)
    assert len(tracks) == len(LIBRARY_LAYOUT)
    assert all(set(t) >= TRACK_FIELDS for t in tracks)

    status = json.loads(run_cli("--db", str(db), "status", "--json").stdout)
    assert status["tracks"] == len(LIBRARY_LAYOUT)
    assert status["db"] == str(db) and status["schema_version"] >= 1
    assert status["failed"][0]["path"].endswith("junk.mp3")
    assert "not an audio file" in status["failed"][0]["reason"]

    text = run_cli("--db", str(db), "status")
    assert text.returncode == 0 and "junk.mp3" in text.stdout


def test_segue_db_environment_variable(music: Path, tmp_path: Path) -> None:
    db = tmp_path / "env.db"
    result = run_cli("scan", "--no-analysis", str(music), env={"SEGUE_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert db.exists()


def test_unwritable_database_is_a_clear_user_error(music: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    result = run_cli("--db", str(blocker / "library.db"), "scan", "--no-analysis", str(music))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot open the library database" in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_folder_is_a_user_error(db: Path, tmp_path: Path) -> None:
    result = run_cli("--db", str(db), "scan", "--no-analysis", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"segue: not a folder: {tmp_path / 'nope'}"


def _big_library(root: Path, n: int) -> None:
    for i in range(n):
        write_audio(root / f"album {i % 5}" / f"track {i:03d}.flac", seconds=2.0, seed=i)


def _db_state(db: Path) -> tuple[str, int, int]:
    conn = sqlite3.connect(db)
    try:
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='tracks'").fetchone():
            return ok, 0, 0  # killed before the schema's transaction committed
        count = conn.execute("SELECT count(*) FROM tracks").fetchone()[0]
        distinct = conn.execute("SELECT count(DISTINCT path) FROM tracks").fetchone()[0]
        return ok, count, distinct
    finally:
        conn.close()


@pytest.mark.slow
def test_kill_9_at_several_points_then_rescan(tmp_path: Path) -> None:
    music = tmp_path / "music"
    n = 60
    _big_library(music, n)
    db = tmp_path / "lib.db"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "segue.cli", "--db", str(db), "scan", "--no-analysis", "--workers", "2", str(music)]
    counts = []
    for delay in (0.6, 1.2, 1.8, 2.4):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.kill()  # SIGKILL: no cleanup, no final commit
        proc.wait()
        if db.exists():
            ok, count, distinct = _db_state(db)
            assert ok == "ok" and count == distinct
            counts.append(count)
    # Finished work survives each kill: the library only grows across the runs.
    assert counts == sorted(counts)
    result = subprocess.run(cmd + ["--json"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["added"] + report["unchanged"] == n
    ok, count, distinct = _db_state(db)
    assert (ok, count, distinct) == ("ok", n, n)


def test_ctrl_c_saves_finished_work_and_exits_130(tmp_path: Path) -> None:
    music = tmp_path / "music"
    n = 120  # enough that the interrupt usually lands mid-scan, even on an idle machine
    _big_library(music, n)
    db = tmp_path / "lib.db"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "segue.cli", "--db", str(db), "scan", "--no-analysis", "--workers", "2", str(music)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the first files are committed, then interrupt as Ctrl-C would.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if db.exists() and _db_state(db)[1] > 0:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    ok, count, _ = _db_state(db)
    assert ok == "ok"
    if proc.returncode == 130:
        assert "run the same command again" in err
        assert 0 < count < n
    else:  # the scan won the race: it finished, and the signal met it on its way out
        assert proc.returncode in (0, -signal.SIGINT) and count == n


def test_scan_dev_corpus_matches_manifest(tmp_path: Path) -> None:
    corpus = corpus_or_skip()
    db = tmp_path / "corpus.db"
    result = run_cli("--db", str(db), "scan", "--no-analysis", "--json", str(corpus))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["failed"] == 0
    tracks = {t["path"]: t for t in json.loads(run_cli("--db", str(db), "tracks", "--json").stdout)}
    with open(corpus / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(tracks) == len(rows)
    for row in rows:
        track = tracks[str(corpus / row["path"])]
        assert (track["artist"] or "") == row["artist"]  # one row has no artist tag
        assert track["album"] == row["album"]
        assert track["title"] == row["title"]
        assert track["duration"] == pytest.approx(float(row["duration"]), abs=0.5)


def test_scan_reports_progress_on_stderr(music: Path, db: Path) -> None:
    result = run_cli("--db", str(db), "scan", "--no-analysis", "--workers", "1", str(music))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # stdout is reserved for --json
    n = len(LIBRARY_LAYOUT)
    progress = [line for line in result.stderr.splitlines() if line.startswith("scan: ")]
    assert progress and progress[-1].startswith(f"scan: {n}/{n} files")
    assert "files/s" in progress[-1] and "ETA 0:00" in progress[-1]


@pytest.mark.parametrize(
    "args", [("scan", "--workers", "0", "."), ("bogus",), ("playlist",), ("similar", "1", "-n", "x")]
)
def test_bad_arguments_exit_1_with_usage(args: tuple[str, ...], db: Path) -> None:
    result = run_cli("--db", str(db), *args)
    assert result.returncode == 1
    assert "usage:" in result.stderr and "error:" in result.stderr
