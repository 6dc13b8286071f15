"""Where each track sits on the collection map: 2-D coordinates for every catalogue row.

:func:`project` is the one entry point the web app calls. It uses the map issue's projection
when there is one (``segue.art.layout.project_library``, looked up lazily so this module works
before it lands) and otherwise a fast default: PCA of the unit track vectors to two dimensions
(an SVD of the centred matrix; 100k x 200 takes well under a second). Either way the result is
scaled to [0, 1] on both axes and cached on the catalogue, so it is computed once per rebuild.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """The first two principal components of ``vectors`` (n, d), as (n, 2) float32."""
    x = np.asarray(vectors, dtype=np.float32)
    n = x.shape[0]
    if n == 0:
        return np.zeros((0, 2), np.float32)
    if n < 3:
        return np.column_stack([np.linspace(0, 1, n), np.full(n, 0.5)]).astype(np.float32)
    x = x - x.mean(axis=0)
    if n > 20000:  # the axes from a sample are as good, and the SVD stays cheap
        rng = np.random.default_rng(0)
        sample = x[rng.choice(n, 20000, replace=False)]
    else:
        sample = x
    _, _, vt = np.linalg.svd(sample, full_matrices=False)
    return (x @ vt[:2].T).astype(np.float32)


def _scale01(xy: np.ndarray) -> np.ndarray:
    lo = xy.min(axis=0)
    span = np.maximum(xy.max(axis=0) - lo, 1e-9)
    return ((xy - lo) / span).astype(np.float32)


def _external(lib: Any, catalog: Any) -> np.ndarray | None:
    """The map issue's projection, if that module exists and has one for this catalogue."""
    try:
        layout = importlib.import_module("segue.art.layout")
    except ImportError:
        return None
    fn = getattr(layout, "project_library", None)
    if fn is None:
        return None
    xy = fn(lib, catalog)
    if xy is None:
        return None
    xy = np.asarray(xy, dtype=np.float32)
    return xy if xy.shape == (len(catalog), 2) else None


def project(lib: Any, catalog: Any) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates in [0, 1] for the catalogue's rows, and the method's name."""
    cached = catalog._cache.get("web_projection")
    if cached is not None:
        return cached
    xy = _external(lib, catalog) if lib is not None else None
    method = "layout"
    if xy is None:
        xy, method = pca_2d(catalog.vectors), "pca"
    result = (_scale01(xy) if len(xy) else xy, method)
    catalog._cache["web_projection"] = result
    return result
