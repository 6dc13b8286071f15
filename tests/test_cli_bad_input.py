"""Bad input of every kind gets one line and exit 1, caught before long work starts (issue 13):
damaged and read-only libraries, output paths, typed ranges, fuzzy seeds, short playlists, a
busy port, labels that are not UTF-8, covers too big to keep."""

from __future__ import annotations

import io
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from segue import open_library

from audio_factory import tag_file, write_audio
from conftest import REPO, build_library, run_cli


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("badinput")
    music = root / "music"
    build_library(music, seconds=5.0)
    db = root / "lib.db"
    with open_library(db) as lib:
        lib.scan([music], progress=False)
    return music, db


def one_line_failure(result: subprocess.CompletedProcess, *needles: str) -> str:
    """Exit 1 with one line on stderr (usage lines aside) that holds every needle."""
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("segue")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def copy_db(db: Path, dest: Path) -> Path:
    """A standalone copy of the library (WAL checkpointed into the main file first)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, dest / "lib.db")
    return dest / "lib.db"


# -- damaged and read-only libraries -------------------------------------------------------


def test_a_damaged_library_is_named_not_a_traceback(library: tuple[Path, Path], tmp_path: Path) -> None:
    music, db = library
    broken = copy_db(db, tmp_path / "broken")
    size = broken.stat().st_size
    with open(broken, "r+b") as f:  # 64 KB of garbage in the middle of the file
        f.seek(size // 2 - 32 * 1024)
        f.write(os.urandom(64 * 1024))
    status = run_cli("--db", str(broken), "status")
    line = one_line_failure(status, "damaged", ".recover")
    assert "integrity: ok" not in status.stdout and str(broken) in line
    for args in (["similar", "1"], ["playlist", "1", "-n", "3"], ["eval"],
                 ["map", "-o", str(tmp_path / "m.html")], ["scan", str(music)]):  # fmt: skip
        one_line_failure(run_cli("--db", str(broken), *args), "damaged")
    assert not (tmp_path / "m.html").exists()


@pytest.fixture
def open_tmp() -> Path:
    """A temporary folder another user can reach (pytest's own are private to this user)."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="segue-perm-"))
    os.chmod(folder, 0o755)
    yield folder
    for sub in folder.rglob("*"):
        if sub.is_dir():
            os.chmod(sub, 0o755)
    shutil.rmtree(folder, ignore_errors=True)


def as_other_user(args: list[str], home: Path) -> subprocess.CompletedProcess:
    """``segue ARGS`` as a user who cannot write the library (root can write anything, so a
    root test drops to uid 65534 with setpriv, as a person's account would be)."""
    cmd = [sys.executable, "-m", "segue.cli", *args]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot act as a user without write access")
        private = [p for p in (REPO, *REPO.parents) if not os.stat(p).st_mode & 0o001]
        if private:  # a checkout under a private folder: another user cannot run segue from it
            pytest.skip(f"{private[-1]} is closed to other users, so uid 65534 cannot run this checkout")
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "HOME": str(home),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data")}  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


def test_a_read_only_library_is_read_not_refused(library: tuple[Path, Path], open_tmp: Path) -> None:
    music, db = library
    tmp_path = open_tmp
    folder = tmp_path / "ro"
    ro = copy_db(db, folder)
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(home, 0o777)
    os.chmod(ro, 0o444)
    os.chmod(folder, 0o555)
    try:
        status = as_other_user(["--db", str(ro), "status"], home)
        assert status.returncode == 0, status.stderr
        assert "read-only" in status.stdout and "integrity: ok" in status.stdout
        similar = as_other_user(["--db", str(ro), "similar", "1", "-n", "2", "--json"], home)
        assert similar.returncode == 0, similar.stderr
        one_line_failure(as_other_user(["--db", str(ro), "scan", "--no-analysis", str(music)], home),
                         "read-only")  # fmt: skip
    finally:
        os.chmod(folder, 0o755)


# -- output paths: one rule, checked before the work ------------------------------------------


def test_outputs_are_checked_before_the_work(library: tuple[Path, Path], tmp_path: Path) -> None:
    music, db = library
    listing = tmp_path / "in.m3u"
    listing.write_text("\n".join(str(p) for p in sorted(music.rglob("*.mp3")) + sorted(music.rglob("*.flac"))))
    folder = tmp_path / "a folder.mp3"
    folder.mkdir()
    started = time.monotonic()
    one_line_failure(run_cli("--db", str(db), "mix", str(listing), "-o", str(folder)), "is a folder")
    assert time.monotonic() - started < 30 and not list(tmp_path.glob("*.cue"))
    one_line_failure(run_cli("--db", str(db), "mix", str(listing), "-o", str(tmp_path / "x.exe")), ".exe")
    one_line_failure(run_cli("--db", str(db), "map", "-o", str(folder)), "is a folder")
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    one_line_failure(run_cli("--db", str(db), "mixtape", "1", "-n", "2", "-o", str(taken)), "file of that name")
    one_line_failure(run_cli("--db", str(db), "journey", "1", "2", "--mix", str(folder)), "is a folder")
    # the rule: missing folders are made, for every output alike
    deep = tmp_path / "new" / "deeper" / "x.m3u"
    made = run_cli("--db", str(db), "playlist", "1", "-n", "2", "-o", str(deep))
    assert made.returncode == 0, made.stderr
    assert deep.exists()


def test_a_read_only_output_folder_is_refused_first(library: tuple[Path, Path], open_tmp: Path) -> None:
    _, db = library
    tmp_path = open_tmp
    home = tmp_path / "home"
    home.mkdir()
    shared = copy_db(db, tmp_path / "rw")
    os.chmod(shared.parent, 0o777)
    os.chmod(shared, 0o666)
    os.chmod(home, 0o777)
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    os.chmod(locked, 0o555)
    for args in (["map", "-o", str(locked / "m.html")], ["art", "sample", "-o", str(locked / "s")],
                 ["playlist", "1", "-n", "2", "-o", str(locked / "p.m3u")]):  # fmt: skip
        one_line_failure(as_other_user(["--db", str(shared), *args], home), "read-only")


# -- what people type -------------------------------------------------------------------------


def test_the_readme_loudness_range_can_be_typed(library: tuple[Path, Path]) -> None:
    _, db = library
    typed = run_cli("--db", str(db), "playlist", "1", "-n", "3", "--loudness", "-60:-1", "--json")
    joined = run_cli("--db", str(db), "playlist", "1", "-n", "3", "--loudness=-60..-1", "--json")
    assert typed.returncode == 0, typed.stderr
    assert typed.stdout == joined.stdout
    none = run_cli("--db", str(db), "playlist", "1", "-n", "3", "--loudness", "-6:-1")
    assert none.returncode == 0 and "loudness -6--1 LUFS" in none.stderr


def test_fuzzy_seeds_say_what_they_matched_or_refuse(library: tuple[Path, Path]) -> None:
    _, db = library
    one_line_failure(run_cli("--db", str(db), "similar", "Nobody Here - Nothing At All"), "closest:")
    one_line_failure(run_cli("--db", str(db), "similar", "-5"), "no track matches '-5'")
    hit = run_cli("--db", str(db), "similar", "ärtist one - first song", "-n", "2")
    assert hit.returncode == 0, hit.stderr
    assert "seed: Ärtist One - First Song" in hit.stderr


def test_short_playlists_say_why(library: tuple[Path, Path]) -> None:
    _, db = library
    tempo = run_cli("--db", str(db), "playlist", "1", "-n", "5", "--bpm", "290-300")
    assert tempo.returncode == 0
    assert "0 of the 5 tracks asked for" in tempo.stderr and "tempo 290-300 BPM" in tempo.stderr
    many = run_cli("--db", str(db), "playlist", "1", "-n", "1000", "--artist-gap", "0")
    assert many.returncode == 0 and "the library has only" in many.stderr


def test_serve_on_a_busy_port_fails_at_once(library: tuple[Path, Path]) -> None:
    _, db = library
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run_cli("--db", str(db), "serve", "--port", str(port))
    line = one_line_failure(result, "cannot listen", str(port))
    assert "serving" not in result.stderr and time.monotonic() - started < 60, line


def test_labels_that_are_not_utf8(library: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = library
    labels = tmp_path / "labels.csv"
    labels.write_bytes("path,genre\n/x/ünïcödé.mp3,Rock\n".encode("latin-1"))
    one_line_failure(run_cli("--db", str(db), "eval", "--labels", str(labels)), "not UTF-8")


def test_covers_too_big_to_keep_are_reduced_or_reported(tmp_path: Path) -> None:
    from segue.library.tags import MAX_COVER_BYTES, REDUCED_COVER_SIDE, load_cover

    rng = __import__("numpy").random.default_rng(0)
    noise = rng.integers(0, 255, (3000, 3000, 3), dtype="uint8")  # noise: JPEG cannot shrink it
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG", quality=100)
    big_jpeg = buf.getvalue()
    assert len(big_jpeg) > MAX_COVER_BYTES / 8
    said: list[str] = []
    import segue.library.tags as tags

    cap = tags.MAX_COVER_BYTES
    tags.MAX_COVER_BYTES = len(big_jpeg) - 1  # over the cap, without writing 16 MB in a test
    try:
        kept = load_cover(big_jpeg, said)
    finally:
        tags.MAX_COVER_BYTES = cap
    assert kept is not None and max(kept.width, kept.height) == REDUCED_COVER_SIDE
    assert said and "reduced" in said[0]
    said.clear()
    bomb = io.BytesIO()
    Image.new("L", (15000, 15000)).save(bomb, "PNG")  # 225 Mpixels: refused by the decoder
    assert load_cover(bomb.getvalue(), said) is None and said and "left out" in said[0]
    # and a scan says so for the file that carries it
    music = tmp_path / "m"
    write_audio(music / "big.mp3", seconds=2.0, seed=1)
    tag_file(music / "big.mp3", title="Big", artist="A", cover=bomb.getvalue())
    with open_library(tmp_path / "lib.db") as lib:
        report = lib.scan([music], analyse=False, progress=False)
    assert any("left out" in reason for _, reason in report.warnings), report.warnings
