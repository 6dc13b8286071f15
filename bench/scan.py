"""Scan speed: cold scan (metadata only) and no-change rescan of the dev corpus copied N times.

    python bench/scan.py [--copies 20] [--runs 3] [--workers N]

Baseline in the same run: reading every byte of every file (the I/O floor of a cold scan, which
must read each file once to hash its audio payload). Copies are hard links where the filesystem
allows, so the files are identical to the OS page cache either way.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from segue import open_library  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


def make_copies(dst: Path, copies: int) -> list[Path]:
    files = sorted((CORPUS / "audio").iterdir())
    made = []
    for c in range(copies):
        folder = dst / f"copy {c:02d}"
        folder.mkdir(parents=True)
        for f in files:
            target = folder / f"{c:02d} {f.name}"
            try:
                os.link(f, target)
            except OSError:
                shutil.copy2(f, target)
            made.append(target)
    return made


def read_all(paths: list[Path]) -> float:
    started = time.perf_counter()
    for p in paths:
        with open(p, "rb") as fh:
            while fh.read(1 << 20):
                pass
    return time.perf_counter() - started


def timed_scan(db: Path, folder: Path, workers: int) -> tuple[float, int]:
    with open_library(db) as lib:
        started = time.perf_counter()
        report = lib.scan([folder], workers=workers, progress=False)
        return time.perf_counter() - started, report.added + report.unchanged


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"the dev corpus is absent ({CORPUS})")
    print(f"command: python bench/scan.py --copies {args.copies} --runs {args.runs} "
          f"--workers {args.workers}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "music"
        paths = make_copies(root, args.copies)
        n = len(paths)
        read_times, cold_times, rescan_times = [], [], []
        for run in range(args.runs):
            read_times.append(read_all(paths))
            db = Path(tmp) / f"run{run}.db"
            seconds, count = timed_scan(db, root, args.workers)
            assert count == n, (count, n)
            cold_times.append(seconds)
            seconds, count = timed_scan(db, root, args.workers)
            assert count == n
            rescan_times.append(seconds)
        read_s = statistics.median(read_times)
        cold_s = statistics.median(cold_times)
        rescan_s = statistics.median(rescan_times)
        print(f"files: {n}  workers: {args.workers}  runs: {args.runs} (medians)")
        print(f"baseline, read every byte:  {n / read_s:10.0f} files/s  ({read_s:.2f} s)")
        print(f"cold scan (metadata only):  {n / cold_s:10.0f} files/s  ({cold_s:.2f} s)  "
              f"= {read_s / cold_s:.3f} x baseline")  # fmt: skip
        print(f"no-change rescan:           {n / rescan_s:10.0f} files/s  ({rescan_s:.2f} s)  "
              f"= {read_s / rescan_s:.1f} x baseline")  # fmt: skip


if __name__ == "__main__":
    main()
