"""The cover DCGAN: a tiny one trained a few steps on generated covers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segue.art.gan import Discriminator, GanConfig, Generator, Trainer, image_grid, train
from segue.art.images import latent_walk


def fake_covers(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Cover-like images: a flat background, a coloured disc and a bar, at random places."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for i in range(n):
        img = np.broadcast_to(rng.integers(0, 256, 3), (size, size, 3)).copy()
        cx, cy, r = rng.integers(size // 4, 3 * size // 4, 2).tolist() + [int(rng.integers(3, size // 3))]
        img[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.integers(0, 256, 3)
        y0 = int(rng.integers(0, size - 4))
        img[y0 : y0 + 3] = rng.integers(0, 256, 3)
        out[i] = img
    return out


def tiny(cond_dim: int = 0, **kw) -> GanConfig:
    return GanConfig(size=32, nz=16, ngf=8, ndf=8, batch_size=8, cond_dim=cond_dim, **kw)


@pytest.mark.parametrize("size", [32, 64, 128])
def test_network_shapes(size: int):
    cfg = GanConfig(size=size, nz=16, ngf=4, ndf=4, cond_dim=50)
    g, d = Generator(cfg), Discriminator(cfg)
    z, c = torch.randn(3, 16), torch.randn(3, 50)
    img = g(z, c)
    assert img.shape == (3, 3, size, size)
    assert img.abs().max() <= 1.0  # tanh
    assert d(img, c).shape == (3,)


def test_bad_size_is_refused():
    with pytest.raises(ValueError, match="power of two"):
        GanConfig(size=48)


def test_few_steps_finite_losses_and_uint8_samples():
    images = fake_covers(24, 32)
    cond = np.random.default_rng(1).random((24, 50)).astype(np.float32)
    t = Trainer(tiny(cond_dim=50), images, cond)
    losses = [t.step() for _ in range(6)]
    assert all(math.isfinite(a) and math.isfinite(b) for a, b in losses)
    assert t.step_count == 6 and t.epoch == 2  # 3 steps of 8 per epoch
    out = t.sample(5, cond[:5], seed=3)
    assert out.shape == (5, 32, 32, 3) and out.dtype == np.uint8
    assert np.array_equal(out, t.sample(5, cond[:5], seed=3))  # sampling is repeatable
    # the music matters: other tags, other pictures (same noise)
    assert not np.array_equal(out, t.sample(5, cond[5:10], seed=3))
    assert t.sample(2, None, seed=0).shape == (2, 32, 32, 3)  # no tags: the library average


def test_resume_reproduces_the_next_step_exactly(tmp_path: Path):
    images = fake_covers(20, 32, seed=2)
    cond = np.random.default_rng(2).random((20, 50)).astype(np.float32)
    a = Trainer(tiny(cond_dim=50, seed=7), images, cond)
    for _ in range(4):  # crosses an epoch boundary (20 images, batch 8: 2 steps per epoch)
        a.step()
    a.save(tmp_path / "ck.pt")
    loss_a = a.step()
    b = Trainer.load(tmp_path / "ck.pt", images, cond)
    loss_b = b.step()
    assert loss_a == loss_b
    for (name, pa), pb in zip(a.G.state_dict().items(), b.G.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    for pa, pb in zip(a.D.state_dict().values(), b.D.state_dict().values(), strict=True):
        assert torch.equal(pa, pb)
    # and a fresh trainer with the same seed agrees with both from the start
    c = Trainer(tiny(cond_dim=50, seed=7), images, cond)
    assert [c.step() for _ in range(5)] == a.history
    # another seed gives another run
    d = Trainer(tiny(cond_dim=50, seed=8), images, cond)
    assert d.step() != a.history[0]


def test_train_writes_checkpoints_and_sample_grids_and_resumes(tmp_path: Path):
    images = fake_covers(16, 32, seed=4)
    t = train(Trainer(tiny(), images), tmp_path / "run", epochs=2, progress=False)
    assert t.epoch == 2 and t.step_count == 4
    grids = sorted((tmp_path / "run" / "samples").glob("epoch_*.png"))
    assert [g.name for g in grids] == ["epoch_001.png", "epoch_002.png"]
    with Image.open(grids[0]) as g:
        assert g.size == (8 * 34 + 2, 8 * 34 + 2)  # 64 fixed samples, 8×8, 2-px gutters
    more = train(Trainer.load(tmp_path / "run" / "checkpoint.pt", images), tmp_path / "run", epochs=3, progress=False)
    assert more.epoch == 3 and more.step_count == 6
    assert (tmp_path / "run" / "samples" / "epoch_003.png").exists()


def test_image_grid_and_latent_walk():
    imgs = np.arange(5 * 4 * 4 * 3, dtype=np.uint8).reshape(5, 4, 4, 3)
    grid = image_grid(imgs, cols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 3)
    assert np.array_equal(grid[1:5, 6:10], imgs[1])
    z = latent_walk(9, 16, seed=0, every=4)
    assert z.shape == (9, 16)
    steps = np.linalg.norm(np.diff(z, axis=0), axis=1)
    jumps = np.linalg.norm(z[0] - z[4])
    assert steps.max() < jumps  # a walk, not a jump each track
