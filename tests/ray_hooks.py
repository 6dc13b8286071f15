"""An analysis hook for the Ray scan tests, importable by Ray's actors (they re-import a hook's
module from the test folder, never the test module). Test-only; nothing in segue uses it."""

from __future__ import annotations

import sys
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
