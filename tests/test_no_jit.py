"""Analysis needs no JIT-compiled code: scanning imports neither librosa nor numba, and segue
processes started together on a cold install (no compiled-code cache anywhere) all succeed.

librosa's beat tracker was numba code, compiled on first use into a cache shared by every process
of the install; processes compiling it at once left a corrupt cache (1 run in 3), after which
every analysis segfaulted. The beat tracker and the filterbanks are numpy now
(segue.listen.beats, segue.listen.descriptor_spectrum).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from audio_factory import write_audio
from conftest import REPO

JIT_PACKAGES = ("librosa", "numba", "llvmlite")

# Loaded first by every Python process (main and spawned workers) through PYTHONPATH: logs the
# process, and each first import of a JIT package or of the descriptors, to one file per process.
SITECUSTOMIZE = f"""
import json, os, sys

_log = os.path.join(os.environ["SEGUE_TEST_IMPORT_LOG"], f"{{os.getpid()}}.jsonl")
_watched = {JIT_PACKAGES!r} + ("segue.listen.descriptors",)

def _write(kind, value):
    with open(_log, "a") as f:
        f.write(json.dumps([kind, value]) + "\\n")

_write("argv", sys.argv)

def _hook(event, args):
    if event == "import" and str(args[0]).startswith(_watched):
        _write("import", str(args[0]))

sys.addaudithook(_hook)
"""


def watched_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment for run_cli/subprocess that logs every process's imports under tmp_path."""
    hooks, log = tmp_path / "hooks", tmp_path / "import-log"
    hooks.mkdir()
    log.mkdir()
    (hooks / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {"PYTHONPATH": f"{hooks}{os.pathsep}{REPO / 'src'}", "SEGUE_TEST_IMPORT_LOG": str(log)}
    return env, log


def processes(log: Path) -> list[dict]:
    """One entry per logged process: its argv, whether it is a spawned worker, its imports."""
    out = []
    for f in sorted(log.glob("*.jsonl")):
        lines = [json.loads(line) for line in f.read_text().splitlines()]
        argv = next(v for k, v in lines if k == "argv")
        out.append({"argv": argv, "worker": any("multiprocessing" in a or a == "segue-scan-worker" for a in argv),
                    "imports": {v for k, v in lines if k == "import"}})
    return out


def jit_imports(procs: list[dict]) -> list[tuple[list[str], list[str]]]:
    return [(p["argv"], sorted(m for m in p["imports"] if m.startswith(JIT_PACKAGES)))
            for p in procs if any(m.startswith(JIT_PACKAGES) for m in p["imports"])]


ANALYSE = """
import sys
import numpy as np
from segue.listen.pipeline import prepare_audio
t = np.arange(8 * 22050) / 22050
clicks = (np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 2 * t) > 0.9)).astype(np.float32)
p = prepare_audio({22050: np.stack([clicks, clicks]), 16000: np.stack([clicks[:8 * 16000]] * 2)})
assert p.descriptors["bpm"] and len(p.descriptors["beats"]) > 8, p.descriptors
print("\\n".join(sys.modules))
"""


def test_analysis_imports_neither_librosa_nor_numba() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", ANALYSE], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = done.stdout.split()
    assert not [m for m in modules if m.startswith(JIT_PACKAGES)]
    assert "segue.listen.descriptors" in modules  # the analysis did run here


def start(log: Path, env: dict[str, str], *args: str) -> subprocess.Popen:
    """``segue *args`` in the background, its output into ``log``."""
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, "-m", "segue.cli", *args], stdout=out,
                                stderr=subprocess.STDOUT, env={**os.environ, **env})


@pytest.mark.slow  # ~50 s on 2 cores: five segue processes, each loading torch and MusiCNN
def test_segue_processes_started_together_on_a_cold_install_all_succeed(tmp_path: Path) -> None:
    env, log = watched_env(tmp_path)
    # nothing compiled anywhere: numba, were it used, would start from this empty cache rather
    # than the one beside librosa in site-packages
    cache = tmp_path / "numba-cache"
    env["NUMBA_CACHE_DIR"] = str(cache)
    libs = {}
    for name, seed in (("a", 10), ("b", 20), ("c", 30), ("d", 40)):
        libs[name] = tmp_path / name
        for i in range(4):  # 4 files: a scan with --workers 2 spawns its pool
            write_audio(libs[name] / f"{i}.ogg", seconds=4.0, seed=seed + i)
    outside = [write_audio(tmp_path / f"outside{i}.wav", seconds=4.0, seed=90 + i)
               for i in range(2)]
    # the library `similar` searches, scanned beforehand in its own cold cache
    ready = subprocess.run([sys.executable, "-m", "segue.cli", "--db", str(tmp_path / "d.db"),
                            "scan", str(libs["d"]), "--workers", "1"],
                           capture_output=True, text=True, timeout=240,
                           env={**os.environ, **env, "NUMBA_CACHE_DIR": str(tmp_path / "other")})
    assert ready.returncode == 0, ready.stderr

    def scan(name: str) -> list[str]:
        return ["--db", str(tmp_path / f"{name}.db"), "scan", str(libs[name]), "--workers", "2"]

    def similar(i: int) -> list[str]:
        return ["--db", str(tmp_path / "d.db"), "similar", str(outside[i]), "-n", "2"]

    for n, wave in enumerate(([scan("a"), scan("b"), similar(0)], [scan("c"), similar(1)])):
        logs = [tmp_path / f"wave{n}-{i}.log" for i in range(len(wave))]
        runs = [start(out, env, *args) for out, args in zip(logs, wave, strict=True)]
        for args, run, out in zip(wave, runs, logs, strict=True):
            assert run.wait(timeout=240) == 0, (args, run.returncode, out.read_text())
    procs = processes(log)
    assert not jit_imports(procs)
    workers = [p for p in procs if p["worker"] and "segue.listen.descriptors" in p["imports"]]
    assert len(workers) >= 2, procs  # the scans' spawned workers analysed, and imported no JIT
    assert not cache.exists() or not any(cache.rglob("*"))
