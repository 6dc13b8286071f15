"""Scanning real encoded files into the library: formats, tags, covers, incremental rescans."""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from segue import open_library
from segue.library.scan import Scanner, read_file
from segue.library.store import Store

from audio_factory import tag_file, write_audio
from conftest import LIBRARY_LAYOUT


def scan(db: Path, *folders: Path, **kw):
    with open_library(db) as lib:
        return lib.scan(folders, progress=False, analyse=False, **kw)


def tracks_by_name(db: Path) -> dict[str, dict]:
    with open_library(db) as lib:
        return {Path(t["path"]).name: t for t in lib.tracks()}


def test_scan_reads_every_format_with_tags_and_durations(music: Path, db: Path) -> None:
    report = scan(db, music, workers=2)
    assert report.added == len(LIBRARY_LAYOUT)
    assert report.failed == 0
    tracks = tracks_by_name(db)
    assert set(tracks) == {Path(rel).name for rel, _, _ in LIBRARY_LAYOUT}
    first = tracks["01 First Song.mp3"]
    assert (first["title"], first["artist"], first["album"]) == ("First Song", "Ärtist One", "Album A")
    assert (first["genre"], first["year"], first["track_no"]) == ("Rock", 2001, 1)
    assert tracks["夜.ogg"]["artist"] == "山田"
    assert tracks["windows media.wma"]["title"] == "Wma"
    assert tracks["aiff file.aiff"]["artist"] == "Aiff Artist"
    for t in tracks.values():
        assert t["duration"] == pytest.approx(3.0, abs=0.1), t["path"]
        assert t["analysed"] is False and t["error"] is None
    formats = {t["format"] for t in tracks.values()}
    assert formats == {"mp3", "flac", "ogg", "mp4", "wav", "aiff", "asf"}


def test_untagged_file_falls_back_to_folder_and_file_names(music: Path, db: Path) -> None:
    scan(db, music)
    plain = tracks_by_name(db)["07 Plain Wave.wav"]
    assert plain["title"] == "Plain Wave"
    assert plain["album"] == "Untagged Album"
    assert plain["artist"] == "Untagged Artist"
    assert plain["track_no"] == 7


def test_covers_embedded_and_from_folder_stored_once(music: Path, db: Path) -> None:
    scan(db, music)
    tracks = tracks_by_name(db)
    with Store(db) as store:
        embedded = store.cover(tracks["01 First Song.mp3"]["cover"])
        folder = store.cover(tracks["02 Second Song.flac"]["cover"])
        assert embedded is not None and folder is not None
        assert embedded[1] != folder[1]  # the mp3's own picture wins over Cover.JPG
        assert tracks["夜.ogg"]["cover"] and tracks["opus track.opus"]["cover"]
        assert tracks["aac track.m4a"]["cover"]
        assert tracks["07 Plain Wave.wav"]["cover"] is None
        # Five distinct images: four embedded and one folder image.
        assert store.count_covers() == 5


def test_format_is_decided_by_content_not_extension(music: Path, db: Path) -> None:
    ogg = music / "日本の音楽/アルバム/夜.ogg"
    shutil.copy(ogg, music / "mislabelled.mp3")
    (music / "notes.mp3").write_text("these are my notes, not music\n" * 20)
    report = scan(db, music)
    tracks = tracks_by_name(db)
    assert tracks["mislabelled.mp3"]["format"] == "ogg"
    assert tracks["mislabelled.mp3"]["duration"] == pytest.approx(3.0, abs=0.1)
    reasons = dict(report.errors)
    assert reasons[str(music / "notes.mp3")] == "not an audio file (content looks like text)"


