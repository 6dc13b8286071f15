"""`segue scan --ray` against the local `segue scan` on the same files, on this one machine.

    python bench/scan_ray.py [--runs 3] [--workers 2] [--limit N] [--no-running]

Each timed command is a fresh process started from here, as a user starts it, scanning the same
files (links to the dev corpus in a folder of their own) into a new, empty library:

(a) ``segue scan DIR --workers N --json``: the local worker processes, the baseline;
(b) ``segue scan DIR --ray --workers N --json``: Ray actors; ``auto`` finds no Ray instance
    running (each run gets a Ray folder of its own) and starts one, then stops it: what a first
    ``--ray`` on a laptop costs;
(c) ``segue scan DIR --ray ADDRESS --workers N --json``: Ray actors on an instance already running
    (``ray start --head --num-cpus N`` started here once, before the runs): what a scan on a
    standing cluster costs, without Ray's own start and stop (skipped with ``--no-running``).

The model weights and compiled-code caches are warm (one local scan of one file runs first) and
every file is read once so the page cache holds them. Runs alternate (a), (b), (c); medians of
``--runs``. Reported: wall seconds and the overhead of (b) and (c) over (a), b/a - 1 (the goal:
<= 15 % on one machine). Wall clock only: Ray's processes are not this script's children, so
their CPU time cannot be counted the way bench/scan_speed.py counts the local scan's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus_links import CORPUS, REPO, linked_corpus


def timed(cmd: list[str], env: dict[str, str], n_files: int) -> float:
    """Wall seconds of one scan command, which must add and analyse every file."""
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[3:])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    if report["added"] != n_files or report["analysed"] != n_files:
        sys.exit(f"{' '.join(cmd[3:])}: added {report['added']}, analysed {report['analysed']} "
                 f"of {n_files}: {report['errors'][:3]}")  # fmt: skip
    return wall


def start_ray_head(workers: int, ray_tmp: str, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """A Ray head of ``workers`` CPUs in its own folder (``ray start --block``, stopped by its pid)."""
    ray = Path(sys.executable).with_name("ray")
    proc = subprocess.Popen(
        [str(ray), "start", "--head", "--num-cpus", str(workers), "--port", "0",
         "--disable-usage-stats", "--block"],
        env={**env, "RAY_TMPDIR": ray_tmp}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    address_file = Path(ray_tmp) / "ray" / "ray_current_cluster"
    deadline = time.monotonic() + 120
    while not address_file.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"ray start failed:\n{proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)
    time.sleep(1.0)  # the file is written as the head comes up
    return proc, address_file.read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    parser.add_argument("--no-running", action="store_true",
                        help="skip (c), the scan on an already running Ray instance")  # fmt: skip
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"the dev corpus is absent ({CORPUS})")
    print("command: python bench/scan_ray.py " + " ".join(sys.argv[1:]))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cli = [sys.executable, "-m", "segue.cli"]
    with tempfile.TemporaryDirectory(prefix="segue-scan-ray-") as tmp:
        tmp_path = Path(tmp)
        music, files, warm = linked_corpus(tmp_path, args.limit)
        timed([*cli, "--db", str(tmp_path / "warm.db"), "scan", str(warm), "--json"], env, 1)

        head = None
        if not args.no_running:
            head_tmp = tempfile.mkdtemp(prefix="sr-", dir="/tmp")  # short: Ray's sockets
            head, address = start_ray_head(args.workers, head_tmp, env)
        try:
            times: dict[str, list[float]] = {"a": [], "b": [], "c": []}
            for run in range(args.runs):
                base = [*cli, "--db"]
                scan = ["scan", str(music), "--workers", str(args.workers), "--json"]
                times["a"].append(timed([*base, str(tmp_path / f"a{run}.db"), *scan], env,
                                        len(files)))  # fmt: skip
                with tempfile.TemporaryDirectory(prefix="sr-", dir="/tmp") as ray_tmp:
                    times["b"].append(timed([*base, str(tmp_path / f"b{run}.db"), *scan, "--ray"],
                                            {**env, "RAY_TMPDIR": ray_tmp}, len(files)))  # fmt: skip
                line = (f"run {run + 1}: local {times['a'][-1]:.1f} s, --ray (auto, started) "
                        f"{times['b'][-1]:.1f} s")  # fmt: skip
                if head is not None:
                    # `ray start` turns Ray's token authentication on (the token is the user's,
                    # in ~/.ray); a driver given an address uses it only when told to
                    times["c"].append(timed([*base, str(tmp_path / f"c{run}.db"), *scan, "--ray",
                                             address], {**env, "RAY_AUTH_MODE": "token"},
                                            len(files)))  # fmt: skip
                    line += f", --ray ADDRESS (running) {times['c'][-1]:.1f} s"
                print(line, flush=True)
        finally:
            if head is not None:
                os.killpg(head.pid, signal.SIGTERM)  # `ray start --block` stops what it started
                head.wait(timeout=60)
                shutil.rmtree(head_tmp, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items() if v}
    print(f"\ntracks: {len(files)}, workers: {args.workers}, runs: {args.runs} (medians)")
    print("| command | wall s (median) | runs | overhead vs local |")
    print("|---|---:|---|---:|")
    names = {"a": "`segue scan DIR` (local workers)",
             "b": "`segue scan DIR --ray` (auto: starts and stops a local Ray)",
             "c": "`segue scan DIR --ray ADDRESS` (Ray already running)"}  # fmt: skip
    for key in ("a", "b", "c"):
        if key not in med:
            continue
        runs = ", ".join(f"{t:.1f}" for t in times[key])
        overhead = "—" if key == "a" else f"**{med[key] / med['a'] - 1:+.1%}**"
        print(f"| {names[key]} | {med[key]:.1f} | {runs} | {overhead} |")
    for key in ("b", "c"):
        if key in med:
            pairs = ", ".join(f"{b / a - 1:+.1%}" for a, b in zip(times["a"], times[key], strict=True))
            print(f"{key}/a - 1 run by run (each pair back to back): {pairs}")


if __name__ == "__main__":
    main()
