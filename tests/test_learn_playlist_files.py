"""Playlist files in the scanned folders are recorded by the scan, entries and unresolved ones."""

from __future__ import annotations

import os
from pathlib import Path

from segue.library.playlist_files import read_entries, read_playlist
from segue.library.scan import Scanner
from segue.library.store import Store
from segue.playlist import export

from conftest import build_library


def scan(store: Store, root: Path) -> None:
    Scanner(store, workers=1, progress=False).scan([root])


def test_scan_records_playlist_files_with_unresolved_entries(tmp_path):
    root = tmp_path / "Music"
    paths = build_library(root, seconds=1.0)
    album = root / "Ärtist One" / "Album A"
    lists = root / "Lists"
    lists.mkdir()
    # relative paths (with ..), an absolute path, a URL, a file that is not there
    (lists / "mixed.m3u8").write_text(
        "#EXTM3U\n#EXTINF:1,x\n../Ärtist One/Album A/01 First Song.mp3\n"
        f"{paths['日本の音楽/アルバム/夜.ogg']}\n"
        "http://radio.example/stream\n"
        "../Gone/missing.mp3\n",
        encoding="utf-8",
    )
    (album / "album.pls").write_text(
        "[playlist]\nFile1=02 Second Song.flac\nFile2=01 First Song.mp3\nNumberOfEntries=2\n",
        encoding="utf-8",
    )
    (lists / "broken.xspf").write_text("<playlist><trackList>", encoding="utf-8")
    store = Store(tmp_path / "lib.db")
    scan(store, root)

    files = {Path(f.path).name: f for f in store.playlist_files()}
    assert set(files) == {"mixed.m3u8", "album.pls", "broken.xspf"}
    assert files["mixed.m3u8"].format == "m3u8" and files["mixed.m3u8"].error is None
    assert (files["mixed.m3u8"].entries, files["mixed.m3u8"].resolved) == (4, 2)
    assert (files["album.pls"].entries, files["album.pls"].resolved) == (2, 2)
    assert "not valid XSPF" in files["broken.xspf"].error and files["broken.xspf"].entries == 0

    entries = store.playlist_entries(files["mixed.m3u8"].id)
    assert [e.position for e in entries] == [0, 1, 2, 3]
    first = store.track_by_path(str(paths["Ärtist One/Album A/01 First Song.mp3"]))
    assert entries[0].track_id == first.id and entries[0].audio_hash == first.audio_hash
    assert entries[1].track_id is not None
    assert entries[2].entry == "http://radio.example/stream" and entries[2].path is None
    assert entries[3].path == str(root / "Gone" / "missing.mp3") and entries[3].track_id is None
    pls = store.playlist_entries(files["album.pls"].id)
    assert [Path(e.path).name for e in pls] == ["02 Second Song.flac", "01 First Song.mp3"]

    # The missing file appears: the entry resolves on the next scan, with no re-read needed.
    (root / "Gone").mkdir()
    os.link(paths["Other/aiff file.aiff"], root / "Gone" / "missing.mp3")
    scan(store, root)
    files = {Path(f.path).name: f for f in store.playlist_files()}
    assert files["mixed.m3u8"].resolved == 3

    # A deleted playlist file is forgotten; a changed one is read again.
    (album / "album.pls").unlink()
    (lists / "mixed.m3u8").write_text("../Other/aiff file.aiff\n", encoding="utf-8")
    os.utime(lists / "mixed.m3u8", ns=(1, 1))
    scan(store, root)
    files = {Path(f.path).name: f for f in store.playlist_files()}
    assert set(files) == {"mixed.m3u8", "broken.xspf"}
    assert (files["mixed.m3u8"].entries, files["mixed.m3u8"].resolved) == (1, 1)
    store.close()


def test_the_reader_moved_down_and_is_still_exported(tmp_path):
    pl = tmp_path / "a.m3u"
    pl.write_text("x.mp3\nhttps://example.org/s\n", encoding="utf-8")
    assert export.read_playlist is read_playlist
    assert read_playlist(pl) == [str(tmp_path / "x.mp3")]
    assert read_entries(pl) == [("x.mp3", str(tmp_path / "x.mp3")), ("https://example.org/s", None)]
