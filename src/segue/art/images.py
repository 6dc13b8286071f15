"""Images for a playlist: tiles, each one picture standing for one or more tracks.

Sources, in the order ``auto`` tries them:

- **a GAN** trained on this library's covers (:func:`find_checkpoint`, in the library's own art
  folder), once it has seen enough covers (:data:`MIN_GAN_COVERS`): each track's image is
  generated from its own MusiCNN tag vector, and the noise walks smoothly (spherical
  interpolation between anchors every few tracks), so the pictures follow the music;
- **the covers**: each distinct cover once (tracks of one album share its tile, and a cover is
  never repeated), read at its own resolution;
- **soundprints** (:mod:`segue.art.soundprint`) for tracks without a cover: pictures of their
  tags, tempo, key, loudness and brightness.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from segue.art import library_dir
from segue.art.music import TAG_DIM, SoundFacts, library_tags

__all__ = ["TAG_DIM", "Tile", "PlaylistImages", "gan_dir", "find_checkpoint", "playlist_images"]

ANCHOR_EVERY = 4
#: Below this many distinct covers a GAN learns little but copies and blur: ``auto`` uses the
#: covers instead, and training warns.
MIN_GAN_COVERS = 300
COVER_SIDE = 600  # covers are read at their own size, at most this


def gan_dir(store, name: str, root: Path | None = None) -> Path:
    """This library's GAN folder (``conditional`` or ``default``)."""
    return library_dir(store, root) / "gan" / name


def find_checkpoint(store, root: Path | None = None) -> Path | None:
    """This library's conditional checkpoint if one exists, else its unconditional one."""
    for name in ("conditional", "default"):
        p = gan_dir(store, name, root) / "checkpoint.pt"
        if p.exists():
            return p
    return None


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation: Gaussian latents keep their norm along the way."""
    na, nb = a / np.linalg.norm(a), b / np.linalg.norm(b)
    omega = np.arccos(np.clip(np.dot(na, nb), -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def latent_walk(n: int, nz: int, seed: int = 0, every: int = ANCHOR_EVERY) -> np.ndarray:
    """``n`` latent vectors on a smooth path through random anchors ``every`` steps apart."""
    rng = np.random.default_rng(seed)
    anchors = rng.standard_normal((n // every + 2, nz))
    out = np.empty((n, nz), dtype=np.float32)
    for i in range(n):
        k, t = divmod(i, every)
        out[i] = slerp(anchors[k], anchors[k + 1], t / every)
    return out


def album_tags(store, digests: list[str]) -> np.ndarray:
    """Per cover, the mean MSD tag vector of the tracks that carry it (library mean if none)."""
    tags = store.vectors("musicnn", "tags_msd")
    by_cover: dict[str, list[np.ndarray]] = {}
    for t in store.tracks():
        if t.cover_hash and t.audio_hash in tags:
            by_cover.setdefault(t.cover_hash, []).append(tags[t.audio_hash])
    mean = np.mean(list(tags.values()), axis=0) if tags else np.zeros(TAG_DIM, np.float32)
    return np.stack([np.mean(by_cover[d], axis=0) if d in by_cover else mean for d in digests]).astype(np.float32)


@dataclass
class Tile:
    """One picture on the poster: its pixels at their own size, the playlist positions
    (0-based) it stands for, and where it came from (``gan``, ``cover``, ``soundprint``)."""

    image: np.ndarray
    rows: list[int]
    source: str

    @property
    def side(self) -> int:
        return int(self.image.shape[0])


@dataclass
class PlaylistImages:
    tiles: list[Tile]
    source: str  # "gan:<checkpoint>", "covers", "covers+soundprints", "soundprints"
    notes: list[str] = field(default_factory=list)


def checkpoint_covers(checkpoint: Path) -> int:
    """How many distinct covers a checkpoint was trained on (0 when it does not say)."""
    import torch

    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return int(state.get("n_images", 0))


def gan_images(checkpoint: Path, tags: np.ndarray, seed: int = 0, device: str = "auto") -> np.ndarray:
    """One generated image per row of ``tags`` (ignored by an unconditional model)."""
    import torch

    from segue.art.gan import Trainer

    trainer = Trainer.load(checkpoint, device=device)
    z = torch.from_numpy(latent_walk(len(tags), trainer.cfg.nz, seed))
    return trainer.generate(z, tags if trainer.cfg.cond_dim else None)


def cover_tiles(store, track_ids: Sequence[int], root: Path | None = None,
                progress: bool = False) -> list[Tile | None]:  # fmt: skip
    """Per playlist position, the tile of its cover (one tile per distinct cover, duplicates
    of one picture merged), or None where the track has no readable cover."""
    from segue.art.covers import native_cover, prepare_covers

    covers = prepare_covers(store, root, progress=progress)
    canon = {c.digest: (c.duplicate_of or c.digest) for c in covers}
    tracks = {t.id: t for t in store.tracks()}
    tiles: dict[str, Tile] = {}
    out: list[Tile | None] = []
    for pos, tid in enumerate(track_ids):
        t = tracks.get(tid)
        digest = canon.get(t.cover_hash or "") if t else None
        if digest is None:
            out.append(None)
            continue
        if digest not in tiles:
            img = native_cover(store, digest, COVER_SIDE)
            if img is None:
                out.append(None)
                continue
            tiles[digest] = Tile(img, [], "cover")
        tiles[digest].rows.append(pos)
        out.append(tiles[digest])
    return out


def playlist_images(store, track_ids: Sequence[int], facts: Sequence[SoundFacts], images: str = "auto",
                    checkpoint: Path | None = None, seed: int = 0, root: Path | None = None,
                    progress: bool = False) -> PlaylistImages:  # fmt: skip
    """The playlist's tiles from the GAN (``images`` gan, or auto with a checkpoint trained on
    enough covers), else from its covers and soundprints; never the same picture twice."""
    from segue.art.soundprint import soundprints

    notes: list[str] = []
    n = len(track_ids)
    if images != "covers" and checkpoint is not None:
        seen = checkpoint_covers(checkpoint)
        if images == "gan" or seen >= MIN_GAN_COVERS:
            tags = np.stack([f.tags if f.tags is not None else np.zeros(TAG_DIM, np.float32) for f in facts])
            generated = gan_images(checkpoint, tags, seed=seed)
            if seen < MIN_GAN_COVERS:
                notes.append(f"the GAN saw only {seen} covers: expect copies and blur")
            tiles = [Tile(generated[i], [i], "gan") for i in range(n)]
            return PlaylistImages(tiles, f"gan:{checkpoint}", notes)
        notes.append(f"the library's GAN saw only {seen} covers (fewer than {MIN_GAN_COVERS}): using the covers")
    by_pos = cover_tiles(store, track_ids, root, progress)
    missing = [i for i, t in enumerate(by_pos) if t is None]
    prints = soundprints([facts[i] for i in missing], library_tags(store)) if missing else []
    tiles: list[Tile] = []
    seen_ids: set[int] = set()
    for tile in by_pos:
        if tile is not None and id(tile) not in seen_ids:
            seen_ids.add(id(tile))
            tiles.append(tile)
    tiles += [Tile(img, [i], "soundprint") for i, img in zip(missing, prints, strict=True)]
    tiles.sort(key=lambda t: t.rows[0])
    kinds = {t.source for t in tiles}
    source = "covers" if kinds == {"cover"} else "soundprints" if kinds == {"soundprint"} else "covers+soundprints"
    return PlaylistImages(tiles, source, notes)
