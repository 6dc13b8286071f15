"""A small-data GAN trained on the library's own covers, conditioned on how the music sounds
(the MusiCNN MSD tag vector of the tracks that carry each cover).

A library has tens to a few thousand covers, far fewer than GANs are usually fed, so the
known small-data techniques are on by default:

- **DiffAugment** (Zhao et al., 2020): the discriminator only ever sees real *and* generated
  images through the same random, differentiable colour, translation and cutout changes, so it
  cannot memorise the few real covers and the generator still learns the un-augmented images;
- **spectral normalisation** of every discriminator layer (Miyato et al., 2018) and the hinge
  loss: a Lipschitz critic that does not overpower the generator on small data;
- a **projection discriminator** (Miyato & Koyama, 2018) for the condition (inner product of a
  tag embedding with the image features) instead of tag planes stacked on the pixels;
- a **mode-seeking term** (Mao et al., 2019): two noise vectors with the same tags must give
  images as different as the noise vectors are, so the noise is not ignored (the collapse where
  every sample for a track is the same picture);
- a generator that **upsamples then convolves** (nearest ×2, 3×3 conv) rather than transposed
  convolutions, which leave the checkerboard pattern that reads as JPEG damage, at 128 px by
  default.

Samples without a condition draw real tag vectors from the library (``cond_bank``), never a
zero or mean vector (which is no track's sound). Every random draw (weight init, epoch order,
noise, augmentation) comes from one ``torch.Generator`` whose state is saved in the checkpoint
together with both models, both optimisers, the epoch permutation and the position in it, so a
resumed run takes exactly the step an uninterrupted run would have taken (same device and thread
count: float reductions are not associative).
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
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from segue.files import atomic_path

CHECKPOINT_VERSION = 2
SAVE_STEPS = 20  # at least this many steps between per-epoch grids and checkpoints
BANK_SIZE = 2048  # real tag vectors kept in the checkpoint to condition unprompted samples


@dataclass
class GanConfig:
    """Model and optimiser settings; saved in the checkpoint and restored with it."""

    size: int = 128
    nz: int = 64
    ngf: int = 32
    ndf: int = 32
    cond_dim: int = 0
    embed_dim: int = 32  # the tag vector's learned embedding
    batch_size: int = 32
    lr: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    flip: bool = True
    augment: str = "color,translation,cutout"  # DiffAugment policy; "" for none
    spectral: bool = True  # spectral normalisation in the discriminator
    mode_seeking: float = 1.0  # weight of the mode-seeking term; 0 for none

    def __post_init__(self) -> None:
        n = int(round(math.log2(self.size)))
        if 2**n != self.size or not 16 <= self.size <= 256:
            raise ValueError(f"image size must be a power of two from 16 to 256, got {self.size}")
        unknown = set(filter(None, self.augment.split(","))) - set(AUGMENTS)
        if unknown:
            raise ValueError(f"unknown augmentations {sorted(unknown)}; known: {', '.join(AUGMENTS)}")

    @property
    def n_up(self) -> int:
        return int(round(math.log2(self.size))) - 2

    def channels(self, res: int, width: int) -> int:
        """Feature maps at resolution ``res``: ``width`` at half the image size, doubling
        towards 4×4 up to 8 × width (and half ``width`` at full size)."""
        steps = int(round(math.log2(self.size / res)))
        return max(4, min(width * 8, int(width * 2 ** (steps - 1))))


# -- DiffAugment (Zhao, Liu, Lin, Zhu, Han, NeurIPS 2020), with an explicit random generator -----
def _rand(n: int, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=gen).to(device)


def _color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    x = x + (_rand(len(x), gen, x.device) - 0.5)
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(len(x), gen, x.device) * 2) + mean
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(len(x), gen, x.device) + 0.5) + mean


def _translation(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), generator=gen).to(x.device)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), generator=gen).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")  # fmt: skip
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    pad = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    return pad.permute(0, 2, 3, 1).contiguous()[gb, gx, gy].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen).to(x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(n, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")  # fmt: skip
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


AUGMENTS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: str, gen: torch.Generator) -> torch.Tensor:
    """``x`` through the policy's augmentations (comma-separated names of :data:`AUGMENTS`);
    differentiable in ``x``, so the generator learns through them."""
    for name in filter(None, policy.split(",")):
        x = AUGMENTS[name](x, gen)
    return x


def mode_seeking_loss(fake: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Mao et al. (2019): the first and second halves of ``fake`` share their conditions; the
    loss is small when their images differ as much as their noise does (1 / the ratio of the
    mean absolute image difference to the mean absolute noise difference)."""
    half = len(fake) // 2
    ratio = (fake[:half] - fake[half : 2 * half]).abs().mean(dim=[1, 2, 3]) / (
        (z[:half] - z[half : 2 * half]).abs().mean(1) + 1e-8
    )
    return 1.0 / (ratio.mean() + 1e-5)


