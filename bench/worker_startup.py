"""Start-up cost of a scan worker: this checkout against an older one (librosa's numba beat tracker).

    python bench/worker_startup.py --old-src /tmp/old/src [--runs 7]

Each run is a fresh process, as a spawned scan worker is (BLAS at one thread, as the scan sets
it), that imports what a worker imports (``segue.library.scan``, ``segue.listen.pipeline``,
``segue.audio.decode``) and then prepares one 10-s clip twice (``pipeline.prepare_audio``: the
MusiCNN log-mel and the descriptors, the DSP a worker runs per track). Start-up is the imports
plus the first clip's extra time over the second, in wall-clock and in the process's CPU seconds (with librosa: importing it, and numba loading
the beat tracker from its cache and compiling the one function librosa does not cache). Runs
alternate old, new, old, new...; the figures are medians. ``--cold`` adds runs of the old code
with an empty numba cache (a fresh install's first scan: every worker compiles everything).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WORKER = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
sys.path.insert(0, sys.argv[1])
import numpy as np
import segue.audio.decode, segue.library.scan, segue.listen.pipeline
from segue.listen.pipeline import prepare_audio
t1, c1 = time.perf_counter(), time.process_time()
rng = np.random.default_rng(0)
t = np.arange(10 * 22050) / 22050
beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.standard_normal(t.size)
song = (0.3 * np.sin(2 * np.pi * 220 * t) + beat).astype(np.float32)
audio = {22050: np.stack([song, song]), 16000: np.stack([song[::2][:160000]] * 2)}
prepare_audio(audio)
t2, c2 = time.perf_counter(), time.process_time()
prepare_audio(audio)
t3, c3 = time.perf_counter(), time.process_time()
assert segue.listen.pipeline.__file__.startswith(sys.argv[1])
print(json.dumps({"imports": t1 - t0, "first": t2 - t1, "steady": t3 - t2,
                  "cpu_startup": (c1 - c0) + (c2 - c1) - (c3 - c2),
                  "librosa": "librosa" in sys.modules, "numba": "numba" in sys.modules}))
"""


def one_run(src: str, env: dict[str, str]) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WORKER, src], capture_output=True, text=True,
                         env=env, check=True)
    r = json.loads(out.stdout)
    r["process"] = time.perf_counter() - t0
    r["startup"] = r["imports"] + r["first"] - r["steady"]
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old-src", required=True, help="src/ of the older checkout")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--cold", type=int, default=0, help="runs of the old code, empty numba cache")
    args = ap.parse_args()
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONPATH": ""}
    env.pop("NUMBA_CACHE_DIR", None)
    srcs = {"old": str(Path(args.old_src).resolve()), "new": str(ROOT / "src")}
    for src in srcs.values():
        one_run(src, env)  # the first run after a change also writes .pyc files: not counted
    results: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(args.runs):
        for name, src in srcs.items():
            results[name].append(one_run(src, env))
    if args.cold:
        results["old, cold numba cache"] = []
        for _ in range(args.cold):
            with tempfile.TemporaryDirectory() as cache:
                results["old, cold numba cache"].append(
                    one_run(srcs["old"], {**env, "NUMBA_CACHE_DIR": cache}))
    print(f"medians of {args.runs} fresh processes (seconds); start-up = imports + first clip"
          " - steady clip")
    print(f"{'':24} {'imports':>8} {'1st clip':>9} {'steady':>7} {'start-up':>9} "
          f"{'process':>8} {'CPU s.-up':>9}  librosa/numba imported")
    for name, rs in results.items():
        med = {k: statistics.median(r[k] for r in rs)
               for k in ("imports", "first", "steady", "startup", "process", "cpu_startup")}
        print(f"{name:24} {med['imports']:8.2f} {med['first']:9.2f} {med['steady']:7.2f} "
              f"{med['startup']:9.2f} {med['process']:8.2f} {med['cpu_startup']:9.2f}  "
              f"{rs[0]['librosa']}/{rs[0]['numba']}")
    old = statistics.median(r["startup"] for r in results["old"])
    new = statistics.median(r["startup"] for r in results["new"])
    print(f"start-up new / old: {new / old:.3f} ({old - new:.2f} s less per worker)")
    old_cpu = statistics.median(r["cpu_startup"] for r in results["old"])
    new_cpu = statistics.median(r["cpu_startup"] for r in results["new"])
    print(f"CPU start-up new / old: {new_cpu / old_cpu:.3f} ({old_cpu - new_cpu:.2f} CPU-s less)")


if __name__ == "__main__":
    main()
