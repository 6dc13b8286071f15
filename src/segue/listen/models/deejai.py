"""Deej-AI's audio encoder ("speccy" model) in PyTorch, and a loader for its published weights.

The network maps one 5-s Deej-AI mel slice, shape (96 mel bands, 216 frames) scaled to [0, 1]
(``segue.audio.model_frontends.deejai_slices``), to a 100-d vector in Deej-AI's Track2Vec space:

    3 x [SeparableConv2d 3x3 "same" (depthwise, no bias; pointwise, bias)
         -> LeakyReLU(0.2) -> BatchNorm(eps 1e-3) -> MaxPool 2x2 -> Dropout]   filters 32/64/128
    -> flatten in NHWC order (12 x 27 x 128 = 41 472, the Keras order the weights were trained in)
    -> Dense 1024 -> LeakyReLU(0.2) -> BatchNorm -> Dropout -> Dense 100 (linear)

42 587 213 numbers in all, counted as Keras counts them (trainable parameters plus the batch-norm
running means and variances); see :func:`count_parameters`.

Weights are never bundled or downloaded here: :func:`load_deejai` reads a file the user supplies in
the published PyTorch format, i.e. the ``diffusion_pytorch_model.bin`` (torch-pickled state dict) or
``diffusion_pytorch_model.safetensors`` of the Hugging Face ``teticio/audio-encoder`` model, whose
keys are those of ``AudioEncoder`` in teticio/audio-diffusion (``conv_blocks.0.sep_conv.depthwise.
weight`` ...). The file's keys are mapped onto this module's own names and every shape is checked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import nn

from segue.errors import UserError

#: Bump when the architecture, the key mapping or the expected input changes: vectors stored under
#: an older version are recomputed.
MODEL_VERSION = "deejai-audio-encoder-1"

N_MELS = 96
N_FRAMES = 216
EMBED_DIM = 100
FILTERS = (32, 64, 128)
DROPOUT = (0.2, 0.3, 0.4)
FLAT_DIM = (N_MELS // 8) * (N_FRAMES // 8) * FILTERS[-1]  # 12 * 27 * 128 = 41 472
HIDDEN = 1024
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # Keras momentum 0.99; irrelevant at inference, kept for fidelity
N_PARAMETERS = 42_587_213  # the Keras summary's "Total params"


class _SeparableBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, dropout: float) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
        self.pointwise = nn.Conv2d(c_in, c_out, 1, bias=True)
        self.act = nn.LeakyReLU(0.2)
        self.bn = nn.BatchNorm2d(c_out, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.pool = nn.MaxPool2d(2)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pointwise(self.depthwise(x))
        return self.drop(self.pool(self.bn(self.act(x))))


class DeejAIEncoder(nn.Module):
    """Deej-AI's slice encoder: (B, 96, 216) or (B, 1, 96, 216) in [0, 1] -> (B, 100)."""

    def __init__(self) -> None:
        super().__init__()
        chans = (1, *FILTERS)
        self.blocks = nn.ModuleList(
            _SeparableBlock(chans[i], chans[i + 1], DROPOUT[i]) for i in range(len(FILTERS))
        )
        self.dense = nn.Linear(FLAT_DIM, HIDDEN)
        self.dense_act = nn.LeakyReLU(0.2)
        self.dense_bn = nn.BatchNorm1d(HIDDEN, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.dense_drop = nn.Dropout(0.5)
        self.embedding = nn.Linear(HIDDEN, EMBED_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 3:
            x = x.unsqueeze(1)
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, N_MELS, N_FRAMES):
            raise ValueError(
                f"DeejAIEncoder expects (B, {N_MELS}, {N_FRAMES}) or (B, 1, {N_MELS}, {N_FRAMES}),"
                f" got {tuple(x.shape)}"
            )
        for block in self.blocks:
            x = block(x)
        # Keras flattens channels-last: (B, C, H, W) -> (B, H, W, C) -> (B, H*W*C).
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = self.dense_drop(self.dense_bn(self.dense_act(self.dense(x))))
        return self.embedding(x)

    @torch.no_grad()
    def embed(self, slices: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Encode an array of slices (S, 96, 216) -> (S, 100) float32, in eval mode, batched."""
        arr = np.asarray(slices, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[1:] != (N_MELS, N_FRAMES):
            raise ValueError(f"expected slices of shape (S, {N_MELS}, {N_FRAMES}), got {arr.shape}")
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        out = np.empty((arr.shape[0], EMBED_DIM), dtype=np.float32)
        try:
            for start in range(0, arr.shape[0], batch_size):
                xb = torch.from_numpy(arr[start : start + batch_size]).to(device)
                out[start : start + len(xb)] = self(xb).float().cpu().numpy()
        finally:
            self.train(was_training)
        return out


def count_parameters(model: nn.Module) -> int:
    """Numbers in the model as Keras counts them: parameters plus BN running mean/variance."""
    n = sum(p.numel() for p in model.parameters())
    for name, buf in model.named_buffers():
        if name.endswith(("running_mean", "running_var")):
            n += buf.numel()
    return n


# --- published-format key mapping -----------------------------------------------------------

_BN_FIELDS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
# num_batches_tracked only counts training steps; it plays no part in inference, so it may be absent.
_OPTIONAL_SUFFIX = "num_batches_tracked"


def _published_key_map() -> dict[str, str]:
    """Published ``AudioEncoder`` key -> this module's key."""
    m: dict[str, str] = {}
    for i in range(len(FILTERS)):
        src, dst = f"conv_blocks.{i}", f"blocks.{i}"
        m[f"{src}.sep_conv.depthwise.weight"] = f"{dst}.depthwise.weight"
        m[f"{src}.sep_conv.pointwise.weight"] = f"{dst}.pointwise.weight"
        m[f"{src}.sep_conv.pointwise.bias"] = f"{dst}.pointwise.bias"
        for f in _BN_FIELDS:
            m[f"{src}.batch_norm.{f}"] = f"{dst}.bn.{f}"
    m["dense_block.dense.weight"] = "dense.weight"
    m["dense_block.dense.bias"] = "dense.bias"
    for f in _BN_FIELDS:
        m[f"dense_block.batch_norm.{f}"] = f"dense_bn.{f}"
    m["embedding.weight"] = "embedding.weight"
    m["embedding.bias"] = "embedding.bias"
    return m


PUBLISHED_KEY_MAP: dict[str, str] = _published_key_map()


def _read_state_dict(path: Path) -> Mapping[str, object]:
    name = path.name
    if not path.is_file():
        raise UserError(f"Deej-AI weights not found: {path}")
    if path.suffix == ".safetensors":
        try:
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        except Exception as exc:  # safetensors raises several types for corrupt headers
            raise UserError(
                f"cannot read Deej-AI weights {name}: not a valid safetensors file"
                f" ({type(exc).__name__})"
            ) from None
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # an untrusted user file can fail in many ways; all mean "unreadable"
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"cannot read Deej-AI weights {name}: not a PyTorch state dict ({first})"
        ) from None
    # Tolerate the usual wrappers (a Lightning checkpoint) around the state dict.
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(k, str) for k in obj):
        raise UserError(f"cannot read Deej-AI weights {name}: the file holds no state dict")
    return obj


