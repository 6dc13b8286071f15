"""Images for a playlist: one per track, from a trained GAN or, failing that, the covers.

With a conditional checkpoint each track's image is generated from its own MusiCNN tag vector,
and the noise walks smoothly (spherical interpolation between anchors every few tracks), so
neighbouring tracks get related pictures and the colours follow the music. Without a checkpoint
the library's own normalised covers stand in: each track's cover, or the cover of the nearest
track (by MusiCNN vector) that has one; with no covers at all, a two-colour gradient per track
named by its tags.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segue.art import art_dir

TAG_DIM = 50
ANCHOR_EVERY = 4


def gan_dir(name: str, root: Path | None = None) -> Path:
    return (root or art_dir()) / "gan" / name


def find_checkpoint(root: Path | None = None) -> Path | None:
    """The conditional checkpoint if one exists, else the unconditional one, else None."""
    for name in ("conditional", "default"):
        p = gan_dir(name, root) / "checkpoint.pt"
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
class PlaylistImages:
    images: np.ndarray  # (n, s, s, 3) uint8
    source: str  # "gan:<checkpoint>", "covers", "gradients"


def gan_images(checkpoint: Path, tags: np.ndarray, seed: int = 0, device: str = "auto") -> np.ndarray:
    """One generated image per row of ``tags`` (ignored by an unconditional model)."""
    import torch

    from segue.art.gan import Trainer

    trainer = Trainer.load(checkpoint, device=device)
    z = torch.from_numpy(latent_walk(len(tags), trainer.cfg.nz, seed))
    return trainer.generate(z, tags if trainer.cfg.cond_dim else None)


def cover_images(store, track_ids: list[int], root: Path | None = None, progress: bool = False) -> np.ndarray | None:
    """Each track's own cover or its nearest covered neighbour's; None if the library has none."""
    from segue.art.covers import load_images, prepare_covers

    covers = prepare_covers(store, root, progress=progress)
    if not covers:
        return None
    canon = {c.digest: (c.duplicate_of or c.digest) for c in covers}
    by_digest = {c.digest: c for c in covers}
    tracks = {t.id: t for t in store.tracks()}
    vectors = store.vectors("musicnn", "track")
    covered = [(t.audio_hash, canon[t.cover_hash]) for t in tracks.values() if t.cover_hash in canon and t.audio_hash in vectors]
    mat = np.stack([vectors[h] for h, _ in covered]) if covered else None
    if mat is not None:
        mat = mat / np.maximum(np.linalg.norm(mat, axis=1, keepdims=True), 1e-9)
    chosen = []
    for tid in track_ids:
        t = tracks[tid]
        if t.cover_hash in canon:
            chosen.append(canon[t.cover_hash])
        elif mat is not None and t.audio_hash in vectors:
            chosen.append(covered[int(np.argmax(mat @ vectors[t.audio_hash]))][1])
        else:
            chosen.append(canon[covers[0].digest])
    return load_images([by_digest[d] for d in chosen], 128, root)


def gradient_images(labels: list[str], size: int = 64) -> np.ndarray:
    """Deterministic two-colour gradients, one per label (the last-resort picture)."""
    from segue.art.colours import oklab_to_rgb

    out = np.empty((len(labels), size, size, 3), dtype=np.uint8)
    ramp = np.linspace(0, 1, size)[:, None, None]
    for i, label in enumerate(labels):
        h = hashlib.sha256(label.encode()).digest()
        hues = [h[0] / 255 * 2 * np.pi, h[1] / 255 * 2 * np.pi]
        labs = [np.array([0.55 + 0.3 * (h[2 + j] / 255), 0.12 * np.cos(a), 0.12 * np.sin(a)]) for j, a in enumerate(hues)]
        lab = labs[0] * (1 - ramp) + labs[1] * ramp
        out[i] = oklab_to_rgb(np.broadcast_to(lab, (size, size, 3)))
    return out
