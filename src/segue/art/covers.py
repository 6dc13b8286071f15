"""Every cover in the library, normalised (128×128 and 64×64 PNG), de-duplicated and coloured.

Covers are read from the store (``tracks.cover_hash`` -> ``Store.cover``), centre-cropped to a
square (art is square; scans and photos of sleeves often are not) and resized with Lanczos. The
results are files under ``<art dir>/covers`` named by the cover's sha256, so the work is done once
per cover and shared by every command; ``index.json`` holds the small per-cover facts.

De-duplication works at two levels: covers whose normalised pixels are identical (the same art
re-encoded or re-tagged: different bytes, same picture) and covers whose 64-bit dHash differs in
at most ``PHASH_DISTANCE`` bits (the same art at other sizes, crops or JPEG qualities) *and* whose
mean colours lie within ``COLOUR_DISTANCE`` in OKLab: dHash sees only brightness gradients, so
two flat covers of different colours (or a recoloured edition) would otherwise look the same.
Each group keeps its first member (by hash order) as the canonical cover.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from segue.art import art_dir
from segue.art.colours import Palette, dominant_colours
from segue.files import atomic_path, atomic_write_text
from segue.progress import Progress

SIZES = (128, 64)
PHASH_DISTANCE = 6
COLOUR_DISTANCE = 0.05
INDEX_VERSION = 2


@dataclass
class Cover:
    """One library cover after normalisation."""

    digest: str
    pixel_hash: str
    dhash: int
    palette: Palette
    mean_lab: tuple[float, float, float] = (0.0, 0.0, 0.0)
    duplicate_of: str | None = None
    track_ids: list[int] = field(default_factory=list)

    def path(self, size: int = 128, root: Path | None = None) -> Path:
        return cover_path(self.digest, size, root)


def cover_path(digest: str, size: int = 128, root: Path | None = None) -> Path:
    return (root or art_dir()) / "covers" / str(size) / f"{digest}.png"


def normalise(data: bytes, size: int) -> Image.Image:
    """Decode image bytes, centre-crop to a square and resize to ``size``×``size`` RGB."""
    with Image.open(io.BytesIO(data)) as img:
        img.draft("RGB", (size * 2, size * 2))  # JPEG: decode at a reduced scale, much faster
        img = img.convert("RGB")
    w, h = img.size
    s = min(w, h)
    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
    return img.resize((size, size), Image.Resampling.LANCZOS, box=box)


def dhash(image: Image.Image, bits: int = 8) -> int:
    """Difference hash: 64 bits of 'is this pixel brighter than its right neighbour' at 9×8."""
    small = np.asarray(image.convert("L").resize((bits + 1, bits), Image.Resampling.LANCZOS), dtype=np.int16)
    diff = (small[:, 1:] > small[:, :-1]).ravel()
    return int.from_bytes(np.packbits(diff).tobytes(), "big")


def hamming(a: np.ndarray, b: int) -> np.ndarray:
    """Bit distances between each uint64 in ``a`` and ``b``."""
    x = np.bitwise_xor(a, np.uint64(b))
    return np.unpackbits(x.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)


def mean_lab(image: Image.Image) -> tuple[float, float, float]:
    """The image's mean colour in OKLab."""
    from segue.art.colours import rgb_to_oklab

    lab = rgb_to_oklab(np.asarray(image.convert("RGB").resize((16, 16), Image.Resampling.BOX)))
    return tuple(float(v) for v in lab.reshape(-1, 3).mean(0))  # type: ignore[return-value]


def _group_duplicates(covers: list[Cover], distance: int, colour_distance: float = COLOUR_DISTANCE) -> None:
    """Set ``duplicate_of`` on every cover that repeats an earlier one (exact or perceptual)."""
    canon_by_pixels: dict[str, str] = {}
    kept: list[Cover] = []
    hashes = np.zeros(len(covers), dtype=np.uint64)
    labs = np.zeros((len(covers), 3))
    for c in covers:
        c.duplicate_of = canon_by_pixels.get(c.pixel_hash)
        if c.duplicate_of is None and kept:
            close = hamming(hashes[: len(kept)], c.dhash) <= distance
            close &= np.linalg.norm(labs[: len(kept)] - np.array(c.mean_lab), axis=1) <= colour_distance
            if close.any():
                c.duplicate_of = kept[int(np.flatnonzero(close)[0])].digest
        if c.duplicate_of is None:
            canon_by_pixels[c.pixel_hash] = c.digest
            hashes[len(kept)] = np.uint64(c.dhash)
            labs[len(kept)] = c.mean_lab
            kept.append(c)


