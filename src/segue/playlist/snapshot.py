"""The catalogue saved beside the library, so a fresh process does not rebuild it.

Building a :class:`~segue.playlist.catalog.Catalog` reads every track row, vector and
descriptor document from SQLite; at 1M tracks that is most of a minute, and a faiss IVF index
over it takes minutes more to train. Both are derived data: a snapshot of the catalogue's arrays
(and, for libraries big enough to use one, the trained index) is written once to a folder beside
the library, under a key that changes whenever the library does (the store's change marker, the
schema and the vector source), and the next process maps it back in seconds.

Layout: ``<folder>/<key>/`` holds ``vectors.npy`` (and ``intro.npy``/``outro.npy``),
``numbers.npz`` (ids, durations, years, groups, tempo, loudness, tags), ``text.npz`` (path,
title, artist, album, genre, cover, Camelot: each column one NUL-joined UTF-8 blob, which reads
a million strings in a fraction of a second), ``meta.json``, and ``index.faiss`` once built.
A snapshot is written to a temporary folder and renamed into place, so a reader sees a whole one
or none; a failure to write (a read-only folder, a full disk) only costs the next process the
rebuild.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from segue.playlist.catalog import Catalog

SNAPSHOT_VERSION = 1
_TEXT = ("path", "title", "artist", "album", "genre", "cover", "camelot")
_NUMBERS = ("duration", "year", "group", "bpm", "bpm_confidence", "loudness_lufs")
_DERIVED = ("artist_codes", "album_codes")
#: Saved only where an ANN index is used (it takes minutes to train); exact search has nothing
#: worth saving.
INDEX_FILE = "index.faiss"


def _join(values: list) -> np.ndarray:
    text = "\x00".join("" if v is None else str(v).replace("\x00", "") for v in values)
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def _split(blob: np.ndarray, n: int) -> list[str]:
    if n == 0:
        return []
    return blob.tobytes().decode("utf-8").split("\x00")


def save(catalog: Catalog, folder: Path, key: str) -> Path | None:
    """Write ``catalog`` as the snapshot ``key`` under ``folder``; the snapshot's path, or None
    when it could not be written (nothing is left half-written either way)."""
    target = folder / key
    if target.is_dir():
        return target
    tmp: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder))
        np.save(tmp / "vectors.npy", catalog.vectors)
        for name in ("intro", "outro"):
            arr = getattr(catalog, name)
            if arr is not None:
                np.save(tmp / f"{name}.npy", arr)
        numbers = {name: getattr(catalog, name) for name in _NUMBERS}
        numbers["ids"] = catalog.ids
        for name in _DERIVED:  # folding a million artist names takes seconds: keep the codes
            numbers[name] = getattr(catalog, name)
        tag_names = list(catalog.tags or {})
        if tag_names:
            numbers["tags"] = np.stack([catalog.tags[t] for t in tag_names], axis=1)
        np.savez(tmp / "numbers.npz", **numbers)
        np.savez(tmp / "text.npz", **{name: _join(getattr(catalog, name)) for name in _TEXT})
        meta = {"version": SNAPSHOT_VERSION, "n": len(catalog), "tags": tag_names}
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        os.replace(tmp, target)  # a whole snapshot appears at once
        tmp = None
        _forget_others(folder, key)
        return target
    except OSError:
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _forget_others(folder: Path, key: str) -> None:
    """Older snapshots of the same vector source (the key's prefix before the last '-')."""
    prefix = key.rsplit("-", 1)[0] + "-"
    for other in folder.iterdir():
        if other.name != key and other.name.startswith(prefix) and other.is_dir():
            shutil.rmtree(other, ignore_errors=True)


def load(folder: Path, key: str) -> Catalog | None:
    """The snapshot ``key`` as a Catalog (its index file attached), or None when there is none
    or it cannot be read (the caller rebuilds and saves a new one)."""
    where = folder / key
    try:
        meta = json.loads((where / "meta.json").read_text(encoding="utf-8"))
        if meta.get("version") != SNAPSHOT_VERSION:
            return None
        n = int(meta["n"])
        with np.load(where / "numbers.npz") as nums, np.load(where / "text.npz") as text:
            numbers = {name: nums[name] for name in (*_NUMBERS, "ids")}
            derived = {name: nums[name] for name in _DERIVED}
            tags = nums["tags"] if "tags" in nums.files else None
            strings = {name: _split(text[name], n) for name in _TEXT}
        # mapped, not read: pages come in as searches touch them, and processes share them
        intro = np.load(where / "intro.npy", mmap_mode="r") if (where / "intro.npy").exists() else None
        outro = np.load(where / "outro.npy", mmap_mode="r") if (where / "outro.npy").exists() else None
        catalog = Catalog(
            vectors=np.load(where / "vectors.npy", mmap_mode="r"),
            intro=intro,
            outro=outro,
            tags=None if tags is None else {t: tags[:, i] for i, t in enumerate(meta["tags"])},
            normalised=True,
            **numbers,
            **strings,
        )
    except (OSError, ValueError, KeyError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    for name, codes in derived.items():
        catalog.cached(name, lambda codes=codes: codes)
    catalog.index_file = str(where / INDEX_FILE)
    return catalog


def attach(catalog: Catalog, folder: Path, key: str) -> None:
    """Let ``catalog`` (just built and saved as ``key``) keep its index in the snapshot."""
    with contextlib.suppress(OSError):
        if (folder / key).is_dir():
            catalog.index_file = str(folder / key / INDEX_FILE)
