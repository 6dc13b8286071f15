"""Clusters: the library as a handful of coherent playlists in the space segue hears with.

k-means (scipy's k-means++ start, several restarts, the best inertia kept) on the unit vectors
of the catalogue, for each k from 2 to :data:`MAX_CLUSTERS` (bounded by the library's size);
the k with the best silhouette (on a sample of at most :data:`SILHOUETTE_SAMPLE` tracks) wins.
Each cluster's tracks run from its centre outwards, and it is named from the MusiCNN tags that
set it apart from the whole library (the cluster's mean tag probability over the library's)
and its most frequent artists, e.g. ``"electronic, beats - Kenta Cho, Maxstack"``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2

from segue.playlist.catalog import Catalog

MAX_CLUSTERS = 10
MIN_CLUSTER_TRACKS = 5
SILHOUETTE_SAMPLE = 2000
RESTARTS = 4
#: The centres are fitted on at most this many tracks (a random sample), then every track joins
#: its nearest centre: a 100k-track library clusters in seconds, not minutes.
FIT_SAMPLE = 20_000


@dataclass
class Cluster:
    name: str
    rows: list[int]  # catalogue rows, nearest to the centre first
    tags: list[str]
    artists: list[str]


def _silhouette(z: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (1 - dot of unit vectors)."""
    dist = 1.0 - z @ z.T
    ks = np.unique(labels)
    if len(ks) < 2:
        return -1.0
    per = np.stack([dist[:, labels == k].mean(axis=1) for k in ks], axis=1)
    own = np.searchsorted(ks, labels)
    sizes = np.array([(labels == k).sum() for k in ks])
    # a track's mean distance to its own cluster leaves itself out
    a = per[np.arange(len(z)), own] * sizes[own] / np.maximum(sizes[own] - 1, 1)
    per[np.arange(len(z)), own] = np.inf
    b = per.min(axis=1)
    s = (b - a) / np.maximum(np.maximum(a, b), 1e-12)
    s[sizes[own] == 1] = 0.0
    return float(s.mean())


def _kmeans(z: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for r in range(RESTARTS):
        centres, labels = kmeans2(z, k, minit="++", seed=seed + r)
        inertia = float(((z - centres[labels]) ** 2).sum())
        if best is None or inertia < best[0]:
            best = (inertia, centres, labels)
    assert best is not None
    return best[1], best[2]


def cluster_catalog(catalog: Catalog, k: int | None = None, seed: int = 0) -> list[Cluster]:
    """The library in ``k`` clusters (chosen by silhouette when None), biggest first."""
    z = np.asarray(catalog.vectors, dtype=np.float64)
    n = len(z)
    rng = np.random.default_rng(seed)
    fit = z[np.sort(rng.choice(n, FIT_SAMPLE, replace=False))] if n > FIT_SAMPLE else z
    most = min(MAX_CLUSTERS, n // MIN_CLUSTER_TRACKS)
    if k is None:
        if most < 2:
            k = 1
        else:
            sample = rng.choice(len(fit), min(len(fit), SILHOUETTE_SAMPLE), replace=False)
            scores = {}
            for kk in range(2, most + 1):
                _, labels = _kmeans(fit, kk, seed)
                scores[kk] = _silhouette(fit[sample], labels[sample])
            k = max(scores, key=lambda kk: scores[kk])
    k = max(1, min(int(k), n))
    if k == 1:
        centres, labels = z.mean(axis=0, keepdims=True), np.zeros(n, dtype=np.int64)
    else:
        centres, labels = _kmeans(fit, k, seed)
        if fit is not z:  # every track to its nearest centre: argmin |z - c|^2 = |c|^2 - 2 z.c
            sq = (centres**2).sum(axis=1)
            labels = np.concatenate([np.argmin(sq[None, :] - 2 * z[s : s + 8192] @ centres.T, axis=1)
                                     for s in range(0, n, 8192)])  # fmt: skip
    tag_names = list(catalog.tags) if catalog.tags else []
    tag_matrix = np.stack([catalog.tags[t] for t in tag_names], axis=1) if tag_names else None
    overall = np.nanmean(tag_matrix, axis=0) if tag_matrix is not None else None
    out = []
    for c in range(k):
        rows = np.flatnonzero(labels == c)
        if not len(rows):
            continue
        centre = centres[c] / (np.linalg.norm(centres[c]) or 1.0)
        rows = rows[np.argsort(-(z[rows] @ centre))]
        tags: list[str] = []
        if tag_matrix is not None and overall is not None:
            lift = np.nanmean(tag_matrix[rows], axis=0) / np.maximum(overall, 1e-6)
            tags = [tag_names[i] for i in np.argsort(-np.nan_to_num(lift))[:2]]
        artists = [a for a, _ in Counter(a for a in (catalog.artist[r] for r in rows) if a)
                   .most_common(2)]  # fmt: skip
        name = ", ".join(tags) or f"cluster {c + 1}"
        if artists:
            name += " - " + ", ".join(artists)
        out.append(Cluster(name, [int(r) for r in rows], tags, artists))
    out.sort(key=lambda cl: -len(cl.rows))
    return out
