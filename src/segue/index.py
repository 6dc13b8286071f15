"""Cosine search over track vectors: exact below a size threshold, faiss IVF above.

One results API for both (:meth:`Index.search` returns ``(indices, scores)`` arrays of shape
``(n_queries, k)``, best first, padded with ``-1`` / ``-inf`` when fewer than ``k`` tracks are
eligible; scores are exact cosines either way), plus optional hub reduction.

Backends
    ``exact``  numpy matmul + argpartition; used up to ``exact_threshold`` (default 50 000).
    ``ivf``    faiss IVF on inner product, ``nlist = 4*sqrt(n)``, ``nprobe = max(32, nlist/32)``,
               8-bit scalar-quantised codes (``ivf_storage="sq8"``, 1 byte per dimension) whose
               shortlist (k + 16) is re-scored with the float vectors; ``"flat"`` keeps float
               codes.  Measured on clustered synthetic 200-d data, mean-of-3-tracks queries,
               one search thread (a shared, loaded 2-core machine: CPU ms per search):

               - 100k: IVF-flat nprobe 32 recall@10 0.986; HNSW M=32 recall 1.0 at similar
                 latency but 10x the build time;
               - 1M: IVF-flat nprobe 62: 0.877 (1.6 ms); nprobe 128: 0.983 (2.8 ms);
                 IVF-SQ8 + rerank nprobe 128: 0.983 (1.6 ms), index 4x smaller (200 MB);
                 HNSW M=24 efC=40: 0.90 at ef=160 (1.0 ms) after a 9-minute build (IVF: 3).

               So IVF-SQ8: recall >= 0.95 at both sizes, the fastest build, the least memory,
               and faiss ID selectors for filters.  Training takes minutes at 1M tracks:
               :meth:`Index.save` / :meth:`Index.load` keep it between processes.
    Crossover: exact costs ~0.6 ms per search at 10k, 1.7 ms at 20k and 5.3 ms at 50k (IVF:
    0.08-0.2 ms, recall 1.0 on the same data), so a 20-track radio at 50k spends ~100 ms in
    exact search.  The 50k default favours exactness; lower ``exact_threshold`` (~10k) where
    interactive latency matters more.

Filters
    ``exclude`` (ids to skip) is handled by over-fetching and dropping; ``allowed`` (a boolean
    mask, e.g. from :meth:`segue.playlist.rules.Rules.allowed_mask`) searches an exact
    sub-matrix when it leaves <= ``exact_threshold`` tracks, otherwise the IVF index with a
    faiss ID selector and ``nprobe`` scaled up by the inverse selectivity
    (:meth:`Index.prepare_filter` does this once per mask; generators call it once per playlist).

Hub reduction (``hub_reduction=``)
    ``none``  plain cosine similarity.
    ``csls``  cross-domain similarity local scaling: ``2 cos(q,t) - r(q) - r(t)`` where ``r(x)``
              is x's mean cosine to its ``hub_k`` nearest tracks (precomputed for tracks, taken
              from the shortlist for queries).  Penalises tracks that are close to everything.
    ``mp``    mutual proximity, Gaussian approximation (Schnitzer et al. 2012): each track's
              distances (1 - cos) to a fixed random reference sample of ``mp_sample`` tracks
              give a mean and std; ``MP(q,t) = P(D_q > d) * P(D_t > d)`` with normal tails.
              Score in [0, 1].
    Both rerank a cosine shortlist of ``max(4k, k + 64)`` candidates (all tracks when exact).
    See ``tests/test_index.py`` for the hubness measurement that motivates them; the default is
    ``none`` because on well-clustered libraries they barely change the neighbours.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.special import ndtr

from segue.errors import UserError
from segue.files import atomic_path, atomic_write_text

HUB_REDUCTIONS = ("none", "csls", "mp")
BACKENDS = ("auto", "exact", "ivf")


def _as_queries(q: np.ndarray, d: int) -> np.ndarray:
    q = np.asarray(q, dtype=np.float32)
    if q.ndim == 1:
        q = q[None, :]
    if q.ndim != 2 or q.shape[1] != d:
        raise ValueError(f"queries must have shape (m, {d}), got {q.shape}")
    return np.ascontiguousarray(q)


def _topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k columns per row of ``scores`` (m, n), sorted descending."""
    m, n = scores.shape
    kk = min(k, n)
    if kk <= 0:
        return np.empty((m, 0), np.int64), np.empty((m, 0), np.float32)
    if kk < n:
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
    else:
        part = np.broadcast_to(np.arange(n), (m, n)).copy()
    s = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-s, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1).astype(np.int64), np.take_along_axis(s, order, 1)


