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


# -- the small-data techniques ---------------------------------------------------------------------
def test_defaults_generate_at_128_px_with_the_small_data_techniques_on():
    cfg = GanConfig()
    assert cfg.size >= 128 and cfg.spectral and cfg.mode_seeking > 0
    assert set(cfg.augment.split(",")) == {"color", "translation", "cutout"}
    with pytest.raises(ValueError, match="unknown augmentations"):
        GanConfig(augment="colour")


def test_diff_augment_changes_images_and_lets_gradients_through():
    from segue.art.gan import diff_augment

    x = torch.rand(4, 3, 32, 32, requires_grad=True)
    y = diff_augment(x * 2 - 1, "color,translation,cutout", torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(y, x * 2 - 1)
    y.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    cut = diff_augment(torch.ones(2, 3, 16, 16), "cutout", torch.Generator().manual_seed(1))
    assert ((cut == 0).float().mean() - 0.25).abs() < 0.1  # a half-size square, a quarter of it


def test_the_critic_is_spectrally_normalised():
    images = fake_covers(16, 32, seed=5)
    t = Trainer(tiny(), images)
    for _ in range(3):
        t.step()
    convs = [m for m in t.D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs
    for m in convs:
        sigma = torch.linalg.matrix_norm(m.weight.detach().reshape(m.weight.shape[0], -1), ord=2)
        assert 0.8 < float(sigma) < 1.2  # the largest singular value is held near 1


def test_the_mode_seeking_term_pulls_samples_of_one_track_apart():
    """The term alone, minimised a few steps, makes samples with the same tags differ more:
    so the noise cannot be ignored (the collapse: every sample for a track the same picture)."""
    from segue.art.gan import Generator, mode_seeking_loss

    torch.manual_seed(0)
    cfg = tiny(cond_dim=50)
    g = Generator(cfg)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3)
    c = torch.randn(1, 50).expand(16, -1)
    z = torch.randn(16, cfg.nz, generator=torch.Generator().manual_seed(1))

    def spread() -> float:
        with torch.no_grad():
            g.eval()
            out = g(z, c)
            g.train()
        return float(torch.cdist(out.flatten(1), out.flatten(1)).mean())

    before = spread()
    for _ in range(15):
        loss = mode_seeking_loss(g(z, c), z)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert spread() > 1.5 * before


def test_samples_without_a_track_are_conditioned_on_real_tracks():
    images = fake_covers(12, 32, seed=6)
    cond = np.random.default_rng(6).random((12, 50)).astype(np.float32)
    bank = np.random.default_rng(7).random((30, 50)).astype(np.float32)
    t = Trainer(tiny(cond_dim=50), images, cond, bank=bank, bank_ids=np.arange(100, 130))
    drawn, ids = t.draw_conditions(16, seed=2)
    assert drawn.shape == (16, 50) and set(ids.tolist()) <= set(range(100, 130)) and len(set(ids.tolist())) > 4
    assert np.array_equal(drawn, bank[ids - 100])  # real library vectors, not a zero or mean vector
    z = torch.randn(16, 16, generator=torch.Generator().manual_seed(2))
    assert np.array_equal(t.sample(16, None, seed=2), t.generate(z, drawn))


def test_checkpoint_keeps_what_the_model_learned_from(tmp_path: Path):
    from segue.errors import UserError

    images = fake_covers(10, 32, seed=8)
    cond = np.random.default_rng(8).random((10, 50)).astype(np.float32)
    t = Trainer(tiny(cond_dim=50), images, cond, bank=cond[:4], bank_ids=np.arange(4))
    t.save(tmp_path / "c.pt")
    back = Trainer.load(tmp_path / "c.pt")  # a sampler
    assert back.n_images == 10 and torch.equal(back.bank, torch.from_numpy(cond[:4]))
    torch.save({"version": 1}, tmp_path / "old.pt")
    with pytest.raises(UserError, match="--fresh"):
        Trainer.load(tmp_path / "old.pt")