def _strip_prefix(sd: Mapping[str, object]) -> dict[str, object]:
    """Drop one wrapper prefix ('model.', 'module.', ...) shared by every key, if keys need it."""
    sd = dict(sd)
    if any(k in PUBLISHED_KEY_MAP for k in sd):
        return sd
    for prefix in ("model.", "module.", "audio_encoder.", "encoder."):
        if sd and all(k.startswith(prefix) for k in sd):
            return {k[len(prefix) :]: v for k, v in sd.items()}
    return sd


def map_published_state_dict(
    sd: Mapping[str, object], model: DeejAIEncoder, source: str = "state dict"
) -> dict[str, torch.Tensor]:
    """Translate a published-format state dict to this module's keys, checking every shape.

    Raises ``UserError`` (one line) on missing keys, unexpected keys, wrong shapes or non-float
    tensors.
    """
    sd = _strip_prefix(sd)
    target = model.state_dict()
    missing = [k for k in PUBLISHED_KEY_MAP if k not in sd and not k.endswith(_OPTIONAL_SUFFIX)]
    if missing:
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        raise UserError(
            f"{source} is not a Deej-AI audio encoder: missing {', '.join(missing[:3])}{more}"
        )
    unexpected = sorted(k for k in sd if k not in PUBLISHED_KEY_MAP)
    if unexpected:
        more = f" (+{len(unexpected) - 3} more)" if len(unexpected) > 3 else ""
        raise UserError(
            f"{source} is not a Deej-AI audio encoder: unexpected {', '.join(unexpected[:3])}{more}"
        )
    out: dict[str, torch.Tensor] = {}
    for src, dst in PUBLISHED_KEY_MAP.items():
        if src not in sd:
            continue  # optional num_batches_tracked
        t = sd[src]
        if not isinstance(t, torch.Tensor):
            raise UserError(f"{source}: {src} is not a tensor")
        want = target[dst]
        if tuple(t.shape) != tuple(want.shape):
            raise UserError(
                f"{source}: {src} has shape {tuple(t.shape)}, expected {tuple(want.shape)}"
            )
        if src.endswith(_OPTIONAL_SUFFIX):
            out[dst] = t.to(want.dtype)
            continue
        if not t.is_floating_point():
            raise UserError(f"{source}: {src} has dtype {t.dtype}, expected floating point")
        if not torch.isfinite(t).all():
            raise UserError(f"{source}: {src} holds NaN or infinite values")
        out[dst] = t.to(torch.float32)
    return out


def load_deejai(
    path: str | os.PathLike[str], device: str | torch.device | None = None
) -> DeejAIEncoder:
    """Load Deej-AI weights from a user-supplied file; returns the encoder in eval mode.

    ``path``: ``diffusion_pytorch_model.bin`` (torch-pickled state dict, read with
    ``weights_only=True``) or a ``.safetensors`` file with the same keys, as published for Hugging
    Face ``teticio/audio-encoder``; a directory holding one of those is accepted too. Raises
    ``UserError`` with a one-line message for a missing/unreadable file or a key/shape mismatch.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        for cand in ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin"):
            if (p / cand).is_file():
                p = p / cand
                break
        else:
            raise UserError(f"no diffusion_pytorch_model.bin or .safetensors in {p}")
    sd = _read_state_dict(p)
    with torch.device("meta"):  # no point initialising 42 M numbers we are about to overwrite
        model = DeejAIEncoder()
    mapped = map_published_state_dict(sd, model, source=p.name)
    for key, t in model.state_dict().items():
        if key not in mapped:  # only the optional num_batches_tracked counters
            mapped[key] = torch.zeros(t.shape, dtype=t.dtype)
    model.load_state_dict(mapped, strict=True, assign=True)
    model.eval()
    if device is not None:
        model.to(device)
    return model
