"""Mix render speed (x real time), peak memory, and MP3 against the encoder's own speed.

    python bench/mix.py [--minutes 120] [--formats flac,mp3] [--runs 3] [--run-minutes 20]
                        [--cores 0] [--db LIBRARY.db] [--encoder-check] [--src PATH]

1. Descriptors of the corpus tracks (shared/corpus/dev) are computed once and cached in
   /tmp/segue-bench-mix-descriptors.json (analysis is not part of the render figure: in a
   library they are stored at scan time).
2. Each render runs in a fresh process (so peak RSS is that render's own): the corpus tracks in
   manifest order, repeated as needed, until the mix reaches the asked length. One full-length
   render per format (skipped with ``--minutes 0``), then ``--runs`` shorter renders
   (``--run-minutes``) for a median. With ``--db`` (a library where the dev corpus is
   scanned) the renders are the real command, ``segue --db LIBRARY mix PLAYLIST -o FILE``, timed
   from outside the process (start-up and imports included); without it a small script calls
   ``render_mix`` and times the call.
3. ``--encoder-check``: the MP3 encoder alone on the same audio, in a fresh process: the
   ``--run-minutes`` mix is rendered to WAV once, decoded into memory (not timed), then written
   to MP3 by one :class:`~segue.audio.encode.AudioWriter` in one-second blocks (medians of
   ``--runs``). ``segue mix`` to MP3 reaching that speed means the render loop no longer holds
   the encoder back.
4. ``--loudness PLAYLIST`` (with ``--db``): renders the playlist as ``segue mix`` would, in a
   fresh process, and prints each track's loudness where it plays alone (pyloudnorm on the
   decoded output), the spread of those against the target, and the limiter's gain reduction
   in 10-ms windows (share over 1 dB, mean, max) per track and over the whole mix. Renders
   made before the limiter kept these statistics (``--src`` an older checkout) get them from
   a recording wrapper around its limiter.
``--cores 0,1`` pins every child with ``taskset`` (two cores: the encoder on its thread can use
the second); ``--src`` renders with another checkout's ``src`` (a before/after in one run).
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
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "dev"
CACHE = Path(tempfile.gettempdir()) / "segue-bench-mix-descriptors.json"

CHILD = r"""
import json, os, sys, time
from segue.mix.plan import MixOptions
from segue.mix.render import MixTrack, render_mix
entries, out = json.loads(open(sys.argv[1]).read()), sys.argv[2]
tracks = [MixTrack(e["path"], e["title"], e["artist"], e["descriptors"]) for e in entries]
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

ENCODE_ONLY = r"""
import json, sys, time
import av, numpy as np
from segue.audio.encode import AudioWriter
with av.open(sys.argv[1]) as c:
    s = c.streams.audio[0]
    rs = av.AudioResampler(format="fltp", layout="stereo", rate=s.codec_context.sample_rate)
    chunks = [g.to_ndarray() for f in c.decode(s) for g in rs.resample(f)]
audio = np.concatenate(chunks, axis=1).astype(np.float32)
t, c = time.perf_counter(), time.process_time()
with AudioWriter(sys.argv[2], threaded=False) as w:
    for i in range(0, audio.shape[1], w.rate):
        w.write(audio[:, i : i + w.rate])
    w.finish()
wall, cpu = time.perf_counter() - t, time.process_time() - c
seconds = audio.shape[1] / 44100
print(json.dumps({"minutes": seconds / 60, "wall": wall, "x": seconds / wall, "cpu": cpu,
                  "x_cpu": seconds / cpu}))
"""