class SearchFilter:
    """A prepared ``allowed`` mask (see :meth:`Index.prepare_filter`)."""

    def __init__(self, mask: np.ndarray, count: int) -> None:
        self.mask = mask
        self.count = count
        self.rows: np.ndarray | None = None  # exact sub-matrix path
        self.sub: np.ndarray | None = None
        self.bitmap: np.ndarray | None = None  # faiss selector path (keeps the bits alive)
        self.selector: Any = None
        self.params: Any = None


#: Up to this many tracks search is exact (numpy); above, faiss IVF (see the module docstring).
EXACT_THRESHOLD = 50_000


class Index:
    """Cosine search over L2-normalised ``vectors`` (n, d); see the module docstring."""

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        backend: str = "auto",
        exact_threshold: int = EXACT_THRESHOLD,
        hub_reduction: str = "none",
        hub_k: int = 10,
        mp_sample: int = 1024,
        nlist: int | None = None,
        nprobe: int | None = None,
        ivf_storage: str = "sq8",
        seed: int = 0,
    ) -> None:
        if hub_reduction not in HUB_REDUCTIONS:
            raise UserError(
                f"unknown hub reduction {hub_reduction!r}; use one of {', '.join(HUB_REDUCTIONS)}"
            )
        if backend not in BACKENDS:
            raise UserError(f"unknown index backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.vectors.ndim != 2:
            raise ValueError("vectors must be 2-D")
        self.n, self.d = self.vectors.shape
        self.exact_threshold = int(exact_threshold)
        if backend == "auto":
            backend = "exact" if self.n <= self.exact_threshold else "ivf"
        self.backend = backend
        self.hub_reduction = hub_reduction
        self.hub_k = int(hub_k)
        self.mp_sample = int(mp_sample)
        self.seed = int(seed)
        if ivf_storage not in ("sq8", "flat"):
            raise UserError(f"unknown ivf_storage {ivf_storage!r}; use sq8 or flat")
        self.ivf_storage = ivf_storage
        self._ivf: Any = None
        self._filters: OrderedDict[bytes, SearchFilter] = OrderedDict()
        self._csls_r: np.ndarray | None = None
        self._mp_ref: np.ndarray | None = None
        self._mp_stats: tuple[np.ndarray, np.ndarray] | None = None
        if backend == "ivf":
            self._build_ivf(nlist, nprobe)

    # --- construction -------------------------------------------------------------------------

    def _build_ivf(self, nlist: int | None, nprobe: int | None) -> None:
        import faiss

        n = self.n
        if nlist is None:
            nlist = max(1, min(n // 39, int(round(4 * math.sqrt(n)))))
        self.nlist = int(nlist)
        # nprobe: ~3 % of the lists, at least 32 (measured on clustered synthetic 200-d data
        # with mean-of-3-tracks queries: recall@10 0.986 at 100k with 32 of 1265 lists; at 1M,
        # 62 of 4000 lists gave only 0.88, 128 gave 0.983)
        self.nprobe = int(nprobe) if nprobe else max(1, min(self.nlist, max(32, self.nlist // 32)))
        quantizer = faiss.IndexFlatIP(self.d)
        if self.ivf_storage == "sq8":
            ivf = faiss.IndexIVFScalarQuantizer(
                quantizer, self.d, self.nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
            )
        else:
            ivf = faiss.IndexIVFFlat(quantizer, self.d, self.nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(self.seed)
        n_train = min(n, self.nlist * 40)
        train = self.vectors[np.sort(rng.choice(n, size=n_train, replace=False))]
        ivf.cp.seed = self.seed
        ivf.train(train)
        ivf.add(self.vectors)
        ivf.nprobe = self.nprobe
        self._ivf = ivf
        self._quantizer = quantizer  # keep alive alongside the index

    # --- persistence --------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """A hash of the vectors (shape and bytes): an index saved for other vectors won't load."""
        h = hashlib.blake2b(digest_size=16)
        h.update(f"{self.n}x{self.d}".encode())
        h.update(memoryview(self.vectors).cast("B"))
        return h.hexdigest()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the ANN structure (faiss file + a JSON sidecar) so the next process can
        :meth:`load` it instead of training again (minutes at 1M tracks).  Exact indexes have
        nothing worth saving and write only the sidecar."""
        import faiss

        path = os.fspath(path)
        meta = {"backend": self.backend, "n": self.n, "d": self.d, "fingerprint": self.fingerprint()}
        if self._ivf is not None:
            meta.update(nlist=self.nlist, nprobe=self.nprobe, ivf_storage=self.ivf_storage)
            with atomic_path(path) as tmp:
                faiss.write_index(self._ivf, str(tmp))
        atomic_write_text(path + ".json", json.dumps(meta))

    @classmethod
    def load(cls, path: str | os.PathLike[str], vectors: np.ndarray, **kwargs: Any) -> Index:
        """An index over ``vectors`` from a file written by :meth:`save`; ``UserError`` if it is
        missing or was made for other vectors (rebuild it then)."""
        import faiss

        path = os.fspath(path)
        try:
            with open(path + ".json", encoding="utf-8") as f:
                meta = json.load(f)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot read the saved index {path}: {exc}") from None
        self = cls(vectors, backend="exact", **kwargs)
        if meta.get("fingerprint") != self.fingerprint():
            raise UserError(f"the saved index {path} was built for other vectors; rebuild it")
        if meta.get("backend") == "ivf":
            self._ivf = faiss.read_index(path)
            self.backend = "ivf"
            self.nlist = int(meta["nlist"])
            self.ivf_storage = meta.get("ivf_storage", "flat")
            self.nprobe = int(kwargs.get("nprobe") or meta["nprobe"])
            self._ivf.nprobe = self.nprobe
        return self

    # --- filters ------------------------------------------------------------------------------

    def prepare_filter(self, allowed: np.ndarray | SearchFilter | None) -> SearchFilter | None:
        """Precompute what searching within ``allowed`` needs (``None``: no restriction).

        Pass the result as ``allowed=`` to many searches (a playlist's steps) to skip hashing
        and preparing the mask on every call.
        """
        if allowed is None or isinstance(allowed, SearchFilter):
            return allowed
        allowed = np.asarray(allowed, dtype=bool)
        if allowed.shape != (self.n,):
            raise ValueError(f"allowed mask must have shape ({self.n},)")
        count = int(allowed.sum())
        if count == self.n:
            return None
        key = hashlib.blake2b(np.packbits(allowed).tobytes(), digest_size=16).digest()
        hit = self._filters.get(key)
        if hit is not None:
            self._filters.move_to_end(key)
            return hit
        f = SearchFilter(allowed, count)
        small = count <= self.exact_threshold and (self.backend != "exact" or count <= self.n // 4)
        if small:
            f.rows = np.flatnonzero(allowed).astype(np.int64)
            f.sub = np.ascontiguousarray(self.vectors[f.rows])
        elif self.backend == "ivf":
            import faiss

            f.bitmap = np.packbits(allowed, bitorder="little")
            sel = faiss.IDSelectorBitmap(len(f.bitmap), faiss.swig_ptr(f.bitmap))
            nprobe = min(self.nlist, int(math.ceil(self.nprobe * self.n / max(count, 1))))
            f.selector = sel
            f.params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        self._filters[key] = f
        while len(self._filters) > 8:
            self._filters.popitem(last=False)
        return f

    # --- raw cosine search --------------------------------------------------------------------

    def _cos_search(
        self, q: np.ndarray, k: int, flt: SearchFilter | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Plain cosine top-k (m, k), restricted by ``flt``; -1 / -inf padding."""
        m = q.shape[0]
        if flt is not None and flt.rows is not None:
            if len(flt.rows) == 0:
                return np.full((m, k), -1, np.int64), np.full((m, k), -np.inf, np.float32)
            idx, sc = _topk_rows(q @ flt.sub.T, k)
            return self._pad(flt.rows[idx], sc, k)
        if self.backend == "exact":
            scores = q @ self.vectors.T
            if flt is not None:
                scores[:, ~flt.mask] = -np.inf
            idx, sc = _topk_rows(scores, k)
            idx = np.where(np.isfinite(sc), idx, -1)
            return self._pad(idx, sc, k)
        kk = min(k, self.n)
        if self.ivf_storage == "sq8":
            kk = min(self.n, kk + 16)  # a few spare for the exact rerank
        if flt is None:
            sc, idx = self._ivf.search(q, kk)
        else:
            sc, idx = self._ivf.search(q, kk, params=flt.params)
        idx = idx.astype(np.int64)
        if self.ivf_storage == "sq8":
            # 8-bit codes rank approximately: rescore the shortlist with the float vectors
            safe = np.where(idx >= 0, idx, 0)
            sc = np.einsum("md,mkd->mk", q, self.vectors[safe])
            sc = np.where(idx >= 0, sc, -np.inf).astype(np.float32)
            order = np.argsort(-sc, axis=1, kind="stable")[:, :k]
            idx = np.take_along_axis(idx, order, axis=1)
            sc = np.take_along_axis(sc, order, axis=1)
            return self._pad(np.where(np.isfinite(sc), idx, -1), sc, k)
        sc = np.where(idx >= 0, sc, -np.inf).astype(np.float32)
        return self._pad(idx, sc, k)

    @staticmethod
    def _pad(idx: np.ndarray, sc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if idx.shape[1] >= k:
            return idx[:, :k], sc[:, :k]
        m = idx.shape[0]
        pad = k - idx.shape[1]
        return (
            np.hstack([idx, np.full((m, pad), -1, np.int64)]),
            np.hstack([sc, np.full((m, pad), -np.inf, np.float32)]),
        )

    # --- public search ------------------------------------------------------------------------

    def search(
        self,
        query_vectors: np.ndarray,
        k: int,
        exclude: Any = None,
        *,
        allowed: np.ndarray | SearchFilter | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best tracks per query: ``(indices (m, k) int64, scores (m, k) float32)``.

        ``query_vectors``: (m, d) or (d,), unit norm (cosine = inner product).
        ``exclude``: track indices never returned — one sequence for every query, a boolean
        mask, or a list of per-query sequences (length m).
        ``allowed``: optional boolean mask (n,) (or :meth:`prepare_filter`'s result); only these
        tracks are returned.
        Scores are cosine similarities, or hub-reduced scores (see module docstring): always
        "higher is better".  Rows with fewer eligible tracks are padded with -1 / -inf.
        """
        q = _as_queries(query_vectors, self.d)
        m = q.shape[0]
        k = int(k)
        if k < 1:
            raise UserError(f"k must be at least 1, got {k}")
        per_query: list[np.ndarray] | None = None
        if exclude is not None:
            if isinstance(exclude, np.ndarray) and exclude.dtype == bool:
                base = allowed.mask if isinstance(allowed, SearchFilter) else allowed
                allowed = ~exclude if base is None else (np.asarray(base, dtype=bool) & ~exclude)
            elif (
                isinstance(exclude, list | tuple)
                and len(exclude) > 0
                and all(isinstance(e, Sequence | np.ndarray | set) for e in exclude)
            ):
                if len(exclude) != m:
                    raise ValueError("per-query exclude needs one sequence per query")
                per_query = [np.asarray(list(e), dtype=np.int64) for e in exclude]
            else:
                ex = np.asarray(list(exclude) if isinstance(exclude, set) else exclude, np.int64)
                per_query = [ex] * m
        n_ex = max((len(e) for e in per_query), default=0) if per_query is not None else 0
        shortlist = k if self.hub_reduction == "none" else max(4 * k, k + 64)
        fetch = shortlist + n_ex
        flt = self.prepare_filter(allowed)
        exact_full = self.backend == "exact" and (flt is None or flt.rows is None)
        if exact_full and self.hub_reduction != "none":
            fetch = self.n
        fetch = min(fetch, self.n)
        idx, sc = self._cos_search(q, fetch, flt)
        if per_query is None and self.hub_reduction == "none":
            return idx, sc  # already best first, padded
        if per_query is not None:
            for r in range(m):
                if len(per_query[r]):
                    bad = np.isin(idx[r], per_query[r])
                    sc[r, bad] = -np.inf
                    idx[r, bad] = -1
        if self.hub_reduction != "none":
            sc = self._rescore(q, idx, sc)
        order = np.argsort(-sc, axis=1, kind="stable")[:, :k]
        idx = np.take_along_axis(idx, order, axis=1)
        sc = np.take_along_axis(sc, order, axis=1)
        idx = np.where(np.isfinite(sc), idx, -1)
        return self._pad(idx, sc.astype(np.float32), k)

    def similarity(self, query_vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Plain cosine of each query with the given track rows: (m, len(rows))."""
        q = _as_queries(query_vectors, self.d)
        return q @ self.vectors[np.asarray(rows, dtype=np.int64)].T

    # --- hub reduction ------------------------------------------------------------------------

    def _rescore(self, q: np.ndarray, idx: np.ndarray, cos: np.ndarray) -> np.ndarray:
        valid = idx >= 0
        safe = np.where(valid, idx, 0)
        if self.hub_reduction == "csls":
            r_t = self.csls_radius()[safe]
            top = np.sort(np.where(valid, cos, -np.inf), axis=1)[:, ::-1][:, : self.hub_k]
            top = np.where(np.isfinite(top), top, np.nan)
            r_q = np.nan_to_num(np.nanmean(top, axis=1, keepdims=True)) if top.size else 0.0
            out = 2 * cos - r_q - r_t
        else:
            mu, sd = self.mp_stats()
            ref = self._mp_ref
            dq = 1.0 - q @ self.vectors[ref].T
            mu_q = dq.mean(axis=1, keepdims=True)
            sd_q = np.maximum(dq.std(axis=1, keepdims=True), 1e-6)
            dist = 1.0 - cos
            out = ndtr(-(dist - mu_q) / sd_q) * ndtr(-(dist - mu[safe]) / sd[safe])
        return np.where(valid, out, -np.inf).astype(np.float32)

    def csls_radius(self) -> np.ndarray:
        """Each track's mean cosine to its ``hub_k`` nearest other tracks (computed once)."""
        if self._csls_r is None:
            k = min(self.hub_k, self.n - 1)
            r = np.zeros(self.n, dtype=np.float32)
            if k > 0:
                chunk = 2048
                for s in range(0, self.n, chunk):
                    e = min(self.n, s + chunk)
                    rows = np.arange(s, e)
                    idx, sc = self._cos_search(self.vectors[s:e], k + 1, None)
                    sc = np.where(idx == rows[:, None], -np.inf, sc)
                    sc = np.sort(sc, axis=1)[:, ::-1][:, :k]
                    r[s:e] = np.where(np.isfinite(sc), sc, 0).mean(axis=1)
            self._csls_r = r
        return self._csls_r

    def mp_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-track mean and std of distances to the reference sample (computed once)."""
        if self._mp_stats is None:
            rng = np.random.default_rng(self.seed)
            m = min(self.n, self.mp_sample)
            self._mp_ref = np.sort(rng.choice(self.n, size=m, replace=False))
            refv = self.vectors[self._mp_ref]
            mu = np.empty(self.n, np.float32)
            sd = np.empty(self.n, np.float32)
            chunk = 8192
            for s in range(0, self.n, chunk):
                e = min(self.n, s + chunk)
                dist = 1.0 - self.vectors[s:e] @ refv.T
                mu[s:e] = dist.mean(axis=1)
                sd[s:e] = np.maximum(dist.std(axis=1), 1e-6)
            self._mp_stats = (mu, sd)
        return self._mp_stats

    def memory_bytes(self) -> int:
        """Approximate bytes held by the index itself (beyond the shared vectors)."""
        total = 0
        if self._ivf is not None:
            code = self.d if self.ivf_storage == "sq8" else self.d * 4
            total += self.n * (code + 8) + self.nlist * self.d * 4
        for f in self._filters.values():
            if f.sub is not None:
                total += f.rows.nbytes + f.sub.nbytes
        return total
