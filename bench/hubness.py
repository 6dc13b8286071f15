"""Does hub reduction help?  Genre precision and hubness with none / CSLS / mutual proximity.

    python bench/hubness.py [--n 5000]

Two synthetic libraries (200-d): "clustered" (genres > artists > albums > tracks, as in
bench/playlist.py) and "hubby" (the same, plus a per-track random pull towards the library's
mean direction, so tracks near the centre are close to everything: the hub pattern neural
embeddings show).  For each, ``segue.evaluate.evaluate`` with each hub reduction.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from segue.evaluate import evaluate  # noqa: E402
from segue.playlist.catalog import Catalog  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    base = Catalog.synthetic(args.n, 200, seed=args.seed, n_genres=20, artists_per_genre=10,
                             albums_per_artist=4, artist_spread=1.0, track_spread=1.2,
                             transitions=False)
    rng = np.random.default_rng(args.seed)
    mean = base.vectors.mean(axis=0)
    mean /= np.linalg.norm(mean)
    pull = rng.exponential(1.0, size=(args.n, 1)).astype(np.float32)
    hubby = Catalog(ids=base.ids, vectors=base.vectors + pull * mean, path=base.path,
                    artist=base.artist, album=base.album, genre=base.genre)
    print("| library | hub reduction | genre P@10 (artist filtered) | chance | same-artist@10 "
          "| k-occ. skewness | antihubs | top-1% share |")
    print("|---|---|---|---|---|---|---|---|")
    for name, cat in (("clustered", base), ("hubby", hubby)):
        for hub in ("none", "csls", "mp"):
            r = evaluate(cat, k=10, n_queries=500, seed=args.seed, hub_reduction=hub, n_journeys=0)
            h = r["hubness"]
            print(f"| {name} | {hub} | {r['genre_precision']['value']:.3f} "
                  f"| {r['genre_precision']['chance']:.3f} | {r['same_artist_share']:.3f} "
                  f"| {h['skewness']:.2f} | {h['antihub_share']:.3f} | {h['top1pct_share']:.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
