"""What every neural model's scan hook shares: where its inference runs, and travelling to the
scan's workers without its models.

Two layouts (see :mod:`segue.library.scan`), chosen by ``inference``:

- ``workers``: each scan worker loads the models once, at one thread, and runs the networks on
  its own track. N cores analyse N tracks at once, nothing waits for anything; the scanning
  process loads no model. The default on a CPU.
- ``central``: workers stop after the model-free part (``prepare``); the scanning process runs
  the networks on batches gathered from every worker. The default when CUDA is present: one GPU
  serves all the workers, and decoding stays on the CPU cores.

A model's hook subclasses :class:`BatchingHook` and supplies ``load_models``, ``prepare`` (in
the workers), ``slices`` (model inputs in a prepared track, for batching) and ``analyse``
(networks and pooling for several prepared tracks at once, one
:class:`~segue.library.scan.Analysis` each).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

from segue.errors import UserError
from segue.library.scan import Analysis

INFERENCE = ("auto", "workers", "central")


def cuda_present() -> bool:
    """Whether torch sees a CUDA device. On Linux without the NVIDIA driver's device node it is
    known without importing torch (a second of start-up the scanning process does not need)."""
    if sys.platform.startswith("linux") and not os.path.exists("/dev/nvidiactl"):
        return False
    import torch

    return bool(torch.cuda.is_available())


class BatchingHook:
    """The scan hook's shared half: inference placement and pickling without models."""

    model: str
    version: str
    decode_rates: tuple[int, ...]
    #: Attributes that never travel to the scan's worker processes (loaded models).
    _main_only: tuple[str, ...] = ()

    def __init__(self, batch_slices: int, device: str | None = None, inference: str = "auto") -> None:
        if inference not in INFERENCE:
            raise UserError(f"inference must be one of {', '.join(INFERENCE)}, got {inference!r}")
        #: central inference gathers up to this many model inputs per batch
        self.batch_slices = batch_slices
        self.device = device
        self.inference = inference
        #: networks in the scanning process (settled by :meth:`setup`)
        self.central = inference == "central"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update({name: None for name in self._main_only})
        return state

    def setup(self) -> None:
        """In the scanning process before the workers start: settle where inference runs."""
        if self.inference == "auto":
            self.central = (self.device or "").startswith("cuda") or (
                self.device is None and cuda_present()
            )

    def load_models(self) -> None:
        raise NotImplementedError

    def prepare(self, audio: Any) -> Any:
        raise NotImplementedError

    def slices(self, prepared: Any) -> int:
        raise NotImplementedError

    def analyse(self, prepared: Sequence[Any]) -> list[Analysis]:
        raise NotImplementedError
