"""numba behind `segue map` (UMAP and pynndescent; openTSNE imports pynndescent too) compiles
into segue's own cache, one process at a time, never into the shared cache in site-packages."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from segue.api import Library
from segue.art.layout import private_numba_cache

from conftest import REPO, build_library

ENV = {**os.environ, "PYTHONPATH": str(REPO / "src")}


def python(code: str, env: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code], env={**ENV, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def installed_numba_files() -> set[Path]:
    """numba cache files beside umap and pynndescent, where numba caches by default (found
    without importing them: importing compiles)."""
    out = set()
    for name in ("umap", "pynndescent"):
        spec = importlib.util.find_spec(name)
        if spec and spec.origin:
            out |= {p for p in Path(spec.origin).parent.rglob("*") if p.suffix in (".nbi", ".nbc")}
    return out


HOLD = """
import os, sys
from segue.art.layout import private_numba_cache
print("ready", flush=True)
with private_numba_cache() as folder:
    import numba
    print("in", folder, os.environ["NUMBA_CACHE_DIR"], numba.config.CACHE_DIR, flush=True)
"""


def test_the_numba_cache_is_segues_own_and_one_process_holds_it(tmp_path: Path, monkeypatch) -> None:
    cache = tmp_path / "segue-cache"
    env = {k: v for k, v in ENV.items() if k != "NUMBA_CACHE_DIR"} | {"SEGUE_CACHE": str(cache)}
    # numba's default would be site-packages; segue's is under its own cache folder
    free = subprocess.run([sys.executable, "-c", HOLD], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert free.returncode == 0, free.stderr
    folder = str(cache / "numba")
    assert free.stdout.split()[1:] == ["in", folder, folder, folder]
    # while this process holds the lock, another one waits at the door
    monkeypatch.setenv("SEGUE_CACHE", str(cache))
    monkeypatch.setenv("NUMBA_CACHE_DIR", folder)  # restored after the test: the block sets it
    with private_numba_cache() as held:
        assert str(held) == folder
        waiting = python(HOLD, {"SEGUE_CACHE": str(cache)})
        assert waiting.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        assert waiting.poll() is None  # blocked on the lock
    out, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0 and out.split()[0] == "in", err


@pytest.mark.slow  # 1-2.5 min on 2 cores: numba compiling pynndescent and UMAP from cold
def test_maps_at_once_from_a_cold_cache_compile_only_into_segues_cache(tmp_path: Path) -> None:
    build_library(tmp_path / "music")
    db = tmp_path / "library.db"
    with Library.open(db) as lib:  # 8 tracks: the fewest UMAP runs on (MIN_POINTS)
        lib.scan([tmp_path / "music"], progress=False)
    before = installed_numba_files()
    cache = tmp_path / "segue-cache"  # cold: no compiled code anywhere segue looks
    base = {k: v for k, v in ENV.items() if k != "NUMBA_CACHE_DIR"} | {"SEGUE_CACHE": str(cache)}

    def segue_map(i: int, method: str) -> subprocess.Popen:
        env = base | {"SEGUE_ART_CACHE": str(tmp_path / f"art{i}")}  # each computes its layout
        args = ["--db", str(db), "map", "--method", method, "-o", str(tmp_path / f"map{i}.html")]
        return subprocess.Popen([sys.executable, "-m", "segue.cli", *args], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # two UMAP maps at once, then a t-SNE one: openTSNE imports pynndescent, which compiles
    for wave in ([(0, "umap"), (1, "umap")], [(2, "tsne")]):
        runs = [segue_map(i, method) for i, method in wave]
        for run in runs:
            _, err = run.communicate(timeout=400)
            assert run.returncode == 0, err
    for i, method in ((0, "umap"), (1, "umap"), (2, "tsne")):
        assert (tmp_path / f"map{i}.html").stat().st_size > 1000
        assert list((tmp_path / f"art{i}" / "projections").glob(f"*-{method}-*.npz"))
    assert list((cache / "numba").rglob("*.nbi"))  # compiled into segue's cache ...
    assert installed_numba_files() == before  # ... and nothing beside the packages
