"""Training and sampling the cover GAN on a library (``segue art train`` / ``segue art sample``)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from segue.art.images import MIN_GAN_COVERS, TAG_DIM, album_tags, gan_dir
from segue.errors import UserError

DEFAULT_STEPS = 1000  # default epochs: about this many steps (a few minutes on a laptop CPU)


def condition_bank(store) -> tuple[np.ndarray, np.ndarray]:
    """Every analysed track's tag vector and its track id: the real sounds that samples without
    a given track are conditioned on."""
    tags = store.vectors("musicnn", "tags_msd")
    from segue.art.gan import BANK_SIZE

    rows = [(t.id, tags[t.audio_hash]) for t in store.tracks() if t.audio_hash in tags]
    if len(rows) > BANK_SIZE:  # an even spread over the library, not its first tracks
        rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, BANK_SIZE).round()]
    if not rows:
        return np.zeros((0, TAG_DIM), np.float32), np.zeros(0, np.int64)
    return (np.stack([v for _, v in rows]).astype(np.float32), np.array([i for i, _ in rows], np.int64))


def training_set(store, size: int = 64, conditional: bool = False, cache: Path | None = None,
                 progress: bool = True) -> tuple[list[str], np.ndarray, np.ndarray | None]:  # fmt: skip
    """Unique covers (digests), their images ``(N, size, size, 3)`` and, if asked, tag vectors."""
    from segue.art.covers import load_images, prepare_covers, unique_covers

    covers = prepare_covers(store, cache, progress=progress)
    canon = unique_covers(covers)
    if not canon:
        raise UserError("no covers in the library to train on: scan a folder with cover art first")
    images = load_images(canon, size, cache)
    cond = None
    if conditional:
        if not store.vectors("musicnn", "tags_msd"):
            raise UserError("a conditional GAN needs analysed tracks: run 'segue scan' with analysis")
        # a canonical cover sounds like every album that carries it or a duplicate of it
        every = album_tags(store, [c.digest for c in covers])
        groups: dict[str, list[np.ndarray]] = {}
        for c, tag in zip(covers, every, strict=True):
            groups.setdefault(c.duplicate_of or c.digest, []).append(tag)
        cond = np.stack([np.mean(groups[c.digest], axis=0) for c in canon]).astype(np.float32)
    return [c.digest for c in canon], images, cond


def train_on_library(store, conditional: bool = True, epochs: int | None = None, max_seconds: float | None = None,
                     size: int = 128, batch_size: int = 32, ngf: int = 32, ndf: int = 32, seed: int = 0,
                     fresh: bool = False, device: str = "auto", cache: Path | None = None,
                     progress: bool = True) -> Path:  # fmt: skip
    """Train (or resume) the library's GAN; returns the checkpoint path.

    Resumes this library's ``gan/<conditional|default>/checkpoint.pt`` unless ``fresh`` or the
    model settings differ. ``epochs`` counts from the first run; by default about
    :data:`DEFAULT_STEPS` steps. Below :data:`MIN_GAN_COVERS` distinct covers it warns (and
    ``mixtape`` keeps using the covers themselves until the library has enough).
    """
    from segue.art.gan import GanConfig, Trainer, train

    name = "conditional" if conditional else "default"
    out = gan_dir(store, name, cache)
    _, images, cond = training_set(store, size, conditional, cache, progress)
    if len(images) < MIN_GAN_COVERS:
        print(f"gan: warning: only {len(images)} distinct covers; a GAN needs a few hundred "
              f"({MIN_GAN_COVERS}+) to make new pictures rather than blurred copies, so mixtapes "
              f"keep using the covers (--images gan uses it anyway)", file=sys.stderr)  # fmt: skip
    bank, bank_ids = condition_bank(store) if conditional else (None, None)
    cfg = GanConfig(size=size, ngf=ngf, ndf=ndf, cond_dim=TAG_DIM if conditional else 0,
                    batch_size=batch_size, seed=seed)  # fmt: skip
    ckpt = out / "checkpoint.pt"
    trainer = None
    if ckpt.exists() and not fresh:
        trainer = Trainer.load(ckpt, images, cond, device)
        if bank is not None and len(bank):
            import torch

            trainer.bank, trainer.bank_ids = torch.from_numpy(bank), torch.from_numpy(bank_ids)
        if (trainer.cfg.size, trainer.cfg.ngf, trainer.cfg.ndf) != (size, ngf, ndf):
            raise UserError(f"{ckpt} was trained at size {trainer.cfg.size}, ngf {trainer.cfg.ngf}, "
                            f"ndf {trainer.cfg.ndf}: pass the same settings or --fresh")  # fmt: skip
        if progress:
            print(f"gan: resuming {ckpt} at epoch {trainer.epoch}, step {trainer.step_count}", file=sys.stderr)
    if trainer is None:
        trainer = Trainer(cfg, images, cond, device, bank=bank, bank_ids=bank_ids)
    if epochs is None:
        epochs = max(5, math.ceil(DEFAULT_STEPS / trainer.steps_per_epoch))
    if progress:
        print(f"gan: {len(images)} covers at {size}×{size}, batch {trainer.batch_size}, "
              f"{'conditional' if conditional else 'unconditional'}, device {trainer.device}, "
              f"{epochs} epochs", file=sys.stderr)  # fmt: skip
    train(trainer, out, epochs, max_seconds=max_seconds, progress=progress, sample_cond=cond)
    if not ckpt.exists():
        trainer.save(ckpt)
    return ckpt


def sample_to_folder(checkpoint: Path, n: int, out_dir: Path, tags: np.ndarray | None = None, seed: int = 0,
                     device: str = "auto") -> list[dict]:  # fmt: skip
    """Write ``n`` generated images as PNGs (plus ``grid.png``) with their dominant colours.

    Without ``tags`` a conditional model draws each sample's condition from the library's real
    tracks; each entry then names the track (``like``: its id) whose sound it was given.
    """
    import torch
    from PIL import Image

    from segue.art.colours import dominant_colours
    from segue.art.gan import Trainer, image_grid

    trainer = Trainer.load(checkpoint, device=device)
    like = None
    if tags is None and trainer.cfg.cond_dim:
        tags, like = trainer.draw_conditions(n, seed)
    z = torch.randn(n, trainer.cfg.nz, generator=torch.Generator().manual_seed(seed))
    images = trainer.generate(z, tags if trainer.cfg.cond_dim else None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    made = []
    for i, img in enumerate(images):
        path = out_dir / f"sample_{i + 1:03d}.png"
        Image.fromarray(img).save(path)
        entry = {"path": str(path), "colours": dominant_colours(img).to_json()}
        if like is not None:
            entry["like"] = int(like[i]) if like[i] >= 0 else None
        made.append(entry)
    Image.fromarray(image_grid(images)).save(out_dir / "grid.png")
    return made
