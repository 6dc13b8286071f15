"""What the radio's noise X does, measured: rank of picks, similarity, genre spread.

    python bench/radio_noise.py [--n 20000] [--playlists 20]

On a synthetic library (20 genres, 200-d) it runs ``--playlists`` 20-track radio playlists per
X (seeds drawn at random; no artist gap unless ``--artist-gap``, so the ranks show the noise
alone) and reports, per X: the mean and median rank of each
pick among the tracks still eligible for the query it saw (0 = the best match), that rank as a
fraction of the eligible tracks (0.5 = random), the mean cosine between query and pick, and
the share of picks in the seed's genre (random: 1/20 = 0.05) and the number of distinct genres
per playlist.
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

from segue.playlist.catalog import Catalog  # noqa: E402
from segue.playlist.radio import RadioSession  # noqa: E402
from segue.playlist.rules import Rules  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--playlists", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--artist-gap", type=int, default=0,
                    help="artist rule during the measurement (0: measure the noise alone)")
    args = ap.parse_args()
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]))
    cat = Catalog.synthetic(args.n, 200, seed=args.seed, n_genres=20,
                            artists_per_genre=max(5, args.n // 2000), albums_per_artist=8,
                            artist_spread=1.0, track_spread=1.2, transitions=False)
    genre = np.asarray(cat.genre)
    rng = np.random.default_rng(args.seed)
    seeds = rng.integers(0, args.n, args.playlists)
    rules = Rules(artist_gap=args.artist_gap)
    print(f"{args.n} tracks, {args.playlists} playlists x 20 picks per X")
    print("| X | mean rank | median rank | rank / eligible | cos(query, pick) | seed's genre | genres per playlist |")
    print("|---|---|---|---|---|---|---|")
    for x in (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0):
        ranks, fracs, sims, same, distinct = [], [], [], [], []
        for k, s in enumerate(seeds):
            sess = RadioSession(cat, [int(s)], noise=x, rng=k, rules=rules)
            for _ in range(20):
                q, _ = sess.query()
                used = np.zeros(args.n, bool)
                used[sess.history.indices] = True
                sc = cat.vectors @ q
                pick = sess.next()
                r = int((sc[~used] > sc[pick]).sum())
                ranks.append(r)
                fracs.append(r / max((~used).sum() - 1, 1))
                sims.append(float(sc[pick]))
            picks = sess.played[1:]
            same.append(float(np.mean(genre[picks] == genre[s])))
            distinct.append(len(set(genre[picks])))
        print(f"| {x:.1f} | {np.mean(ranks):.1f} | {np.median(ranks):.0f} | {np.mean(fracs):.3f} "
              f"| {np.mean(sims):.3f} | {np.mean(same):.2f} | {np.mean(distinct):.1f} |")


if __name__ == "__main__":
    main()
