"""The evaluation table: which vectors make the best playlists, measured on a labelled library.

    python bench/eval_table.py --db CORPUS.db [--labels ../shared/corpus/dev/manifest.csv]
    python bench/eval_table.py --db CORPUS.db --learn    # the learned space (segue.learn)

The library must have been scanned with analysis (``segue --db CORPUS.db scan DIR``). Every row
re-uses the vectors stored by that one scan, so the comparison is on the same audio: the
MusiCNN layer (penultimate, mid-end, taggrams), the pooling (mean, TF-IDF at several eps, mean
over a subsample of patches — what patch subsampling at analysis would give), the classic
feature sets, weighted combinations, and hub reduction. Metrics from segue.evaluate: style
precision@10 with the query's artist (and album) excluded, same-artist share, hubness
(k-occurrence skewness at k=10, share never recommended) and journey smoothness.

``--learn`` prints the table of issue 15 instead: the pretrained vectors, the album-LDA baseline
(closed form, as in ../shared/research/learning.md), the learned space of segue.learn with and
without mutual proximity, the ablation of its context sources, the skip-gram variant, and
leave-one-album-out (each album's own context removed while fitting, scored on that album's
queries only). Leakage guard: the labels CSV is read only by the scoring (segue.evaluate and
``strict_precision`` below); every fit reads the library's store, whose contexts never include a
genre tag (segue.learn.contexts), so the style column of the labels reaches no model.
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
    parser.add_argument("--learn", action="store_true", help="the learned-space table (issue 15)")
    parser.add_argument("--sweep", action="store_true",
                        help="with --learn: the head's choices (shrinkage, inputs, weights, seeds)")  # fmt: skip
    args = parser.parse_args()
    print("command: python bench/eval_table.py " + " ".join(sys.argv[1:]))
    lib = Library.open(args.db)
    labels = load_labels(args.labels)
    if args.learn:
        if args.sweep:
            learn_sweep(lib, labels, args.k)
        else:
            learn_table(lib, labels, args.k)
        return
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


def album_lda(x: np.ndarray, album: np.ndarray, reg: float = 0.1, dims: int = 8) -> np.ndarray:
    """The closed-form baseline of learning.md: LDA of the track vectors on the album tags,
    within-album scatter regularised by ``reg * tr / d``, ``dims`` discriminant directions.
    Tracks without an album (``album`` -1) count in the total only."""
    import scipy.linalg

    xc = x.astype(np.float64) - x.mean(axis=0)
    d = xc.shape[1]
    within = np.zeros((d, d))
    between = np.zeros((d, d))
    for a in np.unique(album[album >= 0]):
        rows = xc[album == a]
        mu = rows.mean(axis=0)
        within += (rows - mu).T @ (rows - mu)
        between += len(rows) * np.outer(mu, mu)
    within = within / len(xc) + reg * np.trace(within / len(xc)) / d * np.eye(d)
    _, vecs = scipy.linalg.eigh(between / len(xc), within)
    return xc @ vecs[:, ::-1][:, :dims]


def strict_precision(
    vectors: np.ndarray, artist: np.ndarray, title: np.ndarray, genre: np.ndarray,
    queries: np.ndarray, k: int,
) -> list[float]:
    """Style P@k of each query with its artist AND album title excluded (as segue.evaluate's
    genre_precision_artist_album_filtered; every track here is labelled, no duplicates)."""
    z = unit(vectors.astype(np.float64))
    out = []
    for q in queries:
        sims = z @ z[q]
        banned = (artist == artist[q]) | ((title == title[q]) & (title[q] >= 0)) | (genre < 0)
        banned[q] = True
        sims[banned] = -np.inf
        top = np.argsort(-sims)[:k]
        top = top[np.isfinite(sims[top])]
        out.append(float((genre[top] == genre[q]).mean()) if len(top) else float("nan"))
    return out


def learn_sweep(lib: Library, labels, k: int) -> None:
    """The head's choices, one at a time from the default: shrinkage (with the held-out loss
    that would pick it), inputs, direction weights, the permutation null's seed."""
    from segue.learn.contexts import build_contexts
    from segue.learn.features import library_inputs
    from segue.learn.head import fit_head
    from segue.learn.track2vec import cooccurrence_factor
    from segue.learn.train import held_out_loss

    base = lib.catalog(features="musicnn")
    by_id = {t.id: t for t in lib.store.tracks()}
    hashes = [by_id[int(i)].audio_hash for i in base.ids]
    _, x = library_inputs(lib.store, hashes)
    ctx = build_contexts(lib.store, hashes)
    factor = cooccurrence_factor(ctx)

    def score(z: np.ndarray) -> str:
        cat = dataclasses.replace(base, vectors=z, intro=None, outro=None)
        r = evaluate(cat, labels, k, n_journeys=0)
        return (f"{r['genre_precision_artist_album_filtered']['value']:.3f} "
                f"| {r['hubness']['skewness']:.2f}")  # fmt: skip

    print("| variant | style P@10 (other artist & album) | k-occ. skew | dims |")
    print("|---|---:|---:|---:|")
    for shrink in (None, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
        head = fit_head(x, factor, shrinkage=shrink)
        name = "Ledoit-Wolf (default)" if shrink is None else f"{shrink}"
        print(f"| shrinkage {name} | {score(head(x))} | {head.dims} |", flush=True)
    timbre = lib.store.vectors("musicnn", "timbre")
    for name, cols in (("inputs: penultimate only", x[:, :200]),
                       ("inputs: penultimate + tags + timbre",
                        np.hstack([x, np.stack([timbre[h] for h in hashes])]))):  # fmt: skip
        head = fit_head(cols, factor)
        print(f"| {name} | {score(head(cols))} | {head.dims} |", flush=True)
    head = fit_head(x, factor)
    # the same directions weighted by sqrt(excess over chance) instead of 1 / sqrt(1 - share)
    unweighted = head.projection * np.sqrt(1 - np.minimum(head.rho, 0.99))
    excess = np.sqrt((head.rho - head.chance) / (1 - head.chance))
    z = ((x - head.mean) / head.scale) @ (unweighted * excess)
    print(f"| weights sqrt(excess over chance) | {score(z)} | {head.dims} |")
    for seed in range(1, 6):
        h = fit_head(x, factor, seed=seed)
        print(f"| permutation null seed {seed} | {score(h(x))} | {h.dims} |", flush=True)
    for shrink in (None, 0.5, 0.9):
        loss = held_out_loss(x, ctx, lib.store, hashes, "cooccurrence", 0, "cpu", shrinkage=shrink)
        print(f"held-out loss at shrinkage {shrink or 'Ledoit-Wolf'}: learned {loss['learned']}, "
              f"pretrained {loss['pretrained']}")


def learn_table(lib: Library, labels, k: int) -> None:
    """The rows of issue 15 (see the module docstring)."""
    from segue.evaluate import _aligned
    from segue.learn import learn
    from segue.learn.contexts import Contexts, album_key, build_contexts
    from segue.learn.features import library_inputs
    from segue.learn.train import fit

    base = lib.catalog(features="musicnn")
    by_id = {t.id: t for t in lib.store.tracks()}
    hashes = [by_id[int(i)].audio_hash for i in base.ids]
    _, x = library_inputs(lib.store, hashes)
    keys = [album_key(by_id[int(i)]) for i in base.ids]
    code = {key: j for j, key in enumerate(dict.fromkeys(k_ for k_ in keys if k_ is not None))}
    album = np.array([code[key] if key is not None else -1 for key in keys])
    stored = lib.store.vectors("musicnn", "track")
    pen = np.stack([np.asarray(stored[h], dtype=np.float32) for h in hashes])

    def learned(**kw) -> tuple[np.ndarray | None, object]:
        summary, model = learn(lib.store, save=False, **kw)
        return (None if model is None else model.place_rows(x)), summary

    rows: list[tuple[str, np.ndarray | None, str, str]] = [
        ("pretrained: musicnn penultimate, mean (today's default)", pen, "none", ""),
        ("pretrained, mutual proximity", pen, "mp", ""),
        ("album-LDA baseline (reg 0.1, 8 dims; learning.md)", album_lda(pen, album), "none", ""),
        ("album-LDA baseline, mutual proximity", album_lda(pen, album), "mp", ""),
    ]
    full, summary = learned()
    rows.append(("**learned (default: all sources)**", full, "none", f"{summary.dims} dims"))
    rows.append(("learned, mutual proximity", full, "mp", ""))
    for name, sources in (("albums only", ["album"]), ("+ folders", ["album", "folder"]),
                          ("+ playlists", ["album", "folder", "playlist"]),
                          ("+ plays", ["album", "folder", "playlist", "session"])):  # fmt: skip
        z, s = learned(sources=sources, held_out=False)
        counts = ", ".join(f"{s.contexts[src]} {src}" for src in sources if src != "session")
        if "session" in sources:
            counts += f", {s.contexts['session']} sessions, {s.contexts['skip_pairs']} skips"
        rows.append((f"ablation: {name} ({counts})", z, "none", f"{s.dims} dims"))
    z, s = learned(method="sgns", held_out=False)
    rows.append(("learned, skip-gram Track2Vec (--method sgns)", z, "none", f"{s.dims} dims"))

    print("| vectors | hub red. | style P@10 (other artist & album) | style P@10 (other artists) "
          "| k-occ. skew | never recommended | journey step / shuffled | notes |")
    print("|" + "---|" * 8)
    chance = None
    for name, matrix, hub, note in rows:
        if matrix is None:
            print(f"| {name} | {hub} | (pretrained kept: no signal) | | | | | {note} |")
            continue
        cat = dataclasses.replace(base, vectors=matrix, intro=None, outro=None)
        r = evaluate(cat, labels, k, hub_reduction=hub, n_journeys=30)
        strict = r["genre_precision_artist_album_filtered"]
        chance = strict["chance"]
        j = r.get("journeys", {})
        print(f"| {name} | {hub} | {strict['value']:.3f} | {r['genre_precision']['value']:.3f} "
              f"| {r['hubness']['skewness']:.2f} | {r['hubness']['antihub_share']:.1%} "
              f"| {j.get('smoothness_ratio', float('nan')):.3f} | {note} |", flush=True)
    print(f"\nchance (other artist & album): {chance:.3f}; tracks: {len(base)}; "
          f"contexts: {summary.contexts}; held-out loss: {summary.held_out}")

    # leave-one-album-out: the query's album has no context while fitting
    artist_c, _, genre_c, title_c = _aligned(base, labels)
    ctx = build_contexts(lib.store, hashes)
    scores: dict[str, list[float]] = {"pretrained": [], "album-LDA": [], "learned": []}
    for a in np.unique(album[album >= 0]):
        queries = np.flatnonzero(album == a)
        members = {hashes[q] for q in queries}
        kept = Contexts(ctx.hashes, [c for c in ctx.contexts
                                     if not (c.source == "album" and ctx.hashes[c.tracks[0]] in members)],
                        ctx.negatives)  # fmt: skip
        head, _ = fit(x, kept, "cooccurrence", 0, "cpu")
        others = np.where(album == a, -1, album)
        for name, vecs in (("pretrained", pen), ("album-LDA", album_lda(pen, others)),
                           ("learned", pen if head is None else head(x))):  # fmt: skip
            scores[name] += strict_precision(vecs, artist_c, title_c, genre_c, queries, k)
    print("\nleave-one-album-out (each album's own context removed while fitting; its tracks "
          "scored): " + ", ".join(f"{n} {np.nanmean(v):.3f}" for n, v in scores.items()))


if __name__ == "__main__":
    main()
