"""The real `segue scan` against PyAV decode-only of the same files, with as many processes.

    python bench/scan_speed.py [--runs 3] [--workers 2] [--scaling 1,2] [--limit N]
                               [--inference workers|central] [--no-descriptors] [--src DIR]

Each timed command is a fresh process started from here, as a user starts it:

(a) decode-only, the floor: a pool of N processes (multiprocessing, one BLAS thread each) that
    only read every file once with PyAV -- decoding to the pipeline's two rates (22.05 and
    16 kHz) and hashing the payload, which a scan must do -- and nothing else;
(b) ``segue scan CORPUS --workers N --json`` into a new, empty library (cold library; the
    model weights and compiled-code caches are warm: one scan of one file runs first, and
    every file is read once so the page cache holds them).

Per worker count, runs alternate (a) and (b); medians of ``--runs``. Reported: the share of
decode-only throughput the scan keeps, a/b by wall clock (the goal is >= 0.50 with the
descriptors on) and by CPU time (less noisy on a shared machine), CPU seconds per 90-s track
of both, and the scan's CPU split by stage from its own report (``cpu_seconds``: start-up,
decode, tags, dsp, networks, writing; "other" is the rest of the command's CPU time: the scanning
process's own start, the walk, moving results between processes). CPU time is that of the
command and all its processes (getrusage of the waited-for children).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from corpus_links import CORPUS, REPO, linked_corpus

STAGES = ("start-up", "decode", "tags", "dsp", "networks", "writing")


def decode_only(files: list[str], workers: int) -> None:
    """The baseline command's body (runs in its own fresh process)."""
    import multiprocessing

    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        seconds = sum(pool.imap_unordered(_decode_one, files, chunksize=1))
    print(json.dumps({"audio_seconds": seconds}))


