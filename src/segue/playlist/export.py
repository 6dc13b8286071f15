"""Playlist files: M3U/M3U8, XSPF and PLS writers.

Writers (:func:`write_playlist`)
    - the format comes from the extension unless ``fmt`` is given;
    - paths are relative to the playlist's folder by default (Deej-AI's semantics: the playlist
      can move with the music), absolute with ``absolute=True``; a track on another drive
      (Windows) is written absolute;
    - M3U and M3U8 are both written as UTF-8 (no BOM) with ``#EXTM3U`` and
      ``#EXTINF:<seconds>,<Artist> - <Title>``; line breaks in tags become spaces; a path that
      would read as a comment (starts with ``#``) is written ``./#...``; a path containing a
      line break is written as a percent-encoded ``file://`` URI;
    - XSPF is built with ElementTree (escaping ``<``, ``&``, quotes), locations are
      percent-encoded URIs (``file:///...`` when absolute, a relative reference otherwise),
      characters XML 1.0 forbids are dropped, durations in milliseconds;
    - PLS: ``[playlist]``, ``FileN``/``TitleN``/``LengthN``, ``NumberOfEntries``, ``Version=2``;
    - every write is atomic: a temporary file in the same folder, fsync, ``os.replace``; on any
      error the temporary file is removed and the old playlist (if any) is untouched.

The reader (:func:`read_playlist`: absolute, normalised paths for the four formats, relative
entries resolved against the playlist's folder, ``file://`` URIs decoded, other URLs skipped)
lives in :mod:`segue.library.playlist_files`, because the scan reads the playlist files it finds;
it is re-exported here for the callers that use a playlist as seeds.
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from segue.errors import UserError
from segue.files import atomic_write_text
from segue.library.playlist_files import read_playlist

__all__ = [
    "FORMATS",
    "PlaylistEntry",
    "atomic_write_text",
    "entries_from_catalog",
    "playlist_text",
    "read_playlist",
    "write_playlist",
]

FORMATS = {".m3u": "m3u", ".m3u8": "m3u8", ".xspf": "xspf", ".pls": "pls"}
XSPF_NS = "http://xspf.org/ns/0/"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]+")


@dataclass
class PlaylistEntry:
    path: str
    title: str | None = None
    artist: str | None = None
    duration: float | None = None  # seconds


def entries_from_catalog(catalog: Any, indices: Iterable[int]) -> list[PlaylistEntry]:
    """Entries for rows of a :class:`~segue.playlist.catalog.Catalog`."""
    out = []
    for i in indices:
        d = float(catalog.duration[i])
        out.append(
            PlaylistEntry(
                path=catalog.path[i],
                title=catalog.title[i] or None,
                artist=catalog.artist[i] or None,
                duration=d if math.isfinite(d) else None,
            )
        )
    return out


def _entry(e: Any) -> PlaylistEntry:
    if isinstance(e, PlaylistEntry):
        return e
    if isinstance(e, str | os.PathLike):
        return PlaylistEntry(path=os.fspath(e))
    if isinstance(e, dict):
        return PlaylistEntry(
            path=os.fspath(e["path"]), title=e.get("title"), artist=e.get("artist"), duration=e.get("duration")
        )
    return PlaylistEntry(
        path=os.fspath(e.path),
        title=getattr(e, "title", None),
        artist=getattr(e, "artist", None),
        duration=getattr(e, "duration", None),
    )


def _one_line(s: str | None) -> str:
    if not s:
        return ""
    return _XML_BAD.sub("", _LINE_BREAKS.sub(" ", str(s))).strip()


def _display(e: PlaylistEntry) -> str:
    a, t = _one_line(e.artist), _one_line(e.title)
    if a and t:
        return f"{a} - {t}"
    return t or a or os.path.splitext(os.path.basename(e.path))[0]


def _seconds(e: PlaylistEntry) -> int:
    d = e.duration
    if d is None:
        return -1
    try:
        d = float(d)
    except (TypeError, ValueError):
        return -1
    return int(round(d)) if math.isfinite(d) and d >= 0 else -1


def _target_path(track: str, folder: str, absolute: bool) -> tuple[str, bool]:
    """(path as written, is_absolute)."""
    p = os.path.abspath(os.path.expanduser(track))
    if absolute:
        return p, True
    try:
        return os.path.relpath(p, folder), False
    except ValueError:  # another drive on Windows
        return p, True


def _file_uri(path: str) -> str:
    return "file://" + quote(Path(path).as_posix() if os.sep == "\\" else path, safe="/")


def _rel_uri(rel: str) -> str:
    return quote(rel.replace(os.sep, "/"), safe="/")


def _m3u(entries: list[PlaylistEntry], folder: str, absolute: bool, title: str | None) -> str:
    lines = ["#EXTM3U"]
    if title:
        lines.append(f"#PLAYLIST:{_one_line(title)}")
    for e in entries:
        lines.append(f"#EXTINF:{_seconds(e)},{_display(e)}")
        p, is_abs = _target_path(e.path, folder, absolute)
        if _LINE_BREAKS.search(p) or p != p.strip():
            p = _file_uri(os.path.abspath(e.path))
        elif p.startswith("#"):
            p = "." + os.sep + p
        lines.append(p)
    return "\n".join(lines) + "\n"


def _xspf(entries: list[PlaylistEntry], folder: str, absolute: bool, title: str | None) -> str:
    ET.register_namespace("", XSPF_NS)
    root = ET.Element(f"{{{XSPF_NS}}}playlist", version="1")
    if title:
        ET.SubElement(root, f"{{{XSPF_NS}}}title").text = _one_line(title)
    tl = ET.SubElement(root, f"{{{XSPF_NS}}}trackList")
    for e in entries:
        tr = ET.SubElement(tl, f"{{{XSPF_NS}}}track")
        p, is_abs = _target_path(e.path, folder, absolute)
        ET.SubElement(tr, f"{{{XSPF_NS}}}location").text = _file_uri(p) if is_abs else _rel_uri(p)
        if e.title:
            ET.SubElement(tr, f"{{{XSPF_NS}}}title").text = _one_line(e.title)
        if e.artist:
            ET.SubElement(tr, f"{{{XSPF_NS}}}creator").text = _one_line(e.artist)
        secs = _seconds(e)
        if secs >= 0:
            ms = int(round(float(e.duration) * 1000))  # type: ignore[arg-type]
            ET.SubElement(tr, f"{{{XSPF_NS}}}duration").text = str(ms)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _pls(entries: list[PlaylistEntry], folder: str, absolute: bool, title: str | None) -> str:
    lines = ["[playlist]"]
    if title:
        lines.append(f"X-Title={_one_line(title)}")
    for n, e in enumerate(entries, 1):
        p, _ = _target_path(e.path, folder, absolute)
        if _LINE_BREAKS.search(p) or p != p.strip():
            p = _file_uri(os.path.abspath(e.path))
        lines.append(f"File{n}={p}")
        lines.append(f"Title{n}={_display(e)}")
        lines.append(f"Length{n}={_seconds(e)}")
    lines.append(f"NumberOfEntries={len(entries)}")
    lines.append("Version=2")
    return "\n".join(lines) + "\n"


_WRITERS = {"m3u": _m3u, "m3u8": _m3u, "xspf": _xspf, "pls": _pls}


def _format_of(path: str, fmt: str | None) -> str:
    if fmt is not None:
        f = fmt.lower().lstrip(".")
        if f not in _WRITERS:
            raise UserError(f"unknown playlist format {fmt!r}; use m3u, m3u8, xspf or pls")
        return f
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        shown = ext or "(none)"
        raise UserError(
            f"cannot tell the playlist format from the extension {shown} of {path}; "
            "use .m3u, .m3u8, .xspf or .pls"
        )
    return FORMATS[ext]


def playlist_text(entries: Sequence[Any], fmt: str, *, folder: str | None = None,
                  absolute: bool = True, title: str | None = None) -> str:
    """The text of a playlist file in ``fmt`` (m3u, m3u8, xspf, pls): paths relative to
    ``folder`` where it holds them, else absolute (as :func:`write_playlist` writes them)."""
    f = _format_of("", fmt)
    items = [_entry(e) for e in entries]
    for e in items:
        if not e.path:
            raise UserError("a playlist entry has no file path")
    return _WRITERS[f](items, folder or os.sep, absolute or folder is None, title)


def write_playlist(
    path: str | os.PathLike[str],
    entries: Sequence[Any],
    fmt: str | None = None,
    absolute: bool = False,
    title: str | None = None,
) -> Path:
    """Write ``entries`` (:class:`PlaylistEntry`, dicts, objects with ``.path``, or paths) to
    ``path``; returns the absolute path written.  See the module docstring."""
    out = os.path.abspath(os.path.expanduser(os.fspath(path)))
    text = playlist_text(entries, _format_of(out, fmt), folder=os.path.dirname(out),
                         absolute=absolute, title=title)  # fmt: skip
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None
    return Path(out)
