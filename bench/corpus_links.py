"""The dev corpus as the scan benchmarks read it: links in a folder holding only them.

Shared by ``bench/scan_speed.py`` and ``bench/scan_ray.py`` (run as scripts, so ``bench/`` is
on ``sys.path``).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "dev" / "audio"


def linked_corpus(tmp: Path, limit: int = 0) -> tuple[Path, list[Path], Path]:
    """(music, files, warm): the first ``limit`` corpus files (all when 0) linked into
    ``tmp/music`` and read once (the page cache is warm for every timed run), and a folder
    ``tmp/warm`` with the first file alone, for the untimed scan that warms the model caches."""
    music, warm = tmp / "music", tmp / "warm"
    music.mkdir()
    warm.mkdir()
    files = sorted(CORPUS.iterdir())[: limit or None]
    for f in files:
        os.symlink(f, music / f.name)
        f.read_bytes()
    os.symlink(files[0], warm / files[0].name)
    return music, files, warm
