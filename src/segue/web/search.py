"""Search as you type over the analysed tracks: title, artist, album (and file name).

Every word typed must occur in the track's folded (case- and accent-insensitive) text; a word
at the start of a field counts more than one inside it, and the title and artist count more than
the album. A plain scan over precomputed strings: about 10 ms at 100k tracks, and no index to
keep in step with a running scan.
"""

from __future__ import annotations

import os

import numpy as np

from segue.playlist.catalog import fold_text

#: At most this many matches are ranked (see :func:`search`).
MAX_SCORED = 3000


def _fields(catalog) -> list[tuple[str, str, str, str]]:
    cached = catalog._cache.get("web_search_fields")
    if cached is None:
        cached = [
            (
                fold_text(catalog.title[i]),
                fold_text(catalog.artist[i]),
                fold_text(catalog.album[i]),
                fold_text(os.path.splitext(os.path.basename(catalog.path[i] or ""))[0]),
            )
            for i in range(len(catalog))
        ]
        catalog._cache["web_search_fields"] = cached
        # a leading space so " word" finds a word start in any field, first ones included
        catalog._cache["web_search_blob"] = [" " + " \x00 ".join(f) for f in cached]
    return cached


def search(catalog, text: str, limit: int = 50) -> list[int]:
    """Row indices matching ``text``, best first; an empty text lists the library in order."""
    fields = _fields(catalog)
    words = fold_text(text).split()
    if not words:
        order = sorted(range(len(catalog)), key=lambda i: (fields[i][1], fields[i][2], fields[i][0]))
        return order[:limit]
    blobs: list[str] = catalog._cache["web_search_blob"]
    hits = [i for i, b in enumerate(blobs) if all(w in b for w in words)]
    if len(hits) > MAX_SCORED:
        # a short word matches most of a big library: score only tracks where every word starts
        # a word (what a person typing means), keeping the per-keystroke cost bounded
        starts = [" " + w for w in words]
        hits = [i for i in hits if all(s in blobs[i] for s in starts)][:MAX_SCORED] or hits[:MAX_SCORED]
    weights = (3.0, 2.0, 1.0, 0.5)
    whole = " ".join(words)
    scores = np.zeros(len(hits))
    for n, i in enumerate(hits):
        s = 0.0
        for f, w in zip(fields[i], weights, strict=True):
            if f == whole:
                s += 10 * w
            for word in words:
                if f.startswith(word):
                    s += 2 * w
                elif f" {word}" in f:
                    s += 1.5 * w
                elif word in f:
                    s += w
        scores[n] = s
    order = np.argsort(-scores, kind="stable")[:limit]
    return [hits[j] for j in order]
