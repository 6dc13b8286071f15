"""Model weights: fetch, verify, convert once to safetensors, load from the cache afterwards.

MusiCNN (musicnn 0.1.0, ISC licence, (c) 2019 Music Technology Group, UPF) ships its TensorFlow
checkpoints inside its PyPI wheel. We never import TensorFlow: the wheel is fetched with
``pip download`` from the configured package index (pip's own configuration, proxy and
certificates apply; segue has no network code of its own), its sha256 is checked against
``MUSICNN_WHEEL_SHA256``, the checkpoints are read from the zip in memory with
:mod:`segue.listen.tensorbundle`, only the model variables are kept (Adam slots and beta powers
are dropped) and each model is written once to
``cache_dir()/models/musicnn-0.1.0-<MSD|MTT>_musicnn.safetensors`` (temp file + atomic rename).
Tensors keep their TensorFlow names and layouts; the model code maps them.

Machines without a package index can import a wheel copied from elsewhere with
:func:`import_wheel` (``segue models import FILE.whl``).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from segue.config import cache_dir
from segue.errors import UserError
from segue.files import atomic_path
from segue.listen.tensorbundle import CheckpointError, read_bundle

__all__ = [
    "MUSICNN_MODELS",
    "MUSICNN_VERSION",
    "MUSICNN_WHEEL",
    "MUSICNN_WHEEL_SHA256",
    "WeightsError",
    "download_musicnn_wheel",
    "import_wheel",
    "load_musicnn_weights",
    "musicnn_weights_path",
]

MUSICNN_VERSION = "0.1.0"
MUSICNN_REQUIREMENT = f"musicnn=={MUSICNN_VERSION}"
MUSICNN_WHEEL = f"musicnn-{MUSICNN_VERSION}-py3-none-any.whl"
MUSICNN_WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
MUSICNN_MODELS = ("MSD_musicnn", "MTT_musicnn")
# 792,079 stored model values per model (787,159 trainable + 4,920 BN moving statistics)
MUSICNN_N_VALUES = 792_079
_DOWNLOAD_TIMEOUT_S = 600

_MODEL_VARIABLE = re.compile(
    r"^(conv2d|dense|batch_normalization)(_\d+)?/"
    r"(kernel|bias|gamma|beta|moving_mean|moving_variance)$"
)


class WeightsError(UserError):
    """Model weights could not be fetched, verified or read; the message says what to do."""


def musicnn_weights_path(name: str) -> Path:
    """Where the converted weights of ``name`` (``MSD_musicnn`` or ``MTT_musicnn``) are cached."""
    _check_name(name)
    return cache_dir() / "models" / f"musicnn-{MUSICNN_VERSION}-{name}.safetensors"


def _check_name(name: str) -> None:
    if name not in MUSICNN_MODELS:
        raise ValueError(f"unknown musicnn model {name!r}; expected one of {MUSICNN_MODELS}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download_musicnn_wheel(dest: Path) -> Path:
    """Fetch the musicnn 0.1.0 wheel into folder ``dest`` with pip; return its path."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", MUSICNN_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    hint = f"on a machine without one, copy {MUSICNN_WHEEL} here and run `segue models import FILE.whl`"
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=_DOWNLOAD_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise WeightsError(
            f"could not run pip to download {MUSICNN_REQUIREMENT} ({e}); {hint}"
        ) from e
    wheel = dest / MUSICNN_WHEEL
    if proc.returncode != 0 or not wheel.is_file():
        lines = [ln.strip() for ln in (proc.stderr or proc.stdout or "").splitlines() if ln.strip()]
        why = lines[-1] if lines else f"pip exited with status {proc.returncode}"
        raise WeightsError(
            f"could not download {MUSICNN_REQUIREMENT} from the package index ({why}); {hint}"
        )
    return wheel


def _model_variables(variables: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    kept = {k: np.array(v, order="C") for k, v in variables.items() if _MODEL_VARIABLE.match(k)}
    n_values = sum(v.size for v in kept.values())
    if n_values != MUSICNN_N_VALUES:
        raise WeightsError(
            f"unexpected musicnn checkpoint: {n_values} model values, expected {MUSICNN_N_VALUES}"
        )
    return kept


def _atomic_save(tensors: dict[str, np.ndarray], path: Path, metadata: dict[str, str]) -> None:
    from safetensors.numpy import save_file

    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def import_wheel(path: str | os.PathLike[str]) -> list[Path]:
    """Verify a musicnn 0.1.0 wheel, convert its MusiCNN checkpoints and cache them.

    Returns the safetensors paths written (one per model in ``MUSICNN_MODELS``). Raises
    ``WeightsError`` if the file is missing, is not the expected wheel (sha256) or is corrupt.
    """
    wheel = Path(path)
    if not wheel.is_file():
        raise WeightsError(f"no such file: {wheel}")
    digest = _sha256(wheel)
    if digest != MUSICNN_WHEEL_SHA256:
        raise WeightsError(
            f"{wheel} is not {MUSICNN_WHEEL}: sha256 {digest}, expected {MUSICNN_WHEEL_SHA256}"
        )
    written = []
    try:
        with zipfile.ZipFile(wheel) as zf:
            for name in MUSICNN_MODELS:
                folder = f"musicnn/{name}/"
                index = zf.read(folder + ".index")

                def shard(i: int, n: int, folder: str = folder, zf: zipfile.ZipFile = zf) -> bytes:
                    return zf.read(f"{folder}.data-{i:05d}-of-{n:05d}")

                variables = _model_variables(read_bundle(index, shard))
                out = musicnn_weights_path(name)
                _atomic_save(
                    variables,
                    out,
                    {
                        "source": MUSICNN_WHEEL,
                        "source_sha256": digest,
                        "model": name,
                        "layout": "tensorflow",
                    },
                )
                written.append(out)
    except (zipfile.BadZipFile, KeyError, CheckpointError) as e:
        raise WeightsError(f"{wheel}: cannot read the musicnn checkpoints ({e})") from e
    return written


def _read_cached(path: Path, name: str) -> dict[str, np.ndarray] | None:
    """The cached tensors, or None if the file is missing, unreadable or from another source."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            if meta.get("source_sha256") != MUSICNN_WHEEL_SHA256 or meta.get("model") != name:
                return None
            return {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception:  # a truncated or garbled cache file is rebuilt, not fatal
        return None


def load_musicnn_weights(name: str = "MSD_musicnn") -> dict[str, np.ndarray]:
    """The model variables of ``name`` (TensorFlow names and layouts), as float32 arrays.

    Uses the safetensors cache; on a miss (or an unreadable cache file) downloads the wheel once
    with pip into a temporary folder, verifies and converts it (both models), then loads.
    """
    _check_name(name)
    path = musicnn_weights_path(name)
    cached = _read_cached(path, name)
    if cached is not None:
        return cached
    with tempfile.TemporaryDirectory(prefix="segue-musicnn-") as tmp:
        import_wheel(download_musicnn_wheel(Path(tmp)))
    cached = _read_cached(path, name)
    if cached is None:
        raise WeightsError(f"converted weights at {path} cannot be read back")
    return cached
