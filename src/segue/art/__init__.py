"""Mixtapes you can look at: covers, their colours, a DCGAN, 2-D maps, posters.

Everything derived here is a file under :func:`art_dir` (``$SEGUE_ART_CACHE``, default
``<segue cache dir>/art``), so the library database needs no new tables. Two kinds of files live
there:

- shared by every library, because they are addressed by their content: ``covers/<size>/<sha>.png``
  (normalised covers, by cover sha256), ``covers/index.json`` (per cover its dHash, colours),
  ``projections/<name>-<method>-<key>.npz`` (2-D projections keyed by the exact set of inputs);
- one library's own, because they are learned from the whole library: ``libraries/<id>/``
  (:func:`library_dir`, one folder per library database) holds ``gan/<name>/checkpoint.pt`` and
  ``gan/<name>/samples/epoch_NNN.png``, so a library never samples a GAN trained on another.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path


def art_dir() -> Path:
    """The art cache folder: ``$SEGUE_ART_CACHE`` or ``<segue cache dir>/art``."""
    env = os.environ.get("SEGUE_ART_CACHE")
    if env:
        return Path(env).expanduser()
    from segue.config import cache_dir

    return cache_dir() / "art"


def library_id(store) -> str:
    """A library's identity for its derived art: a hash of its database file's real path.

    The path, not the content: the content changes with every scan while the GAN trained on it
    stays that library's. A library moved to another path starts a new art folder (its GAN is
    retrained); two copies of one database are two libraries.
    """
    path = Path(store.path)
    try:
        path = path.resolve()
    except OSError:
        path = path.absolute()
    return hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def library_dir(store, root: Path | None = None) -> Path:
    """``<art dir>/libraries/<library id>``: the art learned from this library alone.

    A ``library.json`` beside the files names the database, so a person can tell the folders
    apart (and delete those of libraries that are gone).
    """
    folder = (root or art_dir()) / "libraries" / library_id(store)
    note = folder / "library.json"
    if not note.exists():
        folder.mkdir(parents=True, exist_ok=True)
        note.write_text(json.dumps({"database": str(Path(store.path).absolute())}, ensure_ascii=False))
    return folder