def test_hostile_files_are_reported_and_the_scan_goes_on(music: Path, db: Path) -> None:
    bad = music / "bad"
    bad.mkdir()
    (bad / "empty.flac").write_bytes(b"")
    good_mp3 = music / "Ärtist One/Album A/01 First Song.mp3"
    data = good_mp3.read_bytes()
    (bad / "header only.mp3").write_bytes(data[:64])
    write_audio(bad / "long.mp3", seconds=8, seed=42)
    long_data = (bad / "long.mp3").read_bytes()
    (bad / "long.mp3").write_bytes(long_data[: len(long_data) // 2])  # truncated mid-stream
    write_audio(bad / "huge tag.flac", seconds=2, seed=43)
    tag_file(bad / "huge tag.flac", title="x" * (10 * 1024 * 1024), artist="Big")
    os.symlink(bad, bad / "loop")  # a folder symlink pointing to itself
    os.symlink(bad / "self.ogg", bad / "self.ogg")  # a file symlink loop
    (bad / "random.ogg").write_bytes(os.urandom(5000))

    report = scan(db, music, workers=2)
    reasons = {Path(p).name: r for p, r in report.errors}
    assert reasons["empty.flac"] == "empty file"
    assert "no audio" in reasons["header only.mp3"] or "only an ID3" in reasons["header only.mp3"]
    assert reasons["self.ogg"] == "symlink loop"
    assert "random.ogg" in reasons
    tracks = tracks_by_name(db)
    assert len(tracks) == len(LIBRARY_LAYOUT) + 2  # truncated and huge-tag files are playable
    assert tracks["huge tag.flac"]["artist"] == "Big"
    assert len(tracks["huge tag.flac"]["title"]) == 1000
    assert 3.0 < tracks["long.mp3"]["duration"] < 5.0
    warnings = {Path(p).name: r for p, r in report.warnings}
    assert "cut from" in warnings["huge tag.flac"]
    # Each file appears once although the folder is reachable through the loop.
    with open_library(db) as lib:
        status = lib.status()
    assert {Path(f["path"]).name for f in status["failed"]} >= {"empty.flac", "self.ogg"}
    assert sum(1 for t in tracks.values() if t["path"].endswith("long.mp3")) == 1


def test_unreadable_file_is_reported(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if os.geteuid() == 0:
        # pytest's own tmp folders are private to root; the unprivileged child needs its own.
        tmp_path = Path(tempfile.mkdtemp(prefix="segue-unreadable-"))
        request.addfinalizer(lambda: shutil.rmtree(tmp_path, ignore_errors=True))
        os.chmod(tmp_path, 0o777)
    music = tmp_path / "m"
    write_audio(music / "ok.flac", seconds=2, seed=1)
    write_audio(music / "locked.flac", seconds=2, seed=2)
    os.chmod(music / "locked.flac", 0)
    db = tmp_path / "db" / "lib.db"
    db.parent.mkdir()
    if os.geteuid() != 0:
        report = scan(db, music).as_dict()
    else:
        # Root reads anything: scan in a forked child that has dropped to an unprivileged user.
        for p in (tmp_path, music, db.parent):
            os.chmod(p, 0o777)
        out = tmp_path / "report.json"
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 1
            try:
                os.setgid(65534)
                os.setuid(65534)
                out.write_text(json.dumps(scan(db, music).as_dict()))
                code = 0
            except BaseException as exc:
                print(f"child failed: {exc!r}", file=sys.stderr)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        report = json.loads(out.read_text())
    assert report["added"] == 1
    assert report["errors"] == [{"path": str(music / "locked.flac"), "reason": "permission denied"}]


def test_file_deleted_during_the_scan(music: Path, db: Path, tmp_path: Path) -> None:
    victim = music / "Other/aiff file.aiff"

    class DeletingScanner(Scanner):
        def _read_all(self, paths: list[str]) -> None:
            victim.unlink()  # the walk has listed it; it goes before it is read
            super()._read_all(paths)

    with Store(db) as store:
        report = DeletingScanner(store, workers=1, progress=False).scan([music])
    assert report.vanished == 1 and report.failed == 0
    assert report.added == len(LIBRARY_LAYOUT) - 1
    assert read_file(str(victim)).vanished


def test_rescan_skips_unchanged_files_without_reading_them(music: Path, db: Path) -> None:
    scan(db, music)
    flac = music / "Ärtist One/Album A/02 Second Song.flac"
    st = flac.stat()
    # Same size and mtime but garbage inside: an incremental scan must not notice.
    flac.write_bytes(b"\x00" * st.st_size)
    os.utime(flac, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = scan(db, music)
    assert report.unchanged == len(LIBRARY_LAYOUT)
    assert report.added == report.updated == report.failed == 0
    # --full reads everything again and now sees the damage.
    report = scan(db, music, full=True)
    assert [Path(p).name for p, _ in report.errors] == ["02 Second Song.flac"]
    assert "02 Second Song.flac" not in tracks_by_name(db)


def test_move_rename_retag_and_delete_keep_identity(music: Path, db: Path) -> None:
    scan(db, music)
    before = tracks_by_name(db)
    with Store(db) as store:
        store.record_analysis(before["夜.ogg"]["audio_hash"], "musicnn", "1", {})

    (music / "moved").mkdir()
    os.rename(music / "日本の音楽/アルバム/夜.ogg", music / "moved/renamed.ogg")
    tag_file(music / "Other/aiff file.aiff", title="Retitled")
    os.remove(music / "Other/windows media.wma")
    report = scan(db, music)
    assert (report.moved, report.updated, report.removed, report.added) == (1, 1, 1, 0)

    after = tracks_by_name(db)
    assert after["renamed.ogg"]["id"] == before["夜.ogg"]["id"]
    assert after["renamed.ogg"]["analysed"] is True  # the analysis followed the move
    assert after["aiff file.aiff"]["id"] == before["aiff file.aiff"]["id"]
    assert after["aiff file.aiff"]["title"] == "Retitled"
    assert after["aiff file.aiff"]["audio_hash"] == before["aiff file.aiff"]["audio_hash"]
    assert "windows media.wma" not in after and "夜.ogg" not in after


def test_exact_duplicates_are_grouped(music: Path, db: Path) -> None:
    src = music / "Ärtist One/Album A/01 First Song.mp3"
    copy = music / "Copies/same song other tags.mp3"
    copy.parent.mkdir()
    shutil.copy(src, copy)
    tag_file(copy, title="A Different Title", artist="Someone Else")
    report = scan(db, music)
    assert report.duplicates == 1
    with open_library(db) as lib:
        status = lib.status()
        groups = lib.store.duplicate_groups()
    assert status["duplicate_groups"] == 1 and status["duplicate_files"] == 1
    tracks = tracks_by_name(db)
    assert sorted(groups[0]) == sorted(
        [tracks["01 First Song.mp3"]["id"], tracks["same song other tags.mp3"]["id"]]
    )


def test_interrupted_scan_deletes_nothing(music: Path, db: Path) -> None:
    scan(db, music)
    os.remove(music / "Other/windows media.wma")

    class InterruptedScanner(Scanner):
        def _read_all(self, paths: list[str]) -> None:
            raise KeyboardInterrupt

    from segue.library.scan import ScanInterrupted

    with Store(db) as store, pytest.raises(ScanInterrupted):
        InterruptedScanner(store, progress=False).scan([music])
    assert "windows media.wma" in tracks_by_name(db)  # only a complete walk removes files


def test_an_interrupt_inside_a_write_transaction_counts_nothing_it_rolled_back(
    music: Path, db: Path
) -> None:
    # Ctrl-C used to land anywhere, also inside the transaction that writes a batch of files:
    # the batch was rolled back but its files had been counted as added already.
    from segue.library.scan import ScanInterrupted

    class InterruptedWhileWriting(Scanner):
        applied = 0

        def _apply(self, result, *args) -> None:
            self.applied += 1
            if self.applied == 3:
                assert self.store.conn.in_transaction
                raise KeyboardInterrupt
            super()._apply(result, *args)

    with Store(db) as store, pytest.raises(ScanInterrupted) as stop:
        InterruptedWhileWriting(store, workers=2, progress=False).scan([music])
    with Store(db) as store:
        assert stop.value.report.added == store.count_tracks() < len(LIBRARY_LAYOUT)


def test_wma_embedded_picture_is_its_cover(tmp_path: Path) -> None:
    import hashlib
    import struct

    from mutagen.asf import ASF, ASFByteArrayAttribute

    from audio_factory import png_bytes

    wma = write_audio(tmp_path / "m" / "song.wma", seconds=2, seed=3)
    image = png_bytes((1, 2, 3))
    # WM/Picture: type, size, UTF-16 mime and description (NUL-terminated), then the bytes.
    blob = (bytes([3]) + struct.pack("<I", len(image)) + "image/png\0".encode("utf-16-le")
            + "\0".encode("utf-16-le") + image)  # fmt: skip
    audio = ASF(wma)
    audio["WM/Picture"] = [ASFByteArrayAttribute(blob)]
    audio.save()
    db = tmp_path / "lib.db"
    scan(db, tmp_path / "m")
    track = tracks_by_name(db)["song.wma"]
    assert track["cover"] == hashlib.sha256(image).hexdigest()


def test_old_schema_is_migrated_forward(tmp_path: Path) -> None:
    import sqlite3

    from segue.library.store import MIGRATIONS, SCHEMA_VERSION

    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[0])
    conn.execute("INSERT INTO meta(key, value) VALUES('schema_version', '1')")
    conn.commit()
    conn.close()
    with Store(db) as store:
        assert store.schema_version() == SCHEMA_VERSION >= 2
        store.put_descriptors("abc", {"bpm": 120.0})  # a table schema 2 added
        assert store.descriptors() == {"abc": {"bpm": 120.0}}


def test_newer_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    from segue.errors import UserError

    db = tmp_path / "new.db"
    with Store(db) as store:
        store.conn.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    with pytest.raises(UserError, match="newer than this segue understands"):
        Store(db)


def test_scan_workers_start_with_one_blas_thread(tmp_path: Path, monkeypatch) -> None:
    from scan_hooks import ProbeHook

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    for i in range(4):
        write_audio(tmp_path / "music" / f"{i}.flac", seconds=1.0, seed=i)
    with Store(tmp_path / "lib.db") as store:
        report = Scanner(store, workers=2, hook=ProbeHook(), progress=False).scan([tmp_path / "music"])
        assert report.analysed == 4
        threads = store.vectors("probe", "threads")
        analysed_in = store.vectors("probe", "analysed_in")
    assert len(threads) == 4 and {int(t[0]) for t in threads.values()} == {1}
    assert all(int(pid[0]) != os.getpid() for pid in analysed_in.values())  # really in the workers
    assert "OPENBLAS_NUM_THREADS" not in os.environ  # the scanning process is left as it was
