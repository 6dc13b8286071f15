"""Playlist files a person keeps among their music: reading them, and finding them in a scan.

Readers (:func:`read_playlist`, :func:`read_entries`) handle M3U/M3U8, XSPF and PLS and return
absolute, normalised paths (relative entries resolved against the playlist's folder, ``file://``
URIs decoded); other URLs such as ``http://`` are not local files. The writers live with the
playlist engine (:mod:`segue.playlist.export`, which re-exports :func:`read_playlist`); the
reader lives here because the scan needs it and the library layer never imports the playlist
layer.

:func:`record_playlist_files` is what a scan calls once, after a complete walk: every playlist
file under the scanned folders is read (unchanged ones, by size and mtime, are not) and its
entries stored in order, each with its resolved path, or none for an entry that is no local file.
Whether an entry is a library track is answered by the store at query time (a path match), so a
playlist scanned before its music still resolves once the music is scanned. Playlist files that
disappeared from the scanned folders are forgotten. A playlist that cannot be read is recorded
with its one-line error and no entries: it never stops a scan.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from segue.errors import UserError
from segue.library.store import Store

PLAYLIST_FORMATS = {".m3u": "m3u", ".m3u8": "m3u8", ".xspf": "xspf", ".pls": "pls"}
PLAYLIST_EXTENSIONS = tuple(PLAYLIST_FORMATS)


@dataclass
class PlaylistFileReport:
    """What :func:`record_playlist_files` found: playlist files read, kept, failed, forgotten."""

    found: int = 0
    read: int = 0
    unchanged: int = 0
    failed: int = 0
    removed: int = 0
    entries: int = 0


# -- reading -----------------------------------------------------------------------------------


def _resolve(entry: str, folder: str) -> str | None:
    if not entry.strip():
        return None
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]+://", entry):
        u = urlsplit(entry)
        if u.scheme.lower() != "file":
            return None
        p = unquote(u.path)
        if os.name == "nt" and re.match(r"^/[A-Za-z]:", p):
            p = p[1:]
        return os.path.normpath(p)
    p = os.path.expanduser(entry)
    if not os.path.isabs(p):
        p = os.path.join(folder, p)
    return os.path.normpath(p)


def _read_text(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_entries(path: str | os.PathLike[str]) -> list[tuple[str, str | None]]:
    """Every entry of a playlist file in order: (the entry as written, its absolute local path
    or None for a URL that is not a local file). Raises UserError when it cannot be read."""
    p = os.path.abspath(os.path.expanduser(os.fspath(path)))
    if not os.path.isfile(p):
        raise UserError(f"no such playlist file: {p}")
    folder = os.path.dirname(p)
    try:
        text = _read_text(p)
    except OSError as exc:
        raise UserError(f"cannot read {p}: {exc.strerror or exc}") from None
    ext = os.path.splitext(p)[1].lower()
    head = text.lstrip()[:200].lower()
    if ext == ".xspf" or head.startswith("<?xml") or head.startswith("<playlist"):
        raw = _xspf_locations(p, text)
    elif ext == ".pls" or head.startswith("[playlist]"):
        raw = _pls_files(text)
    elif ext in (".m3u", ".m3u8") or head.startswith("#extm3u") or ext == "":
        raw = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    else:
        raise UserError(f"cannot tell the playlist format of {p}; use .m3u, .m3u8, .xspf or .pls")
    return [(entry, _resolve(entry, folder)) for entry in raw if entry.strip()]


def read_playlist(path: str | os.PathLike[str]) -> list[str]:
    """Absolute paths of the local files a playlist lists, in order (see module docstring)."""
    return [resolved for _, resolved in read_entries(path) if resolved]


def _xspf_locations(p: str, text: str) -> list[str]:
    try:
        root = ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise UserError(f"{p} is not valid XSPF: {exc}") from None
    out = []
    for loc in root.iter():
        if loc.tag.rsplit("}", 1)[-1] != "location" or not loc.text:
            continue
        entry = loc.text.strip()
        out.append(entry if "://" in entry else unquote(entry))
    return out


def _pls_files(text: str) -> list[str]:
    files: dict[int, str] = {}
    for line in text.splitlines():
        m = re.match(r"^\s*File(\d+)\s*=(.*)$", line, re.IGNORECASE)
        if m:
            files[int(m.group(1))] = m.group(2)
    return [files[k] for k in sorted(files)]


# -- finding them in a scan ------------------------------------------------------------------


def walk_playlist_files(roots: Sequence[str | Path]) -> list[str]:
    """Absolute paths of playlist files under ``roots`` (symlinked folders followed once)."""
    found: dict[str, None] = {}
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(os.path.abspath(root), followlinks=True):
            try:
                st = os.stat(dirpath)
            except OSError:
                dirnames[:] = []
                continue
            if (st.st_dev, st.st_ino) in seen_dirs:
                dirnames[:] = []
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            dirnames.sort()
            for name in sorted(filenames):
                if os.path.splitext(name)[1].lower() in PLAYLIST_FORMATS:
                    found[os.path.join(dirpath, name)] = None
    return list(found)


def record_playlist_files(store: Store, roots: Sequence[str | Path]) -> PlaylistFileReport:
    """Read the playlist files under ``roots`` into the store (see the module docstring)."""
    report = PlaylistFileReport()
    paths = walk_playlist_files(roots)
    report.found = len(paths)
    known = store.playlist_file_states()
    with store.transaction():
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            state = (st.st_size, st.st_mtime_ns)
            if known.get(path) == state:
                report.unchanged += 1
                continue
            fmt = PLAYLIST_FORMATS[os.path.splitext(path)[1].lower()]
            try:
                entries = read_entries(path)
                error = None
            except UserError as exc:
                entries, error = [], str(exc)
                report.failed += 1
            store.put_playlist_file(path, fmt, st.st_size, st.st_mtime_ns, entries, error)
            report.read += 1
            report.entries += len(entries)
        prefixes = tuple(os.path.abspath(r).rstrip(os.sep) + os.sep for r in roots)
        seen = set(paths)
        gone = [p for p in known if p.startswith(prefixes) and p not in seen]
        report.removed = store.delete_playlist_files(gone)
    return report
