"""Deej-AI's encoder as a scan :class:`~segue.library.scan.AnalysisHook` (``scan --model deejai``).

The user supplies the weights file (see :func:`segue.listen.models.deejai.load_deejai`); nothing
is downloaded. Workers cut the 22.05 kHz decode into Deej-AI's 5-s mel slices and run the
encoder on them (or, with CUDA, the scanning process batches slices from every worker through
it: see :mod:`segue.listen.batching`). Stored per track under model ``deejai``:
``patches`` (float16 slice vectors, 100-d, for TF-IDF pooling later), ``track`` (the mean of the
unit slice vectors), ``intro`` and ``outro`` (the first and last three slices, ~15 s; see
:func:`segue.listen.pooling.pool_track`).
Descriptors are model-independent and are left to the MusiCNN pipeline.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segue.audio.model_frontends import DEEJAI_SLICE_SAMPLES, deejai_slices
from segue.errors import DecodeError, UserError
from segue.library.scan import Analysis
from segue.listen.batching import BatchingHook
from segue.listen.pooling import pool_track

MODEL = "deejai"
DEEJAI_RATE = 22050
DEEJAI_SLICE_SECONDS = DEEJAI_SLICE_SAMPLES / DEEJAI_RATE  # ~5 s: 15-s edges are 3 slices
SILENCE_RMS = 1e-4


class DeejAIHook(BatchingHook):
    """Analyse with Deej-AI's audio encoder from a user-supplied weights file."""

    model = MODEL
    decode_rates = (DEEJAI_RATE,)
    _main_only = ("_model",)

    def __init__(self, weights: str | os.PathLike[str], device: str | None = None,
                 batch_slices: int = 64, inference: str = "auto") -> None:  # fmt: skip
        from segue.listen.models.deejai import MODEL_VERSION

        super().__init__(batch_slices, device, inference)
        self.weights = Path(weights).expanduser()
        if not self.weights.exists():
            raise UserError(f"no such Deej-AI weights file: {self.weights}")
        self.version = MODEL_VERSION
        self._model: Any = None

    def setup(self) -> None:
        """Before a scan's workers start: load the weights file once here, so a bad file fails
        with one line before any work (kept only if the networks run here, ``central``)."""
        super().setup()
        self.load_models()
        if not self.central:
            self._model = None

    def load_models(self) -> None:
        """Load the weights (one-line UserError for a bad file)."""
        if self._model is None:
            import torch

            from segue.listen.models.deejai import load_deejai

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = load_deejai(self.weights, device)

    def prepare(self, audio: dict[int, np.ndarray]) -> np.ndarray:
        mono = audio[DEEJAI_RATE].mean(axis=0)
        if mono.size == 0 or not np.isfinite(mono).all():
            raise DecodeError("no usable audio")
        if float(np.sqrt(np.mean(mono.astype(np.float64) ** 2))) < SILENCE_RMS:
            raise DecodeError("silent audio")
        return deejai_slices(mono)

    def slices(self, prepared: np.ndarray) -> int:
        return len(prepared)

    def analyse(self, prepared: Sequence[np.ndarray]) -> list[Analysis]:
        """The encoder on the slices of ``prepared`` tracks at once, pooled per track."""
        vectors = self.embed(np.concatenate(list(prepared)))
        out, offset = [], 0
        for slices in prepared:
            out.append(Analysis(self.track_vectors(vectors[offset : offset + len(slices)])))
            offset += len(slices)
        return out

    def embed(self, slices: np.ndarray) -> np.ndarray:
        """``(S, 96, 216)`` slices -> ``(S, 100)`` vectors."""
        import torch

        self.load_models()
        device = next(self._model.parameters()).device
        out = []
        with torch.inference_mode():
            for start in range(0, len(slices), 64):
                x = torch.from_numpy(np.ascontiguousarray(slices[start : start + 64])).to(device)
                out.append(self._model(x).float().cpu().numpy())
        return np.concatenate(out)

    @staticmethod
    def track_vectors(vectors: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "patches": vectors.astype(np.float16),
            **pool_track(vectors, DEEJAI_SLICE_SECONDS, unit=True),
        }
