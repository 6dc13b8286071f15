"""Shared fixtures: a small library of real encoded files, and where ../shared lives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Several tests press Ctrl-C on a child (a scan, a mix, the MPD daemon) and check what it saved.
# A suite started in the background of a non-interactive shell (`make test &`) inherits SIGINT
# ignored, and so would every child: Python then installs no handler and the Ctrl-C never
# arrives. Hearing it again here lets the children hear it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from audio_factory import png_bytes, tag_file, write_audio  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS_DEV = SHARED / "corpus" / "dev"

# (relative path, tags, embedded cover colour or None)
LIBRARY_LAYOUT = [
    ("Ärtist One/Album A/01 First Song.mp3",
     {"title": "First Song", "artist": "Ärtist One", "album": "Album A", "genre": "Rock",
      "year": "2001", "track": "1"}, (200, 30, 30)),
    ("Ärtist One/Album A/02 Second Song.flac",
     {"title": "Second Song", "artist": "Ärtist One", "album": "Album A", "track": "2"}, None),
    ("日本の音楽/アルバム/夜.ogg",
     {"title": "夜", "artist": "山田", "album": "アルバム"}, (30, 200, 30)),
    ("Various Artists/Mix Tape/opus track.opus",
     {"title": "Opus Track", "artist": "Opus Band", "album": "Mix Tape"}, (30, 30, 200)),
    ("Various Artists/Mix Tape/aac track.m4a",
     {"title": "AAC Track", "artist": "Mp4 Band", "album": "Mix Tape"}, (200, 200, 30)),
    ("Untagged Artist/Untagged Album/07 Plain Wave.wav", None, None),
    ("Other/aiff file.aiff", {"title": "Aiff", "artist": "Aiff Artist", "album": "A"}, None),
    ("Other/windows media.wma", {"title": "Wma", "artist": "Wma Artist", "album": "W"}, None),
]  # fmt: skip


def build_library(root: Path, seconds: float = 3.0) -> dict[str, Path]:
    """Write LIBRARY_LAYOUT under ``root`` (plus a folder cover for Album A); name -> path."""
    paths = {}
    for i, (rel, tags, cover) in enumerate(LIBRARY_LAYOUT):
        path = root / rel
        write_audio(path, seconds=seconds, seed=i)
        if tags:
            tag_file(path, cover=png_bytes(cover) if cover else None, **tags)
        paths[rel] = path
    (root / "Ärtist One/Album A/Cover.JPG").write_bytes(png_bytes((9, 9, 9), 32))
    return paths


@pytest.fixture
def music(tmp_path: Path) -> Path:
    root = tmp_path / "My Music"
    build_library(root)
    return root


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "db" / "library.db"


def run_cli(*args: str, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """Run ``python -m segue.cli`` in a subprocess, as a user would run the command."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO / "src"), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "segue.cli", *args],
        capture_output=True, text=True, env=full_env, timeout=300, **kw,
    )  # fmt: skip


def corpus_or_skip() -> Path:
    if not (CORPUS_DEV / "manifest.csv").exists():
        pytest.skip(f"the dev corpus is absent ({CORPUS_DEV}); it lives in ../shared/corpus")
    return CORPUS_DEV


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
