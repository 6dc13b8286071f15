"""Analysis hooks for scan tests, importable by the scan's worker processes (which re-import a
hook's module, never the test module that ran the scan). Test-only; nothing in segue uses them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from segue.library.scan import Analysis
from segue.library.store import Store


class ProbeHook:
    """Stores, as the track's "vectors", facts about the process that analysed it: its pid, the
    BLAS thread setting it started with, and whether it ran the "model" in a worker."""

    model, version, decode_rates = "probe", "1", (16000,)
    batch_slices = 4

    def __init__(self, central: bool = False, marker: str | None = None) -> None:
        self.central = central
        #: a file that gets one line per load_models call, in whatever process makes it
        self.marker = marker

    def setup(self) -> None:
        pass

    def load_models(self) -> None:
        if self.marker:
            with open(self.marker, "a") as fh:
                fh.write(f"{os.getpid()}\n")

    def prepare(self, audio: dict[int, np.ndarray]) -> dict[str, object]:
        return {"threads": os.environ.get("OPENBLAS_NUM_THREADS"), "worker": os.getpid(),
                "seconds": audio[16000].shape[-1] / 16000}  # fmt: skip

    def slices(self, prepared: dict[str, object]) -> int:
        return 1

    def analyse(self, prepared: Sequence[dict[str, object]]) -> list[Analysis]:
        return [
            Analysis({"threads": np.array([int(p["threads"] or -1)]),
                      "prepared_in": np.array([p["worker"]]),
                      "analysed_in": np.array([os.getpid()])})  # fmt: skip
            for p in prepared
        ]


class KillerHook(ProbeHook):
    """Kills the worker process it runs in (SIGKILL, as the out-of-memory killer or a crash in
    native code would) when a track lasts longer than ``kill_above`` seconds."""

    def __init__(self, kill_above: float, marker: str | None = None) -> None:
        super().__init__(marker=marker)
        self.kill_above = kill_above

    def prepare(self, audio: dict[int, np.ndarray]) -> dict[str, object]:
        if audio[16000].shape[-1] / 16000 > self.kill_above:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().prepare(audio)


def marker_lines(path: str | Path) -> list[str]:
    p = Path(path)
    return p.read_text().split() if p.exists() else []


def interrupt_at_first_progress(proc: subprocess.Popen, db: Path, n_files: int) -> None:
    """Ctrl-C a running ``segue scan --json`` (text pipes) at its first progress line, then
    check it stopped part-way and reported exactly what the library holds."""
    assert proc.stderr is not None
    for line in proc.stderr:  # the first progress line: files are being analysed and saved
        if line.startswith("scan: "):
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    report = json.loads(out)
    assert report["interrupted"] is True
    with Store(db) as store:
        tracks = store.count_tracks()
        analysed = len(store.analysis_status("musicnn"))
    assert 1 <= tracks < n_files, "the scan was not interrupted part-way"
    assert (report["added"], report["analysed"]) == (tracks, analysed)
    assert f"({tracks} added)" in err
