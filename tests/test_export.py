import os
import xml.dom.minidom
import xml.etree.ElementTree as ET

import pytest

from segue.errors import UserError
from segue.playlist.catalog import Catalog
from segue.playlist.export import (
    PlaylistEntry,
    entries_from_catalog,
    read_playlist,
    write_playlist,
)

HOSTILE_NAMES = [
    "plain.mp3",
    "with space & ampersand.flac",
    "#1 hit.mp3",
    "100% <pure> \"quotes\" 'single'.ogg",
    "日本語の歌.m4a",
    "Ünïcödé – dash.opus",
    "new\nline.mp3",
    " leading space.mp3",
]


@pytest.fixture
def library(tmp_path):
    music = tmp_path / "music" / "Björk & Friends"
    music.mkdir(parents=True)
    entries = []
    for k, name in enumerate(HOSTILE_NAMES):
        p = music / name
        p.write_bytes(b"")
        entries.append(
            PlaylistEntry(
                path=str(p),
                title=f"Title {k}\nsecond line <b>&amp;</b> \x01 日本",
                artist=f"Artist {k} & <Co>",
                duration=181.6 + k,
            )
        )
    return tmp_path, entries


@pytest.mark.parametrize("ext", [".m3u", ".m3u8", ".xspf", ".pls"])
@pytest.mark.parametrize("absolute", [False, True])
def test_round_trip_resolves_to_the_same_existing_files(library, ext, absolute):
    tmp, entries = library
    out = tmp / "lists" / f"mine{ext}"
    written = write_playlist(out, entries, absolute=absolute, title="My <mix> & more\nok")
    assert written == out
    paths = read_playlist(out)
    assert paths == [e.path for e in entries]
    assert all(os.path.isfile(p) for p in paths)
    assert [f for f in os.listdir(out.parent) if f != out.name] == []  # no temp files left


def test_m3u_lines(library):
    tmp, entries = library
    out = tmp / "a.m3u8"
    write_playlist(out, entries[:3])
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    assert lines[1].startswith("#EXTINF:182,Artist 0 & <Co> - Title 0 second line <b>&amp;</b>")
    assert "\x01" not in lines[1]
    assert lines[2] == os.path.join("music", "Björk & Friends", "plain.mp3")  # relative
    assert lines[6].endswith("#1 hit.mp3") and not lines[6].startswith("#")
    assert len(lines) == 7
    write_playlist(out, entries[:1], absolute=True)
    assert out.read_text(encoding="utf-8").splitlines()[2] == entries[0].path


def test_xspf_is_valid_xml_with_escaped_text(library):
    tmp, entries = library
    out = tmp / "x.xspf"
    write_playlist(out, entries, title="A & B")
    xml.dom.minidom.parse(str(out))  # a second, strict parser
    root = ET.parse(out).getroot()
    ns = {"x": "http://xspf.org/ns/0/"}
    assert root.tag == "{http://xspf.org/ns/0/}playlist" and root.get("version") == "1"
    assert root.find("x:title", ns).text == "A & B"
    tracks = root.findall("x:trackList/x:track", ns)
    assert len(tracks) == len(entries)
    assert tracks[0].find("x:creator", ns).text == "Artist 0 & <Co>"
    assert tracks[0].find("x:duration", ns).text == "181600"
    loc = tracks[4].find("x:location", ns).text
    assert " " not in loc and "%E6%97%A5" in loc  # percent-encoded UTF-8
    write_playlist(out, entries[:1], absolute=True)
    loc = ET.parse(out).getroot().find("x:trackList/x:track/x:location", ns).text
    assert loc.startswith("file:///")


def test_pls_layout(library):
    tmp, entries = library
    out = tmp / "p.pls"
    write_playlist(out, entries[:2])
    text = out.read_text(encoding="utf-8").splitlines()
    assert text[0] == "[playlist]"
    assert "NumberOfEntries=2" in text and "Version=2" in text
    assert any(line.startswith("Length1=182") for line in text)


def test_format_override_and_unknown_extension(library):
    tmp, entries = library
    out = tmp / "list.txt"
    with pytest.raises(UserError, match="use .m3u, .m3u8, .xspf or .pls"):
        write_playlist(out, entries)
    write_playlist(out, entries[:2], fmt="xspf")
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    assert read_playlist(out) == [e.path for e in entries[:2]]
    with pytest.raises(UserError, match="unknown playlist format"):
        write_playlist(out, entries, fmt="wpl")


def test_atomic_write_keeps_the_old_file_on_failure(library, monkeypatch):
    tmp, entries = library
    out = tmp / "keep.m3u"
    write_playlist(out, entries[:1])
    before = out.read_bytes()

    def boom(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(UserError, match="No space left"):
        write_playlist(out, entries)
    assert out.read_bytes() == before
    assert sorted(os.listdir(tmp)) == ["keep.m3u", "music"]


def test_readers_skip_urls_and_resolve_relative(tmp_path):
    pl = tmp_path / "sub" / "list.m3u"
    pl.parent.mkdir()
    pl.write_text(
        "#EXTM3U\n#EXTINF:10,x\n../a.mp3\nhttp://radio.example/stream\n\nfile:///abs/b%20c.mp3\n",
        encoding="utf-8",
    )
    assert read_playlist(pl) == [str(tmp_path / "a.mp3"), "/abs/b c.mp3"]
    latin = tmp_path / "old.m3u"
    latin.write_bytes("caf\xe9.mp3\n".encode("latin-1"))
    assert read_playlist(latin) == [str(tmp_path / "café.mp3")]
    with pytest.raises(UserError, match="no such playlist"):
        read_playlist(tmp_path / "missing.m3u")
    bad = tmp_path / "bad.xspf"
    bad.write_text("<playlist><trackList>", encoding="utf-8")
    with pytest.raises(UserError, match="not valid XSPF"):
        read_playlist(bad)


def test_entries_from_catalog(tmp_path):
    cat = Catalog.synthetic(5, 8, seed=0)
    entries = entries_from_catalog(cat, [0, 3])
    assert entries[1].path == cat.path[3] and entries[1].artist == cat.artist[3]
    out = write_playlist(tmp_path / "c.m3u", entries, absolute=True)
    assert read_playlist(out) == [cat.path[0], cat.path[3]]
