"""Mix render speed (x real time) and peak memory on corpus tracks, on one core.

    OMP_NUM_THREADS=1 taskset -c 0 python bench/mix.py [--minutes 120] [--formats flac,mp3]
                                                       [--runs 3] [--run-minutes 20]

1. Descriptors of the corpus tracks (shared/corpus/dev) are computed once and cached in
   /tmp/segue-bench-mix-descriptors.json (analysis is not part of the render figure: in a
   library they are stored at scan time).
2. Each render runs in a fresh process (so peak RSS is that render's own): the corpus tracks in
   manifest order, repeated as needed, until the mix reaches the asked length. One full-length
   render per format, then ``--runs`` shorter renders (``--run-minutes``) for a median.
Figures: mix minutes, wall seconds, x real time, peak RSS (VmHWM) of the render process.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "dev"
CACHE = Path(tempfile.gettempdir()) / "segue-bench-mix-descriptors.json"

CHILD = r"""
import json, os, sys, time
from segue.mix.plan import MixOptions
from segue.mix.render import MixTrack, render_mix
entries, minutes, out = json.loads(open(sys.argv[1]).read()), float(sys.argv[2]), sys.argv[3]
tracks, total = [], 0.0
while total < minutes * 60:
    for e in entries:
        d = e["descriptors"]
        tracks.append(MixTrack(e["path"], e["title"], e["artist"], d))
        total += (d["music_end"] or d["duration"]) - (d["music_start"] or 0) - 6.0
        if total >= minutes * 60:
            break
t = time.perf_counter()
r = render_mix(tracks, out, MixOptions(), progress=False)
wall = time.perf_counter() - t
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across fork + exec
rss = next(int(line.split()[1]) for line in open("/proc/self/status")
           if line.startswith("VmHWM")) / 1024
beat = sum(1 for p in r.tracks[1:] if p.transition_in.beatmatched)
print(json.dumps({"minutes": r.duration / 60, "wall": wall, "x": r.duration / wall,
                  "rss_mb": rss, "tracks": len(r.tracks), "beatmatched": beat}))
"""


def descriptors() -> list[dict]:
    """Corpus tracks with their descriptors (computed once, cached)."""
    if CACHE.exists():
        return json.loads(CACHE.read_text())
    sys.path.insert(0, str(REPO / "src"))
    from segue.audio.decode import decode
    from segue.listen.descriptors import compute_descriptors

    out = []
    with open(CORPUS / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        path = str(CORPUS / row["path"])
        audio = decode(path, 44100, mono=False)
        d = compute_descriptors(audio, 44100).to_dict()
        out.append({"path": path, "title": row["title"], "artist": row["artist"], "descriptors": d})
        print(f"analysed {i + 1}/{len(rows)}", file=sys.stderr, end="\r")
    CACHE.write_text(json.dumps(out))
    return out


def render(entries_file: str, minutes: float, fmt: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1",
               "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", CHILD, entries_file, str(minutes),
                               str(Path(tmp) / f"mix.{fmt}")],
                              capture_output=True, text=True, env=env, check=True)  # fmt: skip
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=120.0, help="length of the full render")
    ap.add_argument("--formats", default="flac,mp3")
    ap.add_argument("--runs", type=int, default=3, help="shorter renders for the median")
    ap.add_argument("--run-minutes", type=float, default=20.0)
    args = ap.parse_args()
    entries = descriptors()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(entries, f)
        entries_file = f.name
    try:
        for fmt in args.formats.split(","):
            full = render(entries_file, args.minutes, fmt)
            print(f"{fmt}: full {full['minutes']:.1f} min mix ({full['tracks']} tracks, "
                  f"{full['beatmatched']} beat-matched transitions): {full['wall']:.1f} s, "
                  f"{full['x']:.1f}x real time, peak RSS {full['rss_mb']:.0f} MB", flush=True)  # fmt: skip
            runs = [render(entries_file, args.run_minutes, fmt) for _ in range(args.runs)]
            if runs:
                print(f"{fmt}: {len(runs)} x {args.run_minutes:.0f} min: median "
                      f"{statistics.median(r['x'] for r in runs):.1f}x real time "
                      f"(runs {', '.join(format(r['x'], '.1f') for r in runs)}), median peak RSS "
                      f"{statistics.median(r['rss_mb'] for r in runs):.0f} MB", flush=True)  # fmt: skip
    finally:
        os.unlink(entries_file)


if __name__ == "__main__":
    main()
