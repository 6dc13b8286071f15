"""Where each track sits on the collection map: 2-D coordinates for every catalogue row.

:func:`project` is the one entry point the web app calls. It uses the same t-SNE layout as
``segue map`` (:func:`segue.art.layout.projection`, cached on disk and shared with it) for
libraries up to :data:`TSNE_MAX_TRACKS` tracks, where it takes seconds; above that a request
cannot wait minutes, so the fast default is used: PCA of the unit track vectors to two
dimensions (:func:`segue.art.layout.pca_2d`). Either way the result is scaled to [0, 1]
on both axes and cached on the catalogue, so it is computed once per rebuild.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from segue.art.layout import pca_2d


def _scale01(xy: np.ndarray) -> np.ndarray:
    lo = xy.min(axis=0)
    span = np.maximum(xy.max(axis=0) - lo, 1e-9)
    return ((xy - lo) / span).astype(np.float32)


TSNE_MAX_TRACKS = 3000


def _external(lib: Any, catalog: Any) -> np.ndarray | None:
    """The collection map's t-SNE layout for these rows, or None (too big, or it failed)."""
    if len(catalog) > TSNE_MAX_TRACKS or len(catalog) < 3:
        return None
    from segue.art.layout import projection

    try:
        by_id = projection(lib, "tsne")
    except Exception as exc:  # noqa: BLE001 - the map must still draw: fall back to PCA
        import sys

        print(f"warning: map layout failed, using PCA: {exc}", file=sys.stderr)
        return None
    if not all(int(i) in by_id for i in catalog.ids):
        return None
    return np.asarray([by_id[int(i)] for i in catalog.ids], dtype=np.float32)


def project(lib: Any, catalog: Any) -> tuple[np.ndarray, str]:
    """(n, 2) coordinates in [0, 1] for the catalogue's rows, and the method's name."""
    def build() -> tuple[np.ndarray, str]:
        xy = _external(lib, catalog) if lib is not None else None
        method = "tsne"
        if xy is None:
            xy, method = pca_2d(catalog.vectors), "pca"
        return (_scale01(xy) if len(xy) else xy, method)

    return catalog.cached("web_projection", build)