def _write_png(img: Image.Image, path: Path) -> None:
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", optimize=False)


def prepare_covers(store, root: Path | None = None, progress: bool = True,
                   distance: int = PHASH_DISTANCE) -> list[Cover]:  # fmt: skip
    """Normalise, colour and de-duplicate every cover the library's tracks point at.

    Work already done (by cover sha256) is reused from ``index.json``; unreadable images are
    skipped with a note on stderr. Returns all covers in digest order, duplicates marked.
    """
    root = root or art_dir()
    index_path = root / "covers" / "index.json"
    index: dict[str, dict] = {}
    if index_path.exists():
        data = json.loads(index_path.read_text())
        if data.get("version") == INDEX_VERSION:
            index = data["covers"]
    tracks_of: dict[str, list[int]] = {}
    for t in store.tracks():
        if t.cover_hash:
            tracks_of.setdefault(t.cover_hash, []).append(t.id)
    todo = [
        d for d in sorted(tracks_of)
        if d not in index or ("error" not in index[d] and not cover_path(d, SIZES[1], root).exists())
    ]  # fmt: skip
    bar = Progress(len(todo), "covers", unit="covers", enabled=progress)
    for digest in todo:
        got = store.cover(digest)
        bar.advance()
        if got is None:
            continue
        try:
            big = normalise(got[1], SIZES[0])
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            import sys

            print(f"covers: skipping unreadable cover {digest[:12]}: {exc}", file=sys.stderr)
            index[digest] = {"error": str(exc)}
            continue
        small = big.resize((SIZES[1], SIZES[1]), Image.Resampling.LANCZOS)
        _write_png(big, cover_path(digest, SIZES[0], root))
        _write_png(small, cover_path(digest, SIZES[1], root))
        index[digest] = {
            "pixel_hash": hashlib.sha256(np.asarray(small).tobytes()).hexdigest(),
            "dhash": dhash(big),
            "mean_lab": mean_lab(big),
            "palette": dominant_colours(big).to_json(),
        }
    bar.close()
    if todo:
        atomic_write_text(index_path, json.dumps({"version": INDEX_VERSION, "covers": index}))
    covers = [
        Cover(d, index[d]["pixel_hash"], int(index[d]["dhash"]), Palette.from_json(index[d]["palette"]),
              tuple(index[d]["mean_lab"]), track_ids=tracks_of[d])
        for d in sorted(tracks_of) if d in index and "error" not in index[d]
    ]  # fmt: skip
    _group_duplicates(covers, distance)
    return covers


def unique_covers(covers: list[Cover]) -> list[Cover]:
    """The canonical covers (duplicates dropped), e.g. a GAN's training set."""
    return [c for c in covers if c.duplicate_of is None]


def load_images(covers: list[Cover], size: int = 64, root: Path | None = None) -> np.ndarray:
    """``(N, size, size, 3)`` uint8 of the covers' normalised images (resized if not 64/128)."""
    out = np.empty((len(covers), size, size, 3), dtype=np.uint8)
    for i, c in enumerate(covers):
        src = size if size in SIZES else SIZES[0]
        with Image.open(cover_path(c.digest, src, root)) as img:
            img = img.convert("RGB")
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.LANCZOS)
            out[i] = np.asarray(img)
    return out


def native_cover(store, digest: str, max_side: int = 600) -> np.ndarray | None:
    """A cover at its own resolution (square, centre-cropped), at most ``max_side`` pixels a
    side: the picture for a poster cell, where the 128-px normalised copy would be blown up.
    None when the store has no such cover or it cannot be read."""
    got = store.cover(digest)
    if got is None:
        return None
    try:
        with Image.open(io.BytesIO(got[1])) as img:
            side = min(img.size)
            return np.asarray(normalise(got[1], min(side, max_side)))
    except (UnidentifiedImageError, OSError, ValueError):
        return None

