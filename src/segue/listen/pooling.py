"""Slice vectors -> track vectors: mean pooling, intro/outro windows, and Deej-AI's TF-IDF pooling.

Track, intro and outro vectors (what a scan stores)
    ``pool_track``: the mean of a track's slice vectors (MusiCNN: of the raw penultimate
    embeddings; Deej-AI: of the unit slice vectors, ``unit=True``) and the same over the first
    and last ~15 s of *music* (``edge_windows``: silence trimmed by the music bounds), which the
    transition-aware ordering compares (end of A vs start of B). Works on subsampled slices
    (``positions``): a window pools the analysed slices that lie in it.

Normalised mean
    ``mean_pool``: the L2-normalised mean of the L2-normalised slice vectors (the TF-IDF
    pooling's fallback for degenerate tracks).

TF-IDF ("MP3ToVec", Deej-AI [MP3ToVec.py])
    Slice vectors are L2-normalised; two slices are "the same term" when their cosine distance is
    below ``eps`` (``1 - cos < eps``; a slice always matches itself). For slice i of track t:

    * TF(i)  = number of slices of t that match i (itself included);
    * IDF(i) = -log(df_i / N), df_i = number of library tracks with >= 1 slice matching i,
      N = number of tracks in the library;
    * track vector = sum_i v_i * TF(i) * IDF(i)   (not re-normalised, as in Deej-AI).

    Deej-AI compares every pair of slices inside batches of 100 tracks (O(n^2), batch-local IDF), so
    a rescan that adds one file makes a batch of N = 1: IDF = 0, a zero vector, NaN cosines
    (teticio/Deej-AI#69). Here IDF is always library-wide, and the neighbour pairs come from a faiss
    range search over every slice of the library (see :class:`TfidfPooler`), queried only with the
    slices that are new, so an incremental scan costs the new slices' searches, not a full redo.

Decisions (documented, tested):

* ``eps`` defaults to Deej-AI's 0.001 (cos > 0.999).
* Pair decisions do not depend on float32 rounding: faiss proposes candidates with a threshold
  1e-4 looser than ``1 - eps``, and every candidate within 1e-4 of the threshold is re-checked in
  float64, so the flat index gives exactly the pairs of :func:`tfidf_pool_bruteforce`.
* Search: exact ``IndexFlatIP.range_search`` up to ``FLAT_MAX_SLICES`` (50k slices, ~2.8k
  tracks of 90 s), ``IndexIVFFlat`` (~2.5 sqrt(n) lists, nprobe 8) beyond. Exact search is still
  O(n^2 d) arithmetic (without Deej-AI's n^2 matrix or batches); IVF is sub-quadratic and, for
  pairs this close (cos > 0.999), misses very few (none on the benchmark's planted pairs).
* Degenerate tracks never give a zero or NaN vector: when a track's TF-IDF weights are all zero
  (a one-track library, N = 1, or a track whose every slice occurs in every track) or its weighted
  sum cancels to ~0, its vector is the mean-pooled vector instead (unit norm; listed by
  :meth:`TfidfPooler.fallback_keys`). Use ``normalize=True`` when the scale of vectors matters.
* Every add/remove changes N, hence IDF, hence *every* track's vector (and df of slices that
  matched the added/removed tracks). The pooler keeps the expensive part (the neighbour pairs)
  incrementally and recomputes all track vectors on demand in O(slices x dim), a few tens of ms for
  10k tracks; ``version`` increases on every change so callers know to re-read them. (No
  ``changed_since``: after any change, all vectors should be re-read.)
* The pooler lives in memory and is not thread-safe; a process that restarts rebuilds it from the
  stored slice vectors (one full search).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping

import numpy as np

DEFAULT_EPS = 1e-3
#: Intro and outro vectors pool the first and last this many seconds of music.
EDGE_SECONDS = 15.0
#: Extra slack on the faiss candidate threshold; candidates are re-checked exactly in float64.
_CANDIDATE_MARGIN = 1e-4
#: Above this many slices the "auto" index switches from exact (flat) search to IVF.
FLAT_MAX_SLICES = 50_000
_FALLBACK_REL = 1e-6


# --- helpers ----------------------------------------------------------------------------------


def _as_slices(slices, name: str = "slices") -> np.ndarray:
    arr = np.asarray(slices, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty (n_slices, dim) array, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: slice vectors hold NaN or infinite values")
    return arr


def l2_normalize(slices) -> np.ndarray:
    """Rows scaled to unit length, float64; rows of norm 0 are dropped (they have no direction).

    Raises ``ValueError`` when no row is left.
    """
    arr = _as_slices(slices)
    norms = np.linalg.norm(arr, axis=1)
    keep = norms > 0
    if not keep.any():
        raise ValueError("slices: every slice vector is zero")
    return arr[keep] / norms[keep, None]


def mean_pool(slices) -> np.ndarray:
    """Unit-norm mean of the L2-normalised slice vectors (float32, shape (dim,)).

    If the normalised slices cancel exactly (mean 0), the first slice's direction is returned, so
    the result is always a finite unit vector.
    """
    unit = l2_normalize(slices)
    m = unit.mean(axis=0)
    n = np.linalg.norm(m)
    if not n > 1e-12:
        m, n = unit[0], 1.0
    return (m / n).astype(np.float32)


def edge_windows(
    n_slices: int,
    slice_seconds: float,
    music_start: float = 0.0,
    music_end: float | None = None,
    seconds: float = EDGE_SECONDS,
) -> tuple[slice, slice]:
    """Slice ranges covering the first and last ``seconds`` of music (at least one slice each).

    Slice k covers ``[k, k+1) * slice_seconds`` of the audio; ``music_start``/``music_end``
    (seconds, default: the whole audio) leave out silence at either end.
    """
    if n_slices < 1 or not slice_seconds > 0:
        raise ValueError("edge_windows needs at least one slice of positive length")
    if music_end is None:
        music_end = n_slices * slice_seconds
    first = min(int(music_start // slice_seconds), n_slices - 1)
    last = max(first + 1, min(n_slices, int(np.ceil(music_end / slice_seconds))))
    span = max(1, int(round(seconds / slice_seconds)))
    return slice(first, min(last, first + span)), slice(max(first, last - span), last)


def pool_track(
    vectors: np.ndarray,
    slice_seconds: float,
    *,
    positions: np.ndarray | None = None,
    n_slices: int | None = None,
    music_start: float = 0.0,
    music_end: float | None = None,
    body: np.ndarray | None = None,
    unit: bool = False,
) -> dict[str, np.ndarray]:
    """``track``, ``intro`` and ``outro`` vectors (float32) of one track's slice vectors.

    ``vectors`` are the analysed slices, at ``positions`` among the track's ``n_slices`` slices
    (default: all of them, in order). ``track`` is their mean (over the ``body`` mask when given:
    a subsampled track's evenly spaced slices); ``intro``/``outro`` the mean of those inside
    :func:`edge_windows` (all of them when none is). ``unit``: average the slice vectors scaled
    to unit length (Deej-AI's recipe) rather than as they are (MusiCNN's penultimate layer).
    """
    vectors = np.asarray(vectors)
    if vectors.ndim != 2 or len(vectors) == 0:
        raise ValueError(f"pool_track: expected a non-empty (n_slices, dim) array, got {vectors.shape}")
    if unit:
        vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    if positions is None:
        positions = np.arange(len(vectors))
    n_total = n_slices or len(vectors)
    intro, outro = edge_windows(n_total, slice_seconds, music_start, music_end)

    def within(window: slice) -> np.ndarray:
        rows = (positions >= window.start) & (positions < window.stop)
        return vectors[rows] if rows.any() else vectors

    return {
        "track": (vectors if body is None else vectors[body]).mean(axis=0).astype(np.float32),
        "intro": within(intro).mean(axis=0).astype(np.float32),
        "outro": within(outro).mean(axis=0).astype(np.float32),
    }


# --- reference O(n^2) TF-IDF ------------------------------------------------------------------


def tfidf_pool_bruteforce(
    tracks: Mapping[Hashable, np.ndarray],
    eps: float = DEFAULT_EPS,
    *,
    dtype=np.float64,
    chunk: int = 512,
) -> dict[Hashable, np.ndarray]:
    """Deej-AI's TF-IDF pooling, the straightforward way: every slice against every slice.

    The full cosine-distance matrix is computed (``chunk`` rows at a time, to bound memory; the
    work is the same O(n^2 d)), then TF and df are counted from it exactly as in Deej-AI's
    MP3ToVec.py, with one library-wide batch. No degenerate-case fallback: a one-track library
    gives zero vectors, as the definition does. Returns float64 vectors. ``dtype`` is the
    precision of the distance matrix (float64 by default; the benchmark uses float32 at 10k tracks).
    """
    keys = list(tracks)
    units = [l2_normalize(tracks[k]) for k in keys]
    counts = np.array([u.shape[0] for u in units])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    owner = np.repeat(np.arange(len(keys)), counts)
    X = np.concatenate(units).astype(dtype)
    n_tracks = len(keys)
    S = X.shape[0]
    tf = np.zeros(S)
    df = np.zeros(S)
    for r0 in range(0, S, chunk):
        r1 = min(S, r0 + chunk)
        dist = 1.0 - X[r0:r1] @ X.T  # cosine distances of these rows to every slice
        match = dist < eps
        match[np.arange(r1 - r0), np.arange(r0, r1)] = True  # distance to itself is 0
        rows, cols = np.nonzero(match)
        rows += r0
        # TF(i): matches in i's own track; df(i): distinct tracks holding a match.
        same = owner[cols] == owner[rows]
        tf += np.bincount(rows[same], minlength=S)
        row_track = _sorted_unique(rows * n_tracks + owner[cols])
        df += np.bincount(row_track // n_tracks, minlength=S)
    idf = -np.log(df / n_tracks)
    w = tf * idf
    X64 = np.concatenate(units)
    return {
        k: (X64[s : s + c] * w[s : s + c, None]).sum(axis=0)
        for k, s, c in zip(keys, starts, counts, strict=True)
    }


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    a = np.sort(a)
    if a.size:
        a = a[np.concatenate([[True], a[1:] != a[:-1]])]
    return a


def _merge_sorted_unique(base: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Sorted unique union of a sorted unique ``base`` and any ``extra``, in O(base + extra log)."""
    extra = _sorted_unique(extra)
    pos = np.searchsorted(base, extra)
    if base.size:
        present = base[np.minimum(pos, base.size - 1)] == extra
        extra, pos = extra[~present], pos[~present]
    return np.insert(base, pos, extra)


# --- incremental TF-IDF pooler ------------------------------------------------------------------


class TfidfPooler:
    """Deej-AI TF-IDF pooling over a whole library, kept up to date as tracks come and go.

    Holds every track's unit slice vectors, a faiss index over them, each slice's TF (matches
    within its own track) and the set of (slice, other track) pairs that match (which gives df).
    ``add_tracks`` range-searches only the new slices against the library (the new ones included)
    and records the pairs in both directions; ``remove_tracks`` drops the pairs that involve the
    removed tracks (their slices are compacted out of the index when they outnumber the live ones).
    Pair sets are the same as a full recompute's, so incremental and full results are equal.

    ``index``: ``"flat"`` (exact, ``IndexFlatIP.range_search``; O(n^2 d) compute but no n^2
    memory), ``"ivf"`` (``IndexIVFFlat`` probing ``nprobe`` lists: sub-quadratic, may miss a rare
    near-duplicate pair across a cell border; exact below 1024 slices), or ``"auto"`` (flat up to
    ``FLAT_MAX_SLICES`` slices, IVF beyond). Pairs found before a switch are kept.

    ``version`` increases on every add/remove: every track's vector may have changed (IDF depends
    on N), so re-read :meth:`track_vectors` (cheap; cached per version).
    """

    #: Removed slices stay in the index (masked) until they outnumber the live ones and this.
    compact_min_dead = 4096

    def __init__(
        self,
        eps: float = DEFAULT_EPS,
        *,
        index: str = "auto",
        nprobe: int = 8,
        query_chunk: int = 16384,
    ) -> None:
        if not 0 < eps < 1:
            raise ValueError("eps must be in (0, 1)")
        if index not in ("auto", "flat", "ivf"):
            raise ValueError("index must be 'auto', 'flat' or 'ivf'")
        self.eps = float(eps)
        self.index_kind = index
        self.nprobe = int(nprobe)
        self.query_chunk = int(query_chunk)
        self.version = 0
        self._dim: int | None = None
        self._X = np.zeros((0, 0), dtype=np.float32)  # unit slice vectors, rows by slice id
        self._owner = np.zeros(0, dtype=np.int64)  # track id of each slice
        self._tf = np.zeros(0, dtype=np.int64)
        self._slice_alive = np.zeros(0, dtype=bool)
        self._xpairs = np.zeros(0, dtype=np.int64)  # sorted unique (slice << 32) | other_track
        self._keys: list[Hashable] = []  # track id -> key (None when removed)
        self._start = np.zeros(0, dtype=np.int64)  # track id -> first slice id
        self._count = np.zeros(0, dtype=np.int64)
        self._tid: dict[Hashable, int] = {}
        self._index = None
        self._index_is_ivf = False
        self._cache: tuple[int, dict[Hashable, np.ndarray], set[Hashable]] | None = None

    # -- public API ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tid)

    def __contains__(self, key: object) -> bool:
        return key in self._tid

    def keys(self) -> list[Hashable]:
        return list(self._tid)

    @property
    def n_slices(self) -> int:
        return int(self._slice_alive.sum())

    def add_tracks(self, tracks: Mapping[Hashable, np.ndarray]) -> None:
        """Add tracks ``{key: (n_slices, dim) array}``; a key already present is replaced.

        Zero slice vectors are dropped; NaN/inf or an empty track raise ``ValueError``.
        """
        if not tracks:
            return
        units = {k: l2_normalize(v).astype(np.float32) for k, v in tracks.items()}
        dims = {u.shape[1] for u in units.values()}
        if self._dim is not None:
            dims.add(self._dim)
        if len(dims) != 1:
            raise ValueError(f"slice vectors of different dimensions: {sorted(dims)}")
        self._dim = dims.pop()
        replaced = [k for k in units if k in self._tid]
        if replaced:
            self._remove(replaced)

        first_new = self._X.shape[0]
        new_counts = np.array([u.shape[0] for u in units.values()], dtype=np.int64)
        first_tid = len(self._keys)
        new_tids = np.arange(first_tid, first_tid + len(units))
        new_X = np.concatenate(list(units.values()))
        self._X = new_X if first_new == 0 else np.concatenate([self._X, new_X])
        self._owner = np.concatenate([self._owner, np.repeat(new_tids, new_counts)])
        self._tf = np.concatenate([self._tf, np.zeros(new_X.shape[0], dtype=np.int64)])
        self._slice_alive = np.concatenate([self._slice_alive, np.ones(new_X.shape[0], bool)])
        self._start = np.concatenate([self._start, first_new + np.cumsum(new_counts) - new_counts])
        self._count = np.concatenate([self._count, new_counts])
        for k, t in zip(units, new_tids, strict=True):
            self._keys.append(k)
            self._tid[k] = int(t)

        self._index_add(first_new)
        self._search_new(first_new)
        self._bump()

    def remove_tracks(self, keys: Iterable[Hashable]) -> None:
        """Forget tracks (unknown keys are ignored)."""
        present = [k for k in keys if k in self._tid]
        if present:
            self._remove(present)
            self._bump()

    def track_vectors(
        self, keys: Iterable[Hashable] | None = None, *, normalize: bool = False
    ) -> dict[Hashable, np.ndarray]:
        """``{key: float32 vector}`` for ``keys`` (default: every track).

        Raw Deej-AI TF-IDF vectors unless ``normalize``; degenerate tracks get the unit mean-pooled
        vector (see module doc and :meth:`fallback_keys`). Never zero, never NaN.
        """
        vecs, _ = self._vectors()
        wanted = list(self._tid) if keys is None else list(keys)
        out = {}
        for k in wanted:
            if k not in vecs:
                raise KeyError(k)
            v = vecs[k]
            out[k] = (v / np.linalg.norm(v)).astype(np.float32) if normalize else v
        return out

    def fallback_keys(self) -> set[Hashable]:
        """Tracks whose vector is the mean-pooled fallback (all-zero TF-IDF weights)."""
        return set(self._vectors()[1])

    def slice_stats(self, key: Hashable) -> dict[str, np.ndarray]:
        """Diagnostics for one track: per-slice ``tf``, ``df`` and ``idf`` (library-wide)."""
        t = self._tid[key]
        s, c = self._start[t], self._count[t]
        p_slice = self._xpairs >> 32
        lo, hi = np.searchsorted(p_slice, [s, s + c])
        df = 1 + np.bincount(p_slice[lo:hi] - s, minlength=c)
        return {
            "tf": self._tf[s : s + c].copy(),
            "df": df,
            "idf": np.log(len(self._tid)) - np.log(df),
        }

    # -- internals ---------------------------------------------------------------------------

    def _bump(self) -> None:
        self.version += 1
        self._cache = None

    def _want_ivf(self, n: int) -> bool:
        if self.index_kind == "flat":
            return False
        if self.index_kind == "ivf":
            return n >= 1024  # too few to train lists; exact search is cheap there anyway
        return n > FLAT_MAX_SLICES

    def _new_index(self, train: np.ndarray):
        import faiss

        d = self._dim
        if not self._want_ivf(train.shape[0]):
            self._index_is_ivf = False
            return faiss.IndexFlatIP(d)
        # ~2.5 sqrt(n) lists (about 1000 for 10k tracks), >= 39 training points per list
        # (faiss' minimum for k-means); 10 k-means iterations on a sample of 40 per list.
        nlist = int(max(16, min(65536, 2.5 * math.sqrt(train.shape[0]), train.shape[0] // 39)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.niter = 10
        rng = np.random.default_rng(0)
        n_train = min(train.shape[0], 40 * nlist)
        sample = train[rng.choice(train.shape[0], n_train, replace=False)]
        index.train(np.ascontiguousarray(sample))
        index.nprobe = min(self.nprobe, nlist)
        self._index_is_ivf = True
        return index

    def _index_add(self, first_new: int) -> None:
        """Put slices [first_new:] in the index; (re)build it when empty or when switching kind."""
        n_total = self._X.shape[0]
        if (
            self._index is None
            or self._index.ntotal != first_new
            or (self._want_ivf(n_total) and not self._index_is_ivf)
        ):
            self._index = self._new_index(self._X)
            self._index.add(np.ascontiguousarray(self._X))
        else:
            self._index.add(np.ascontiguousarray(self._X[first_new:]))

    def _search_new(self, first_new: int) -> None:
        """Range-search slices [first_new:] and record TF and cross-track pairs (both ways)."""
        X = self._X
        thresh = 1.0 - self.eps
        radius = thresh - _CANDIDATE_MARGIN
        new_pairs = []
        n = X.shape[0]
        for q0 in range(first_new, n, self.query_chunk):
            q1 = min(n, q0 + self.query_chunk)
            lims, sims, ids = self._index.range_search(np.ascontiguousarray(X[q0:q1]), radius)
            qi = np.repeat(np.arange(q0, q1, dtype=np.int64), np.diff(lims).astype(np.int64))
            j = ids.astype(np.int64)
            ok = self._slice_alive[j] & (qi != j)
            qi, j, sims = qi[ok], j[ok], sims[ok]
            # Exact decision, 1 - cos < eps <=> cos > 1 - eps, made in float64 for the candidates
            # whose float32 similarity is within the margin of the threshold (faiss' rounding
            # error is far below the margin, so the others are decided already).
            keep = sims > thresh + _CANDIDATE_MARGIN
            unsure = np.flatnonzero(~keep)
            if unsure.size:
                a, b = qi[unsure], j[unsure]
                cos = np.einsum("ij,ij->i", X[a].astype(np.float64), X[b].astype(np.float64))
                keep[unsure] = cos > thresh
            qi, j = qi[keep], j[keep]
            oq, oj = self._owner[qi], self._owner[j]
            same = oq == oj
            # TF: self (1) plus matches within the same track; new slices are all queries, so
            # within-track pairs are seen from both ends.
            self._tf[q0:q1] = 1 + np.bincount(qi[same] - q0, minlength=q1 - q0)
            cross = ~same
            # Record both directions so the relation is symmetric even if the index is not.
            new_pairs.append((qi[cross] << 32) | oj[cross])
            new_pairs.append((j[cross] << 32) | oq[cross])
        if new_pairs:
            self._xpairs = _merge_sorted_unique(self._xpairs, np.concatenate(new_pairs))

    def _remove(self, keys: list[Hashable]) -> None:
        tids = np.array([self._tid.pop(k) for k in keys], dtype=np.int64)
        for t in tids:
            self._keys[t] = None
            s = self._start[t]
            self._slice_alive[s : s + self._count[t]] = False
        track_alive = np.zeros(len(self._keys), dtype=bool)
        track_alive[[self._tid[k] for k in self._tid]] = True
        p_slice, p_track = self._xpairs >> 32, self._xpairs & 0xFFFFFFFF
        self._xpairs = self._xpairs[self._slice_alive[p_slice] & track_alive[p_track]]
        n_dead = int((~self._slice_alive).sum())
        if n_dead > max(self.compact_min_dead, int(self._slice_alive.sum())):
            self._compact()

    def _compact(self) -> None:
        """Drop removed slices and tracks, renumber, rebuild the index."""
        alive_tids = np.array(sorted(self._tid.values()), dtype=np.int64)
        new_tid = np.full(len(self._keys), -1, dtype=np.int64)
        new_tid[alive_tids] = np.arange(len(alive_tids))
        new_sid = np.full(self._X.shape[0], -1, dtype=np.int64)
        new_sid[self._slice_alive] = np.arange(int(self._slice_alive.sum()))
        p_slice, p_track = self._xpairs >> 32, self._xpairs & 0xFFFFFFFF
        self._xpairs = np.sort((new_sid[p_slice] << 32) | new_tid[p_track])
        self._X = self._X[self._slice_alive]
        self._owner = new_tid[self._owner[self._slice_alive]]
        self._tf = self._tf[self._slice_alive]
        self._slice_alive = np.ones(self._X.shape[0], dtype=bool)
        self._count = self._count[alive_tids]
        self._start = np.cumsum(self._count) - self._count
        self._keys = [self._keys[t] for t in alive_tids]
        self._tid = {k: i for i, k in enumerate(self._keys)}
        self._index = None
        if self._X.shape[0]:
            self._index_add(0)

    def _vectors(self) -> tuple[dict[Hashable, np.ndarray], set[Hashable]]:
        if self._cache is not None and self._cache[0] == self.version:
            return self._cache[1], self._cache[2]
        out: dict[Hashable, np.ndarray] = {}
        fallback: set[Hashable] = set()
        if self._tid:
            n_tracks = len(self._tid)
            df = 1 + np.bincount(self._xpairs >> 32, minlength=self._X.shape[0])
            idf = np.log(n_tracks) - np.log(df)  # = -log(df / N) >= 0
            w = np.where(self._slice_alive, self._tf * idf, 0.0)
            tids = np.array(sorted(self._tid.values()), dtype=np.int64)
            starts = self._start[tids]
            weighted = self._X.astype(np.float64) * w[:, None]
            sums = np.add.reduceat(weighted, starts, axis=0)
            wsum = np.add.reduceat(w, starts)
            norms = np.linalg.norm(sums, axis=1)
            for row, t in enumerate(tids):
                key = self._keys[t]
                if wsum[row] > 0 and norms[row] > _FALLBACK_REL * wsum[row]:
                    out[key] = sums[row].astype(np.float32)
                else:
                    s = self._start[t]
                    out[key] = mean_pool(self._X[s : s + self._count[t]])
                    fallback.add(key)
        self._cache = (self.version, out, fallback)
        return out, fallback
