"""Small synthetic libraries whose right answers are known, for the playlist engine's tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from segue.playlist.catalog import Catalog, normalise_rows


def make_catalog(vectors: np.ndarray, **meta: Any) -> Catalog:
    """A catalogue over ``vectors`` with ids 1..n, distinct artists and 200 s tracks unless
    ``meta`` says otherwise."""
    n = len(vectors)
    meta.setdefault("ids", np.arange(1, n + 1))
    meta.setdefault("artist", [f"Artist {i}" for i in range(n)])
    meta.setdefault("title", [f"Title {i}" for i in range(n)])
    meta.setdefault("path", [f"/music/a{i}/t{i}.flac" for i in range(n)])
    meta.setdefault("duration", np.full(n, 200.0))
    return Catalog(vectors=vectors, **meta)


def unit(rng: np.random.Generator, d: int) -> np.ndarray:
    v = rng.standard_normal(d)
    return v / np.linalg.norm(v)


def cluster(rng: np.random.Generator, centre: np.ndarray, m: int, spread: float) -> np.ndarray:
    """``m`` unit vectors around ``centre`` (noise of relative norm ``spread``)."""
    d = len(centre)
    x = centre[None, :] + spread * rng.standard_normal((m, d)) / np.sqrt(d)
    return normalise_rows(x)


def arc(a: np.ndarray, b: np.ndarray, m: int) -> np.ndarray:
    """``m`` unit vectors evenly spaced on the great circle from a to b (both included)."""
    omega = np.arccos(np.clip(a @ b, -1, 1))
    t = np.linspace(0, 1, m)
    pts = (np.sin((1 - t) * omega)[:, None] * a + np.sin(t * omega)[:, None] * b) / np.sin(omega)
    return normalise_rows(pts)


def orthonormal(rng: np.random.Generator, d: int, k: int) -> np.ndarray:
    q, _ = np.linalg.qr(rng.standard_normal((d, k)))
    return q.T
