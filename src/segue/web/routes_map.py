"""The collection map: every analysed track as a point, with what colours and labels it."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter

from segue.web.deps import State
from segue.web.projection import project

router = APIRouter(tags=["map"])


def _labels(values: list[str]) -> tuple[list[str], list[int]]:
    names: dict[str, int] = {}
    codes = [names.setdefault(v, len(names)) for v in values]
    return list(names), codes


def top_tags(catalog) -> list[str]:
    """Each track's strongest MusiCNN (MSD) tag, or "" where the track has none."""
    tags = catalog.tags or {}
    if not tags:
        return [""] * len(catalog)
    names = list(tags)
    m = np.column_stack([tags[k] for k in names])
    m = np.where(np.isfinite(m), m, -1.0)
    best = m.argmax(axis=1)
    return [names[b] if m[i, b] >= 0 else "" for i, b in enumerate(best)]


@router.get("/map")
def collection_map(st: State) -> dict:
    """Columns, one entry per track: id, x, y in [0, 1], tag/genre codes, title, artist, cover."""
    lib, view = st.request_library()
    cat = view.catalog
    cached = view.cache.get("map")
    if cached is not None:
        return cached
    xy, method = project(lib, cat)
    tag_names, tag_codes = _labels(top_tags(cat))
    genre_names, genre_codes = _labels([g or "" for g in cat.genre])
    ids = [int(i) for i in cat.ids]
    out = {
        "method": method,
        "ids": ids,
        "x": [round(float(v), 4) for v in xy[:, 0]],
        "y": [round(float(v), 4) for v in xy[:, 1]],
        "tag": tag_codes,
        "tag_names": tag_names,
        "genre": genre_codes,
        "genre_names": genre_names,
        "title": [t or None for t in cat.title],
        "artist": [a or None for a in cat.artist],
        "cover": [view.covers.get(i) for i in ids],
    }
    view.cache["map"] = out
    return out