class Generator(nn.Module):
    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Linear(cfg.cond_dim, cfg.embed_dim) if cfg.cond_dim else None
        c0 = cfg.channels(4, cfg.ngf)
        self.c0 = c0
        self.fc = nn.Linear(cfg.nz + (cfg.embed_dim if cfg.cond_dim else 0), c0 * 16)
        self.bn0 = nn.BatchNorm2d(c0)
        blocks: list[nn.Module] = []
        ch, res = c0, 4
        for _ in range(cfg.n_up):
            res *= 2
            out = cfg.channels(res, cfg.ngf)
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, out, 3, 1, 1, bias=False),
                       nn.BatchNorm2d(out), nn.LeakyReLU(0.2, True)]  # fmt: skip
            ch = out
        blocks += [nn.Conv2d(ch, 3, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None and cond is not None:
            z = torch.cat([z, self.embed(cond)], dim=1)
        h = self.fc(z).view(len(z), self.c0, 4, 4)
        return self.net(F.leaky_relu(self.bn0(h), 0.2))


class Discriminator(nn.Module):
    def __init__(self, cfg: GanConfig) -> None:
        super().__init__()

        def sn(m: nn.Module) -> nn.Module:
            return spectral_norm(m) if cfg.spectral else m

        layers: list[nn.Module] = []
        ch, res = 3, cfg.size
        while res > 4:
            res //= 2
            out = cfg.channels(res, cfg.ndf)
            layers += [sn(nn.Conv2d(ch, out, 4, 2, 1)), nn.LeakyReLU(0.2, True)]
            ch = out
        self.net = nn.Sequential(*layers)
        self.out = sn(nn.Linear(ch, 1))
        self.embed = sn(nn.Linear(cfg.cond_dim, ch, bias=False)) if cfg.cond_dim else None

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.net(x).sum(dim=[2, 3])  # global sum pooling of the 4×4 features
        logit = self.out(h).reshape(-1)
        if self.embed is not None and cond is not None:
            logit = logit + (self.embed(cond) * h).sum(1)  # the projection term
        return logit


def _init_weights(m: nn.Module, gen: torch.Generator) -> None:
    # He-normal weights for the leaky-ReLU layers (from our generator, so runs repeat), unit
    # batch-norm scales; spectral norm rescales the critic's weights anyway
    para = getattr(m, "parametrizations", None)
    w = para.weight.original if para is not None and hasattr(para, "weight") else getattr(m, "weight", None)
    if isinstance(m, nn.Conv2d | nn.Linear) and w is not None:
        fan_in = w[0].numel()
        gain = 1.0 if w.shape[0] in (1, 3) else math.sqrt(2.0 / (1 + 0.2**2))
        with torch.no_grad():
            w.copy_(torch.randn(w.shape, generator=gen) * gain / math.sqrt(fan_in))
            if m.bias is not None:
                m.bias.zero_()
    elif isinstance(m, nn.BatchNorm2d):
        with torch.no_grad():
            m.weight.fill_(1.0)
            m.bias.zero_()


def pick_device(device: str = "auto") -> torch.device:
    """``auto``: CUDA when there is one, else CPU."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Trainer:
    """Both networks, their optimisers, the data and the random state of one training run.

    ``bank``: real tag vectors of the library (and ``bank_ids``, their track ids) from which
    samples without a given condition draw theirs; by default the training conditions.
    """

    def __init__(self, cfg: GanConfig, images: np.ndarray, cond: np.ndarray | None = None,
                 device: str | torch.device = "cpu", bank: np.ndarray | None = None,
                 bank_ids: np.ndarray | None = None) -> None:  # fmt: skip
        if len(images) == 0:
            raise ValueError("no images to train on")
        if cfg.cond_dim and (cond is None or cond.shape != (len(images), cfg.cond_dim)):
            raise ValueError(f"conditional GAN needs a ({len(images)}, {cfg.cond_dim}) tag matrix")
        self.cfg = cfg
        self.device = pick_device(device) if isinstance(device, str) else device
        self.rng = torch.Generator().manual_seed(cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)  # spectral norm's power-iteration vectors: repeatable
            self.G = Generator(cfg)
            self.D = Discriminator(cfg)
        self.G.apply(lambda m: _init_weights(m, self.rng))
        self.D.apply(lambda m: _init_weights(m, self.rng))
        self.G.to(self.device)
        self.D.to(self.device)
        # TTUR-style: the critic learns faster than the generator (common with spectral norm)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr * 2, betas=(cfg.beta1, 0.999))
        self.epoch = 0
        self.step_count = 0
        self.pos = 0
        self.perm: torch.Tensor | None = None
        self.history: list[tuple[float, float]] = []
        self.set_data(images, cond)
        self.n_images = len(images)
        self.cond_mean = torch.zeros(cfg.cond_dim)
        self.cond_std = torch.ones(cfg.cond_dim)
        self.bank = torch.zeros(0, cfg.cond_dim)
        self.bank_ids = torch.zeros(0, dtype=torch.int64)
        if cfg.cond_dim:
            c = torch.from_numpy(np.asarray(cond, dtype=np.float32))
            self.cond_mean = c.mean(0)
            self.cond_std = c.std(0, unbiased=False).clamp_min(1e-3)
            bank_np = np.asarray(bank if bank is not None else cond, dtype=np.float32)[:BANK_SIZE]
            self.bank = torch.from_numpy(bank_np.copy())
            ids = bank_ids if bank_ids is not None else -np.ones(len(bank_np), dtype=np.int64)
            self.bank_ids = torch.as_tensor(np.asarray(ids, dtype=np.int64)[:BANK_SIZE])
        self.fixed_z = torch.randn(64, cfg.nz, generator=self.rng)

    def set_data(self, images: np.ndarray, cond: np.ndarray | None) -> None:
        """The training images, ``(N, size, size, 3)`` uint8, and their tag vectors."""
        s = self.cfg.size
        if images.shape[1:] != (s, s, 3):
            raise ValueError(f"images must be (N, {s}, {s}, 3), got {images.shape}")
        self.images = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()
        self.cond = None if cond is None else torch.from_numpy(np.asarray(cond, dtype=np.float32))
        self.n_images = len(images)
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

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.cfg.augment, self.rng) if self.cfg.augment else x

    def step(self) -> tuple[float, float]:
        """One discriminator and one generator update (hinge loss, DiffAugment on both real and
        generated images, the mode-seeking term); returns (loss_d, loss_g)."""
        self.G.train()
        self.D.train()
        x, c = self._next_batch()
        b = len(x)
        # noise in pairs that share a condition: the mode-seeking term compares the two halves
        half = max(1, b // 2)
        z = torch.randn(b, self.cfg.nz, generator=self.rng)
        x, z = x.to(self.device), z.to(self.device)
        cf = None
        if c is not None:
            c = c.to(self.device)
            cf = torch.cat([c[:half], c[:half], c[2 * half :]])[:b]
        fake = self.G(z, cf)
        self.opt_d.zero_grad(set_to_none=True)
        loss_d = F.relu(1 - self.D(self._aug(x), c)).mean() + F.relu(1 + self.D(self._aug(fake.detach()), cf)).mean()
        loss_d.backward()
        self.opt_d.step()

        self.opt_g.zero_grad(set_to_none=True)
        loss_g = -self.D(self._aug(fake), cf).mean()
        total = loss_g
        if self.cfg.mode_seeking > 0 and b >= 2:
            total = total + self.cfg.mode_seeking * mode_seeking_loss(fake[: 2 * half], z[: 2 * half])
        total.backward()
        self.opt_g.step()
        self.step_count += 1
        if self.pos + self.batch_size > len(self.images):  # the rest is less than a batch
            self.epoch += 1
            self.perm, self.pos = None, 0
        out = (loss_d.item(), loss_g.item())
        self.history.append(out)
        return out

    def draw_conditions(self, n: int, seed: int = 0) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``n`` real tag vectors from the library (the bank), seeded; and their track ids."""
        if not self.cfg.cond_dim or len(self.bank) == 0:
            return None, None
        gen = torch.Generator().manual_seed(seed + 1)
        idx = torch.randint(0, len(self.bank), (n,), generator=gen)
        return self.bank[idx].numpy(), self.bank_ids[idx].numpy()

    @torch.no_grad()
    def generate(self, z: torch.Tensor, cond: np.ndarray | torch.Tensor | None = None) -> np.ndarray:
        """Images for latent vectors ``z`` (and raw tag vectors), as ``(n, size, size, 3)`` uint8.
        A conditional model given no tags draws real ones from the library."""
        self.G.eval()
        c = None
        if self.cfg.cond_dim:
            if cond is None:
                cond, _ = self.draw_conditions(len(z))
            if cond is None:  # no bank (a checkpoint without one): the library's average sound
                c = torch.zeros(len(z), self.cfg.cond_dim)
            else:
                c = self.norm_cond(torch.as_tensor(np.asarray(cond, dtype=np.float32)))
            c = c.to(self.device)
        out = []
        for start in range(0, len(z), 128):
            cc = None if c is None else c[start : start + 128]
            img = self.G(z[start : start + 128].to(self.device), cc)
            out.append(((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy())
        return np.concatenate(out)

    def sample(self, n: int, cond: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
        """``n`` new images from seeded noise (the training random state is not touched);
        without ``cond`` a conditional model draws real tag vectors (:meth:`draw_conditions`)."""
        z = torch.randn(n, self.cfg.nz, generator=torch.Generator().manual_seed(seed))
        if cond is None and self.cfg.cond_dim:
            cond, _ = self.draw_conditions(n, seed)
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
            "bank": self.bank,
            "bank_ids": self.bank_ids,
            "n_images": self.n_images,
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
        from segue.errors import UserError

        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except (OSError, RuntimeError, EOFError, ValueError) as exc:
            raise UserError(f"{path}: not a readable GAN checkpoint ({exc})") from exc
        if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise UserError(f"{path}: a GAN checkpoint of version {version}, this segue reads version "
                            f"{CHECKPOINT_VERSION}: train again with --fresh")  # fmt: skip
        cfg = GanConfig(**state["config"])
        trained_on = int(state.get("n_images", 0))
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
        self.bank, self.bank_ids = state["bank"], state["bank_ids"]
        if len(images) == 1 and trained_on:
            self.n_images = trained_on  # a sampler: what the model learned from
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
