"""Shared by the art tests: renders kept as artefacts, pictures that look like covers."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
ARTEFACTS = REPO / "test-output" / "art"


def keep(img: Image.Image | Path, tmp_path: Path, name: str) -> Path:
    """Save a render under the test's tmp dir and copy it to test-output/art/ for people."""
    path = tmp_path / name
    if isinstance(img, Path):
        path = img
    else:
        img.save(path)
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, ARTEFACTS / name)
    return path


def pattern_cover(seed: int, size: int = 300, fmt: str = "PNG") -> bytes:
    """A cover-like picture: a two-colour field with a disc and stripes, unique per seed."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    a, b, c = (rng.integers(20, 236, 3) for _ in range(3))
    img = np.where((xx + yy * rng.uniform(0.3, 1.5) > rng.uniform(0.5, 1.2))[..., None], a, b)
    disc = (xx - rng.uniform(0.3, 0.7)) ** 2 + (yy - rng.uniform(0.3, 0.7)) ** 2 < rng.uniform(0.01, 0.06)
    img[disc] = c
    img[(np.sin(yy * rng.uniform(20, 60)) > 0.9) & (xx < 0.4)] = c
    buf = io.BytesIO()
    Image.fromarray(img.astype(np.uint8)).save(buf, format=fmt)
    return buf.getvalue()