def _decode_one(path: str) -> float:
    from segue.audio.decode import read_audio

    info, _ = read_audio(path, decode_rates=(22050, 16000))
    return info.duration


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (the command and every process it waited for), stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd[:6])} ... failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--scaling", default="1,2", help="worker counts for the scaling table")
    parser.add_argument("--limit", type=int, default=0, help="only the first N files")
    parser.add_argument("--inference", default="workers", choices=("workers", "central"))
    parser.add_argument("--no-descriptors", action="store_true")
    parser.add_argument("--src", default=str(REPO / "src"),
                        help="segue source tree to time (e.g. an older checkout's src)")  # fmt: skip
    parser.add_argument("--decode-only", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.decode_only:
        decode_only(json.loads(Path(args.files).read_text()), args.decode_only)
        return
    if not CORPUS.exists():
        sys.exit(f"the dev corpus is absent ({CORPUS})")
    print("command: python bench/scan_speed.py " + " ".join(sys.argv[1:]))
    counts = sorted({args.workers, *(int(c) for c in args.scaling.split(",") if c)})
    env = {**os.environ, "PYTHONPATH": args.src}
    with tempfile.TemporaryDirectory(prefix="segue-scan-speed-") as tmp:
        tmp_path = Path(tmp)
        music, files, warm = linked_corpus(tmp_path, args.limit)
        listed = tmp_path / "files.json"
        listed.write_text(json.dumps([str(music / f.name) for f in files]))
        scan_cmd = [sys.executable, "-c", SCAN_COMMAND, args.inference,
                    "0" if args.no_descriptors else "1"]  # fmt: skip
        timed([*scan_cmd, str(tmp_path / "warm.db"), str(warm), "1"], env)

        results: dict[int, dict[str, list]] = {}
        audio_seconds = 0.0
        for run in range(args.runs):
            for n in counts:
                r = results.setdefault(n, {"a": [], "a_cpu": [], "b": [], "b_cpu": [], "split": []})
                wall, cpu, out = timed([sys.executable, __file__, "--decode-only", str(n),
                                        "--files", str(listed)], env)  # fmt: skip
                audio_seconds = json.loads(out)["audio_seconds"]
                r["a"].append(wall)
                r["a_cpu"].append(cpu)
                db = tmp_path / f"run{run}-{n}.db"
                wall, cpu, out = timed([*scan_cmd, str(db), str(music), str(n)], env)
                report = json.loads(out)
                if report["added"] != len(files) or report["analysed"] != len(files):
                    sys.exit(f"the scan added {report['added']} and analysed {report['analysed']} "
                             f"of {len(files)} files: {report['errors'][:3]}")  # fmt: skip
                r["b"].append(wall)
                r["b_cpu"].append(cpu)
                r["split"].append(report.get("cpu_seconds", {}))  # older code: no split
                print(f"run {run + 1}, {n} worker(s): decode-only {r['a'][-1]:.1f} s, "
                      f"scan {wall:.1f} s, a/b {r['a'][-1] / wall:.3f}", flush=True)  # fmt: skip

    n_files = len(files)
    per_track = 90.0 / audio_seconds  # one 90-s track's share of the corpus
    print(f"\ntracks: {n_files} ({audio_seconds / 60:.1f} min of audio), runs: {args.runs} "
          f"(medians), inference: {args.inference}, descriptors: {not args.no_descriptors}")  # fmt: skip
    print("| workers | decode-only s | scan s | a/b wall | a/b CPU | scan x real time "
          "| CPU s per 90-s track: decode-only | scan |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    med = {n: {k: statistics.median(v) for k, v in r.items() if k != "split"}
           for n, r in results.items()}  # fmt: skip
    for n in counts:
        m, r = med[n], results[n]
        ratios = ", ".join(f"{a / b:.2f}" for a, b in zip(r["a"], r["b"], strict=True))
        print(f"| {n} | {m['a']:.1f} | {m['b']:.1f} | **{m['a'] / m['b']:.3f}** ({ratios}) "
              f"| {m['a_cpu'] / m['b_cpu']:.3f} | {audio_seconds / m['b']:.0f} "
              f"| {m['a_cpu'] * per_track:.2f} | {m['b_cpu'] * per_track:.2f} |")  # fmt: skip
    print("\nscan CPU seconds per 90-s track by stage (medians):")
    print("| workers | " + " | ".join(STAGES) + " | other | total |")
    print("|---:|" + "---:|" * (len(STAGES) + 2))
    for n in counts:
        split = {s: statistics.median(x.get(s, 0.0) for x in results[n]["split"]) for s in STAGES}
        other = med[n]["b_cpu"] - sum(split.values())
        cells = [f"{split[s] * per_track:.3f}" for s in STAGES]
        print(f"| {n} | " + " | ".join(cells)
              + f" | {other * per_track:.3f} | {med[n]['b_cpu'] * per_track:.3f} |")  # fmt: skip
    if len(counts) > 1:
        base = counts[0]
        print("\nscaling (scan throughput relative to "
              f"{base} worker(s)): " + ", ".join(
                  f"{n}: {med[base]['b'] / med[n]['b']:.2f}x (decode-only "
                  f"{med[base]['a'] / med[n]['a']:.2f}x)" for n in counts))  # fmt: skip


# The scan command, as `segue scan DIR --workers N --json` runs it, with the pipeline's
# inference layout and descriptors chosen here (the CLI has no switch for them).
SCAN_COMMAND = """
import sys
from segue.cli import main
inference, descriptors, db, folder, workers = sys.argv[1:6]
if inference == "workers" and descriptors == "1":
    sys.exit(main(["--db", db, "scan", folder, "--workers", workers, "--json"]))
import json, segue
from segue.listen.pipeline import ListeningHook
with segue.open_library(db) as lib:
    hook = ListeningHook(inference=inference, descriptors=descriptors == "1")
    report = lib.scan([folder], workers=int(workers), hook=hook, progress=False)
print(json.dumps(report.as_dict()))
"""


if __name__ == "__main__":
    main()
