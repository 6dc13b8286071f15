"""The evaluation table: which vectors make the best playlists, measured on a labelled library.

    python bench/eval_table.py --db CORPUS.db [--labels ../shared/corpus/dev/manifest.csv]

The library must have been scanned with analysis (``segue --db CORPUS.db scan DIR``). Every row
re-uses the vectors stored by that one scan, so the comparison is on the same audio: the
MusiCNN layer (penultimate, mid-end, taggrams), the pooling (mean, TF-IDF at several eps, mean
over a subsample of patches — what patch subsampling at analysis would give), the classic
feature sets, weighted combinations, and hub reduction. Metrics from segue.evaluate: style
precision@10 with the query's artist (and album) excluded, same-artist share, hubness
(k-occurrence skewness at k=10, share never recommended) and journey smoothness.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from segue.api import Library, standardise  # noqa: E402
from segue.evaluate import evaluate, load_labels  # noqa: E402
from segue.listen.pooling import TfidfPooler  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "dev"


def unit(m: np.ndarray) -> np.ndarray:
    return m / np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-12)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--labels", default=str(CORPUS / "manifest.csv"))
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    print("command: python bench/eval_table.py " + " ".join(sys.argv[1:]))
    lib = Library.open(args.db)
    labels = load_labels(args.labels)
    base = lib.catalog()
    hash_of = {t.id: t.audio_hash for t in lib.store.tracks()}
    hashes = [hash_of[int(i)] for i in base.ids]

    def stored(kind: str, model: str = "musicnn") -> np.ndarray:
        v = lib.store.vectors(model, kind)
        return np.stack([np.asarray(v[h], dtype=np.float32) for h in hashes])

    patches = lib.store.vectors("musicnn", "patches")

    def subsampled(stride: int) -> np.ndarray:
        out = []
        for h in hashes:
            p = patches[h].astype(np.float32)
            offset = (len(p) % stride) // 2  # centred, as the pipeline does
            out.append(p[offset::stride].mean(axis=0) if len(p) > stride else p.mean(axis=0))
        return np.stack(out)

    def tfidf(eps: float) -> np.ndarray:
        pooler = TfidfPooler(eps=eps)
        pooler.add_tracks({h: patches[h].astype(np.float32) for h in dict.fromkeys(hashes)})
        vecs = pooler.track_vectors()
        return np.stack([vecs[h] for h in hashes])

    std = {name: standardise(stored(name).astype(np.float64)) for name in ("rp", "ssd", "rh", "timbre")}
    pen = stored("track")
    rows: list[tuple[str, np.ndarray, str]] = [
        ("musicnn penultimate, mean (default)", pen, "none"),
        ("musicnn penultimate, mean, CSLS", pen, "csls"),
        ("musicnn penultimate, mean, mutual proximity", pen, "mp"),
        ("musicnn mid-end (753), mean", stored("midend"), "none"),
        ("musicnn MSD taggram (50)", stored("tags_msd"), "none"),
        ("musicnn MSD+MTT taggrams (100)", np.hstack([stored("tags_msd"), stored("tags_mtt")]), "none"),
        ("penultimate, mean of unit patches", np.stack([unit(patches[h].astype(np.float32)).mean(0) for h in hashes]), "none"),
        ("penultimate, TF-IDF eps 1e-3 (Deej-AI)", tfidf(1e-3), "none"),
        ("penultimate, TF-IDF eps 1e-2", tfidf(1e-2), "none"),
        ("penultimate, TF-IDF eps 5e-2", tfidf(5e-2), "none"),
        ("penultimate, every 2nd patch", subsampled(2), "none"),
        ("penultimate, every 3rd patch", subsampled(3), "none"),
        ("penultimate, every 4th patch", subsampled(4), "none"),
        ("rp (rhythm patterns)", std["rp"], "none"),
        ("ssd (statistical spectrum)", std["ssd"], "none"),
        ("rh (rhythm histogram)", std["rh"], "none"),
        ("timbre (MFCC + spectral)", std["timbre"], "none"),
        ("0.8 musicnn + 0.2 timbre", np.hstack([0.8 * unit(pen), 0.2 * unit(std["timbre"])]), "none"),
        ("0.7 musicnn + 0.15 timbre + 0.15 ssd",
         np.hstack([0.7 * unit(pen), 0.15 * unit(std["timbre"]), 0.15 * unit(std["ssd"])]), "none"),
    ]
    header = ("| vectors | hub red. | style P@10 (other artists) | style P@10 (other albums) "
              "| same artist@10 | k-occ. skew | never recommended | journey step / shuffled |")
    print(header)
    print("|" + "---|" * 8)
    chance = None
    for name, matrix, hub in rows:
        cat = dataclasses.replace(base, vectors=matrix, intro=None, outro=None)
        r = evaluate(cat, labels, args.k, hub_reduction=hub, n_journeys=30)
        chance = r["genre_precision"]["chance"]
        j = r.get("journeys", {})
        print(f"| {name} | {hub} | {r['genre_precision']['value']:.3f} "
              f"| {r['genre_precision_album_filtered']['value']:.3f} | {r['same_artist_share']:.3f} "
              f"| {r['hubness']['skewness']:.2f} | {r['hubness']['antihub_share']:.1%} "
              f"| {j.get('smoothness_ratio', float('nan')):.3f} |", flush=True)
    print(f"\nchance style precision (other artists): {chance:.3f}; tracks: {len(base)}")


if __name__ == "__main__":
    main()