LOUDNESS = r"""
import json, math, sys
import av, numpy as np, pyloudnorm
import segue.mix.render as render
from segue.api import Library
recorded = []  # per output sample: the limiter's gain (old limiters keep no statistics)
if not hasattr(render, "MixLimiter"):
    class Recording(render.TruePeakLimiter):
        def process(self, block):
            self._in = np.concatenate([getattr(self, "_in", np.zeros((2, 0), np.float32)), block], 1)
            return self._keep(super().process(block))
        def flush(self):
            self._in = np.concatenate([self._in, np.zeros((2, self.look + self.pad), np.float32)], 1)
            return self._keep(super().flush())
        def _keep(self, out):
            n = out.shape[1]
            x, self._in = self._in[:, :n], self._in[:, n:]
            den = np.abs(x).max(axis=0)
            recorded.append(np.where(den > 1e-4, np.abs(out).max(axis=0) / np.maximum(den, 1e-9), 1.0))
            return out
    render.TruePeakLimiter = Recording
paths = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
lib = Library.open(sys.argv[1])
if hasattr(lib, "mix"):  # the library API renders mixes (after mix/session.py)
    r = lib.mix(paths, sys.argv[3], progress=False)
else:  # the base checkout: the command's helper
    from segue.commands.mix import mix_paths
    r = mix_paths(lib, paths, sys.argv[3], progress=False)
with av.open(sys.argv[3]) as c:
    st = c.streams.audio[0]
    rate = st.codec_context.sample_rate
    rs = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
    audio = np.concatenate([g.to_ndarray() for f in c.decode(st) for g in rs.resample(f)], 1)
if recorded:
    g = np.minimum(np.concatenate(recorded), 1.0)
    m = (g.size // 441) * 441
    win = -20 * np.log10(np.maximum(g[:m].reshape(-1, 441).min(axis=1), 1e-6))
else:
    win = None
meter = pyloudnorm.Meter(rate)
rows = []
for k, t in enumerate(r.tracks):
    a = r.tracks[k - 1].end if k else t.start
    b = r.tracks[k + 1].start if k + 1 < len(r.tracks) else t.end
    if b - a < 3.0:
        a, b = t.start, t.end
    lufs = meter.integrated_loudness(audio[:, int(a * rate):int(b * rate)].T.astype(np.float64))
    c1 = r.tracks[k + 1].start if k + 1 < len(r.tracks) else t.end
    if win is not None:
        w = win[int(t.start / 0.01):int(c1 / 0.01)]
        share, mean, peak = float(np.mean(w > 1)), float(w.mean()), float(w.max())
    else:
        share, mean, peak = t.limiter.share_over_1db, t.limiter.mean_db, t.limiter.max_db
    rows.append({"title": t.title, "lufs": lufs, "share": share, "mean": mean, "max": peak,
                 "gain": t.gain_db,
                 "note": getattr(t, "loudness_note", ""),
                 "transition": None if t.transition_in is None else getattr(t.transition_in, "kind", "fade")})
if win is not None:
    whole = {"share": float(np.mean(win > 1)), "mean": float(win.mean()), "max": float(win.max())}
else:
    whole = {"share": r.limiter.share_over_1db, "mean": r.limiter.mean_db, "max": r.limiter.max_db}
print(json.dumps({"tracks": rows, **whole}))
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


def pick(entries: list[dict], minutes: float) -> list[dict]:
    """Corpus tracks in manifest order, repeated, until about ``minutes`` of mix."""
    out, total = [], 0.0
    while total < minutes * 60:
        for e in entries:
            d = e["descriptors"]
            out.append(e)
            total += (d["music_end"] or d["duration"]) - (d["music_start"] or 0) - 12.0
            if total >= minutes * 60:
                break
    return out


class Runner:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        src = Path(args.src).resolve() if args.src else REPO / "src"
        self.env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1",
                    "NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
                    "MKL_NUM_THREADS": "1"}  # fmt: skip
        self.pin = ["taskset", "-c", args.cores] if args.cores else []
        self.db = args.db
        self.tmp = tmp

    def _run(self, cmd: list[str]) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.pin, *cmd], capture_output=True, text=True, env=self.env)
        if proc.returncode:
            sys.exit(f"bench/mix.py: a child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc

    def render(self, entries: list[dict], out: Path) -> dict:
        """One render in a fresh process: the real command with a library, else render_mix."""
        if self.db is None:
            listing = self.tmp / "entries.json"
            listing.write_text(json.dumps(entries))
            proc = self._run([sys.executable, "-c", CHILD, str(listing), str(out)])
            return json.loads(proc.stdout.strip().splitlines()[-1])
        playlist = self.tmp / "set.m3u"
        playlist.write_text("#EXTM3U\n" + "".join(e["path"] + "\n" for e in entries))
        t = time.perf_counter()
        proc = self._run(["/usr/bin/time", "-f", "%M %U %S", sys.executable, "-m", "segue.cli",
                          "--db", self.db, "mix", str(playlist), "-o", str(out), "--json"])  # fmt: skip
        wall = time.perf_counter() - t
        report = json.loads(proc.stdout)
        beat = sum(1 for t in report["tracks"][1:] if t["transition"]["beatmatched"])
        rss_kb, user, system = proc.stderr.strip().splitlines()[-1].split()
        cpu = float(user) + float(system)
        return {"minutes": report["duration"] / 60, "wall": wall, "x": report["duration"] / wall,
                "rss_mb": int(rss_kb) / 1024, "tracks": len(report["tracks"]), "beatmatched": beat,
                "cpu": cpu, "x_cpu": report["duration"] / cpu}  # fmt: skip

    def loudness(self, playlist: str, out: Path) -> dict:
        proc = self._run([sys.executable, "-c", LOUDNESS, str(self.db), playlist, str(out)])
        return json.loads(proc.stdout.strip().splitlines()[-1])

    def encode_only(self, source: Path, out: Path) -> dict:
        """This checkout's encoder, on the caller's thread (``threaded=False``)."""
        env = {**self.env, "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.run([*self.pin, sys.executable, "-c", ENCODE_ONLY, str(source), str(out)],
                              capture_output=True, text=True, env=env, check=True)  # fmt: skip
        return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=120.0, help="length of the full render")
    ap.add_argument("--formats", default="flac,mp3")
    ap.add_argument("--runs", type=int, default=3, help="shorter renders for the median")
    ap.add_argument("--run-minutes", type=float, default=20.0)
    ap.add_argument("--cores", default="", help="taskset core list for every child, e.g. 0,1")
    ap.add_argument("--db", help="a library with the dev corpus scanned: time `segue mix` itself")
    ap.add_argument("--encoder-check", action="store_true",
                    help="also time the MP3 encoder alone on the same audio")  # fmt: skip
    ap.add_argument("--src", help="render with this source tree instead of this checkout's")
    ap.add_argument("--loudness", metavar="PLAYLIST",
                    help="per-track loudness and limiting of this playlist's mix (needs --db)")  # fmt: skip
    args = ap.parse_args()
    if args.loudness:
        if not args.db:
            ap.error("--loudness needs --db")
        with tempfile.TemporaryDirectory() as tmp_name:
            got = Runner(args, Path(tmp_name)).loudness(args.loudness, Path(tmp_name) / "mix.flac")
        for t in got["tracks"]:
            print(f"{t['lufs']:6.1f} LUFS  gain {t['gain']:+5.1f} dB  limiter > 1 dB "
                  f"{t['share'] * 100:4.1f} %, mean {t['mean']:.2f}, max {t['max']:.1f} dB  "
                  f"{t['transition'] or '':9s} {t['title']}  {t['note'] or ''}")  # fmt: skip
        lufs = [t["lufs"] for t in got["tracks"]]
        print(f"spread {min(lufs):.1f} .. {max(lufs):.1f} LUFS (max |x + 14| = "
              f"{max(abs(v + 14) for v in lufs):.1f} LU); whole mix limiter > 1 dB "
              f"{got['share'] * 100:.1f} %, mean {got['mean']:.2f} dB, max {got['max']:.1f} dB")  # fmt: skip
        return
    entries = descriptors()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        run = Runner(args, tmp)
        for fmt in [f for f in args.formats.split(",") if f]:
            if args.minutes > 0:
                full = run.render(pick(entries, args.minutes), tmp / f"mix.{fmt}")
                print(f"{fmt}: full {full['minutes']:.1f} min mix ({full['tracks']} tracks, "
                      f"{full['beatmatched']} beat-matched transitions): {full['wall']:.1f} s, "
                      f"{full['x']:.1f}x real time"
                      + (f", per CPU second {full['x_cpu']:.1f}x" if "x_cpu" in full else "")
                      + f", peak RSS {full['rss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}",
                      flush=True)  # fmt: skip
            runs = [run.render(pick(entries, args.run_minutes), tmp / f"mix.{fmt}")
                    for _ in range(args.runs)]  # fmt: skip
            if runs:
                cpu = (f", per CPU second {statistics.median(r['x_cpu'] for r in runs):.1f}x"
                       if "x_cpu" in runs[0] else "")  # fmt: skip
                print(f"{fmt}: {len(runs)} x {runs[0]['minutes']:.1f} min: median "
                      f"{statistics.median(r['x'] for r in runs):.1f}x real time "
                      f"(runs {', '.join(format(r['x'], '.1f') for r in runs)}){cpu}, median peak "
                      f"RSS {statistics.median(r['rss_mb'] for r in runs):.0f} MB, load "
                      f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        if args.encoder_check:
            source = tmp / "source.wav"
            run.render(pick(entries, args.run_minutes), source)
            enc = [run.encode_only(source, tmp / "alone.mp3") for _ in range(max(1, args.runs))]
            print(f"mp3 encoder alone on the same audio ({enc[0]['minutes']:.1f} min): median "
                  f"{statistics.median(r['x'] for r in enc):.1f}x real time "
                  f"(runs {', '.join(format(r['x'], '.1f') for r in enc)}), per CPU second "
                  f"{statistics.median(r['x_cpu'] for r in enc):.1f}x, load "
                  f"{os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
