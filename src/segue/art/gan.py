"""A DCGAN (Radford et al., 2015) trained on the library's own covers, optionally conditioned
on how the album sounds (its mean MusiCNN MSD tag vector).

- Generator: ``z`` (and the standardised tag vector, concatenated) -> 4×4 -> … -> size×size RGB.
- Discriminator: image plus the tag vector broadcast as extra input channels -> one logit.
- Adam (lr 2e-4, β1 0.5), BCE with logits, random horizontal flips.

Every random draw (weight init, epoch order, noise, flips) comes from one ``torch.Generator``
whose state is saved in the checkpoint together with both models, both optimisers, the epoch
permutation and the position in it, so a resumed run takes exactly the step an uninterrupted run
would have taken (same device and thread count: float reductions are not associative).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from segue.files import atomic_path

CHECKPOINT_VERSION = 1
SAVE_STEPS = 20  # at least this many steps between per-epoch grids and checkpoints


@dataclass
class GanConfig:
    """Model and optimiser settings; saved in the checkpoint and restored with it."""

    size: int = 64
    nz: int = 100
    ngf: int = 32
    ndf: int = 32
    cond_dim: int = 0
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    flip: bool = True

    def __post_init__(self) -> None:
        n = int(round(math.log2(self.size)))
        if 2**n != self.size or not 16 <= self.size <= 256:
            raise ValueError(f"image size must be a power of two from 16 to 256, got {self.size}")

    @property
    def n_up(self) -> int:
        return int(round(math.log2(self.size))) - 2


class Generator(nn.Module):
    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()
        ch = cfg.ngf * 2 ** (cfg.n_up - 1)
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(cfg.nz + cfg.cond_dim, ch, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ch), nn.ReLU(True),
        ]  # fmt: skip
        for _ in range(cfg.n_up - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, 3, 4, 2, 1, bias=False), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            z = torch.cat([z, cond], dim=1)
        return self.net(z[:, :, None, None])


class Discriminator(nn.Module):
    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()
        ch = cfg.ndf
        layers: list[nn.Module] = [nn.Conv2d(3 + cfg.cond_dim, ch, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True)]
        for _ in range(cfg.n_up - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2), nn.LeakyReLU(0.2, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if cond is not None:
            x = torch.cat([x, cond[:, :, None, None].expand(-1, -1, x.shape[2], x.shape[3])], dim=1)
        return self.net(x).reshape(-1)


def _init_weights(m: nn.Module, gen: torch.Generator) -> None:
    # DCGAN paper: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
        with torch.no_grad():
            m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        with torch.no_grad():
            m.weight.copy_(1 + torch.randn(m.weight.shape, generator=gen) * 0.02)
            m.bias.zero_()


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when there is one, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Trainer:
    """Both networks, their optimisers, the data and the random state of one training run."""

    def __init__(self, cfg: GanConfig, images: np.ndarray, cond: np.ndarray | None = None,
                 device: str | torch.device = "cpu") -> None:  # fmt: skip
        if len(images) == 0:
            raise ValueError("no images to train on")
        if cfg.cond_dim and (cond is None or cond.shape != (len(images), cfg.cond_dim)):
            raise ValueError(f"conditional GAN needs a ({len(images)}, {cfg.cond_dim}) tag matrix")
        self.cfg = cfg
        self.device = pick_device(device) if isinstance(device, str) else device
        self.rng = torch.Generator().manual_seed(cfg.seed)
        self.G = Generator(cfg)
        self.D = Discriminator(cfg)
        self.G.apply(lambda m: _init_weights(m, self.rng))
        self.D.apply(lambda m: _init_weights(m, self.rng))
        self.G.to(self.device)
        self.D.to(self.device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
        self.loss = nn.BCEWithLogitsLoss()
        self.epoch = 0
        self.step_count = 0
        self.pos = 0
        self.perm: torch.Tensor | None = None
        self.history: list[tuple[float, float]] = []
        self.set_data(images, cond)
        self.cond_mean = torch.zeros(cfg.cond_dim)
        self.cond_std = torch.ones(cfg.cond_dim)
        if cfg.cond_dim:
            c = torch.from_numpy(np.asarray(cond, dtype=np.float32))
            self.cond_mean = c.mean(0)
            self.cond_std = c.std(0, unbiased=False).clamp_min(1e-3)
        self.fixed_z = torch.randn(64, cfg.nz, generator=self.rng)

    def set_data(self, images: np.ndarray, cond: np.ndarray | None) -> None:
        """The training images, ``(N, size, size, 3)`` uint8, and their tag vectors."""
        s = self.cfg.size
        if images.shape[1:] != (s, s, 3):
            raise ValueError(f"images must be (N, {s}, {s}, 3), got {images.shape}")
        self.images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()
        self.cond = None if cond is None else torch.from_numpy(np.asarray(cond, dtype=np.float32))
        if self.perm is not None and len(self.perm) != len(self.images):
            self.perm, self.pos = None, 0  # the data changed: start a fresh epoch order

    @property
    def batch_size(self) -> int:
        return min(self.cfg.batch_size, len(self.images))

    @property
    def steps_per_epoch(self) -> int:
        return max(1, len(self.images) // self.batch_size)

    def norm_cond(self, cond: torch.Tensor) -> torch.Tensor:
        return (cond - self.cond_mean) / self.cond_std

    def _next_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        b = self.batch_size
        if self.perm is None:
            self.perm = torch.randperm(len(self.images), generator=self.rng)
            self.pos = 0
        idx = self.perm[self.pos : self.pos + b]
        self.pos += b
        x = self.images[idx].float().div_(127.5).sub_(1.0)
        if self.cfg.flip:
            flip = torch.rand(b, generator=self.rng) < 0.5
            x[flip] = x[flip].flip(-1)
        c = None if self.cond is None else self.norm_cond(self.cond[idx])
        return x, c

    def step(self) -> tuple[float, float]:
        """One discriminator and one generator update; returns (loss_d, loss_g)."""
        self.G.train()
        self.D.train()
        x, c = self._next_batch()
        z = torch.randn(len(x), self.cfg.nz, generator=self.rng)
        x, z = x.to(self.device), z.to(self.device)
        c = None if c is None else c.to(self.device)
        ones = torch.ones(len(x), device=self.device)
        zeros = torch.zeros(len(x), device=self.device)

        fake = self.G(z, c)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d = self.loss(self.D(x, c), ones) + self.loss(self.D(fake.detach(), c), zeros)
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        loss_g = self.loss(self.D(fake, c), ones)
        loss_g.backward()
        self.opt_g.step()
        self.step_count += 1
        if self.pos + self.batch_size > len(self.images):  # the rest is less than a batch
            self.epoch += 1
            self.perm, self.pos = None, 0
        out = (loss_d.item(), loss_g.item())
        self.history.append(out)
        return out

    @torch.no_grad()
    def generate(self, z: torch.Tensor, cond: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        """Images for latent vectors ``z`` (and raw tag vectors), as ``(n, size, size, 3)`` uint8."""
        self.G.eval()
        c = None
        if self.cfg.cond_dim:
            if cond is None:  # no music given: the library's average sound
                c = torch.zeros(len(z), self.cfg.cond_dim)
            else:
                c = self.norm_cond(torch.as_tensor(np.asarray(cond, dtype=np.float32)))
            c = c.to(self.device)
        out = []
        for start in range(0, len(z), 256):
            cc = None if c is None else c[start : start + 256]
            img = self.G(z[start : start + 256].to(self.device), cc)
            out.append(((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy())
        return np.concatenate(out)

    def sample(self, n: int, cond: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        """``n`` new images from seeded noise (the training random state is not touched)."""
        z = torch.randn(n, self.cfg.nz, generator=torch.Generator().manual_seed(seed))
        return self.generate(z, cond)

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "version": CHECKPOINT_VERSION,
            "config": asdict(self.cfg),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "rng": self.rng.get_state(),
            "epoch": self.epoch,
            "step": self.step_count,
            "pos": self.pos,
            "perm": self.perm,
            "history": torch.tensor(self.history, dtype=torch.float64).reshape(-1, 2),
            "cond_mean": self.cond_mean,
            "cond_std": self.cond_std,
            "fixed_z": self.fixed_z,
        }

    def save(self, path: Path) -> Path:
        """Write the checkpoint atomically (a crash never leaves half a file)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(self.state_dict(), tmp)
        return path

    @classmethod
    def load(cls, path: Path, images: np.ndarray | None = None, cond: np.ndarray | None = None,
             device: str | torch.device = "cpu") -> Trainer:  # fmt: skip
        """A trainer restored from ``path``; without ``images`` it can only sample."""
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state.get("version") != CHECKPOINT_VERSION:
            raise ValueError(f"{path}: checkpoint version {state.get('version')} is not {CHECKPOINT_VERSION}")
        cfg = GanConfig(**state["config"])
        if images is None:
            images = np.zeros((1, cfg.size, cfg.size, 3), dtype=np.uint8)
            cond = np.zeros((1, cfg.cond_dim), dtype=np.float32) if cfg.cond_dim else None
        self = cls(cfg, images, cond, device)
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"])
        self.epoch, self.step_count, self.pos = int(state["epoch"]), int(state["step"]), int(state["pos"])
        self.perm = state["perm"]
        if self.perm is not None and len(self.perm) != len(self.images):
            self.perm, self.pos = None, 0
        self.history = [tuple(r) for r in state["history"].tolist()]
        self.cond_mean, self.cond_std, self.fixed_z = state["cond_mean"], state["cond_std"], state["fixed_z"]
        return self


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile ``(n, h, w, 3)`` images into one ``(H, W, 3)`` array with a black gutter."""
    n, h, w, _ = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = img
    return out


def train(trainer: Trainer, out_dir: Path, epochs: int, max_seconds: float | None = None,
          progress: bool = True, sample_cond: np.ndarray | None = None) -> Trainer:  # fmt: skip
    """Train until ``epochs`` epochs are done (counting earlier runs) or ``max_seconds`` pass.

    After every epoch: ``out_dir/checkpoint.pt`` and ``out_dir/samples/epoch_NNN.png`` (the
    same fixed noise each time, so the grids show learning); when epochs are shorter than
    :data:`SAVE_STEPS` steps, after the first, the last and every k-th epoch so that about
    SAVE_STEPS steps lie between saves. Progress lines go to stderr.
    """
    from PIL import Image

    out_dir = Path(out_dir)
    started = time.monotonic()
    last_report = 0.0
    n_fixed = min(64, len(trainer.fixed_z))
    cond = None
    if trainer.cfg.cond_dim and sample_cond is not None:
        cond = sample_cond[np.arange(n_fixed) % len(sample_cond)]
    images_done = 0
    # tiny libraries make epochs of a step or two: keep grids and checkpoints every ~SAVE_STEPS
    every = max(1, math.ceil(SAVE_STEPS / trainer.steps_per_epoch))
    while trainer.epoch < epochs:
        epoch_before = trainer.epoch
        ld, lg = trainer.step()
        end_of_epoch = trainer.epoch > epoch_before
        images_done += trainer.batch_size
        if not (math.isfinite(ld) and math.isfinite(lg)):
            raise FloatingPointError(f"GAN losses diverged at step {trainer.step_count}: D {ld}, G {lg}")
        now = time.monotonic() - started
        if progress and (now - last_report > 5 or end_of_epoch):
            last_report = now
            print(
                f"gan: epoch {trainer.epoch + (0 if end_of_epoch else 1)}/{epochs} step {trainer.step_count}  loss D {ld:.3f} "
                f"G {lg:.3f}  {images_done / max(now, 1e-9):.0f} images/s",
                file=sys.stderr, flush=True,
            )  # fmt: skip
        if end_of_epoch and (trainer.epoch in (1, epochs) or trainer.epoch % every == 0):
            grid = image_grid(trainer.generate(trainer.fixed_z[:n_fixed], cond))
            path = out_dir / "samples" / f"epoch_{trainer.epoch:03d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(grid).save(path)
            trainer.save(out_dir / "checkpoint.pt")
        if max_seconds is not None and now >= max_seconds:
            trainer.save(out_dir / "checkpoint.pt")
            if progress:
                print(f"gan: stopped after {now:.0f} s at step {trainer.step_count}; run again to resume",
                      file=sys.stderr)  # fmt: skip
            break
    return trainer
