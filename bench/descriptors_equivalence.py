"""Equivalence and speed of the per-track DSP preparation between two checkouts of segue.

    python bench/descriptors_equivalence.py --old-src /tmp/desc-old/src [--n 20] [--repeats 3]

Decodes the first ``--n`` tracks of shared/corpus/dev (stereo, 22050 and 16000 Hz, cached as
.npy under ``--cache``), then runs ``musicnn_logmel`` (16 kHz mono) and
``descriptors.analyse`` (22.05 kHz stereo) -- what ``pipeline.prepare_audio`` computes -- once
with the old checkout's ``src`` and once with this one's, each in its own process, and prints
the largest differences per field next to the tolerances we hold the new code to:

* true peak, loudness, LRA, replaygain: 1e-3 dB/LU; bpm: 0.01; key/camelot identical; the
  confidences (stored to 3 decimals) within one step of that rounding;
  beats/downbeats within 1 ms; music_start/music_end identical; energy curves 0.01 dB;
* feature vectors rp/ssd/rh/timbre: max |new - old| / ||old|| <= 1e-4;
* musicnn_logmel: max abs difference <= 1e-5.

Timing: ``--repeats`` alternating runs (old, new, old, new, ...), each a fresh process that
warms up on one track (librosa/numba compile) and then times every track; the figure is the
median over tracks of each run's per-track time, and the median of those over runs.
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "dev" / "audio"

TOL_DB = 1e-3
TOL_BPM = 0.01
TOL_BEAT_S = 1e-3
TOL_ENERGY_DB = 0.01
TOL_VEC_REL = 1e-4
TOL_LOGMEL = 1e-5


def _decode_cached(n: int, cache: Path) -> list[Path]:
    """Decode the first ``n`` corpus tracks once (with this checkout's decoder) into .npz files."""
    sys.path.insert(0, str(ROOT / "src"))
    from segue.audio.decode import read_audio

    cache.mkdir(parents=True, exist_ok=True)
    out = []
    for f in sorted(CORPUS.iterdir())[:n]:
        p = cache / f"{f.stem}.npz"
        if not p.exists():
            _, audio = read_audio(f, decode_rates=(22050, 16000))
            assert audio is not None
            np.savez(p, a22=audio[22050], a16=audio[16000])
        out.append(p)
    return out


def _worker(src: str, files: list[str], dump: str) -> None:
    """Run in a fresh process with ``src`` first on sys.path: compute and time every track."""
    sys.path.insert(0, src)
    from segue.audio.model_frontends import musicnn_logmel
    from segue.listen import descriptors

    assert Path(descriptors.__file__).is_relative_to(src), descriptors.__file__
    loaded = [np.load(f) for f in files]
    tracks = [(d["a22"], d["a16"]) for d in loaded]
    descriptors.analyse(tracks[0][0], 22050)  # warm-up: librosa / numba compile
    results, times = [], []
    for a22, a16 in tracks:
        t0 = time.perf_counter()
        logmel = musicnn_logmel(a16.mean(axis=0))
        desc, feats = descriptors.analyse(a22, 22050)
        times.append(time.perf_counter() - t0)
        results.append({"logmel": logmel, "desc": desc.to_dict(), "feats": feats,
                        "seconds": a22.shape[1] / 22050})
    with open(dump, "wb") as fh:
        pickle.dump({"results": results, "times": times}, fh)


def _run(src: str, files: list[Path], tmp: Path, tag: str) -> dict:
    dump = tmp / f"{tag}.pkl"
    subprocess.run([sys.executable, __file__, "--worker", src, "--dump", str(dump),
                    *map(str, files)], check=True)
    with open(dump, "rb") as fh:
        return pickle.load(fh)


def _num(v: object) -> float:
    return float("nan") if v is None else float(v)  # type: ignore[arg-type]


def _diff(a: object, b: object) -> float:
    a, b = _num(a), _num(b)
    if math.isnan(a) and math.isnan(b):
        return 0.0
    return abs(a - b)


def _list_diff(a: list, b: list) -> float:
    if len(a) != len(b):
        return float("inf")
    if not a:
        return 0.0
    return float(np.max(np.abs(np.array(a, float) - np.array(b, float))))


def compare(old: list[dict], new: list[dict]) -> bool:
    """Print the worst difference per field; True when every one is within tolerance."""
    worst: dict[str, float] = {}
    mismatched: dict[str, int] = {}

    def note(name: str, v: float) -> None:
        worst[name] = max(worst.get(name, 0.0), v)

    for o, n in zip(old, new, strict=True):
        do, dn = o["desc"], n["desc"]
        for k in ("true_peak_dbtp", "loudness_lufs", "loudness_range_lu", "replaygain_db", "bpm",
                  "bpm_confidence", "key_confidence", "music_start", "music_end", "duration"):
            note(k, _diff(do[k], dn[k]))
        for k in ("key", "camelot"):
            mismatched[k] = mismatched.get(k, 0) + (do[k] != dn[k])
        for k in ("beats", "downbeats", "intro_energy", "outro_energy"):
            note(k, _list_diff(do[k], dn[k]))
        for k, v in o["feats"].items():
            ref = float(np.linalg.norm(v)) or 1.0
            note(f"feat {k} (rel)", float(np.max(np.abs(n["feats"][k] - v))) / ref)
        lo, ln = o["logmel"], n["logmel"]
        note("musicnn_logmel", float(np.max(np.abs(lo - ln))) if lo.shape == ln.shape
             else float("inf"))
    tol = {"true_peak_dbtp": TOL_DB, "loudness_lufs": TOL_DB, "loudness_range_lu": TOL_DB,
           "replaygain_db": TOL_DB, "bpm": TOL_BPM, "bpm_confidence": 1.1e-3,
           "key_confidence": 1.1e-3, "music_start": 0.0, "music_end": 0.0, "duration": 0.0,
           "beats": TOL_BEAT_S, "downbeats": TOL_BEAT_S, "intro_energy": TOL_ENERGY_DB,
           "outro_energy": TOL_ENERGY_DB, "musicnn_logmel": TOL_LOGMEL}
    ok = True
    print(f"\n{'field':<22} {'max |new - old|':>16} {'tolerance':>10}")
    for k, v in worst.items():
        t = tol.get(k, TOL_VEC_REL)
        good = v <= t
        ok &= good
        print(f"{k:<22} {v:>16.3g} {t:>10.3g} {'' if good else '  <-- OVER'}")
    for k, m in mismatched.items():
        ok &= m == 0
        print(f"{k:<22} {m:>10d} tracks differ")
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--old-src", help="the reference checkout's src directory")
    ap.add_argument("--n", type=int, default=20, help="corpus tracks (default 20)")
    ap.add_argument("--repeats", type=int, default=1, help="timed runs per side (default 1)")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "segue-desc-eq")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--dump", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker, args.files, args.dump)
        return 0
    if not args.old_src:
        ap.error("--old-src is required")
    files = _decode_cached(args.n, args.cache)
    new_src = str(ROOT / "src")
    t_old, t_new = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            old = _run(args.old_src, files, Path(tmp), f"old{r}")
            new = _run(new_src, files, Path(tmp), f"new{r}")
            t_old.append(statistics.median(old["times"]))
            t_new.append(statistics.median(new["times"]))
            print(f"run {r + 1}: median per track old {t_old[-1]:.3f} s, new {t_new[-1]:.3f} s",
                  flush=True)
    secs = statistics.median(x["seconds"] for x in new["results"])
    mo, mn = statistics.median(t_old), statistics.median(t_new)
    print(f"\n{len(files)} tracks (median {secs:.0f} s long), logmel + analyse per track, "
          f"median of {args.repeats} runs: old {mo:.3f} s, new {mn:.3f} s, speed-up {mo / mn:.2f}x")
    ok = compare(old["results"], new["results"])
    print("\nall within tolerance" if ok else "\nSOME FIELDS OVER TOLERANCE")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
