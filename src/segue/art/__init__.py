"""Mixtapes you can look at: covers, their colours, a DCGAN, 2-D maps, posters.

Everything derived here is a file under :func:`art_dir` (``$SEGUE_ART_CACHE``, default
``<segue cache dir>/art``), content-addressed by cover sha256 or by a hash of the inputs, so the
library database needs no new tables:

- ``covers/128/<sha>.png``, ``covers/64/<sha>.png``: normalised covers (centre-cropped square);
- ``covers/index.json``: per cover its sizes, dHash, colours and which cover it duplicates;
- ``gan/<name>/checkpoint.pt`` and ``gan/<name>/samples/epoch_NNN.png``;
- ``projections/<method>-<key>.npz``: 2-D projections keyed by method, parameters and inputs.
"""

from __future__ import annotations

import os
from pathlib import Path


def art_dir() -> Path:
    """The art cache folder: ``$SEGUE_ART_CACHE`` or ``<segue cache dir>/art``."""
    env = os.environ.get("SEGUE_ART_CACHE")
    if env:
        return Path(env).expanduser()
    from segue.config import cache_dir

    return cache_dir() / "art"
