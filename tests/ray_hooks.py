"""An analysis hook for the Ray scan tests, importable by Ray's actors (they re-import a hook's
module from the test folder, never the test module). Test-only; nothing in segue uses it."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence

import numpy as np

from scan_hooks import ProbeHook
from segue.library.scan import Analysis


class WhereHook(ProbeHook):
    """ProbeHook that also stores whether the "model" ran inside a Ray actor (1) or not (0)."""

    model = "where"

    def analyse(self, prepared: Sequence[dict[str, object]]) -> list[Analysis]:
        ray = sys.modules.get("ray")
        in_actor = ray is not None and ray.is_initialized() and (
            ray.get_runtime_context().get_actor_id() is not None)  # fmt: skip
        out = super().analyse(prepared)
        for analysis in out:
            analysis.vectors["in_actor"] = np.array([int(in_actor)])
        return out


class SlowHook(WhereHook):
    """WhereHook that takes ``seconds`` over each track, first writing the Ray node it runs on to
    ``started`` (one line per track), so a test can act while a node holds a file."""

    def __init__(self, seconds: float, started: str) -> None:
        super().__init__()
        self.seconds = seconds
        self.started = started

    def prepare(self, audio: dict[int, np.ndarray]) -> dict[str, object]:
        import ray

        with open(self.started, "a") as fh:
            fh.write(ray.get_runtime_context().get_node_id() + "\n")
        time.sleep(self.seconds)
        return super().prepare(audio)
