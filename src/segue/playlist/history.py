"""What has been played so far: the bookkeeping every sequential rule and generator reads.

A :class:`History` is a playlist under construction (radio, journey, reorder): the rows in
order, their duplicate groups (no track or copy of it twice), artist and album counts, vectors
and total seconds. The rules that read it live in :mod:`segue.playlist.rules`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np

from segue.playlist.catalog import Catalog


def member(x: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """``np.isin`` without its sorting overhead for the small pools playlists have."""
    if len(pool) == 0:
        return np.zeros(len(x), dtype=bool)
    if len(x) * len(pool) <= 65536:
        return (x[:, None] == pool[None, :]).any(axis=1)
    return np.isin(x, pool)


class History:
    """A playlist under construction, with the bookkeeping the sequential rules need."""

    def __init__(self, catalog: Catalog, indices: Iterable[int] = ()) -> None:
        self.catalog = catalog
        self.indices: list[int] = []
        self.groups: set[int] = set()
        self.artists: Counter[int] = Counter()
        self.albums: Counter[int] = Counter()
        self._vecs = np.empty((16, catalog.dim), dtype=np.float32)
        self._group_arr: np.ndarray | None = None
        self.seconds = 0.0
        for i in indices:
            self.add(i)

    def add(self, i: int) -> None:
        c = self.catalog
        i = int(i)
        n = len(self.indices)
        if n == len(self._vecs):
            self._vecs = np.vstack([self._vecs, np.empty_like(self._vecs)])
        self._vecs[n] = c.vectors[i]
        self.indices.append(i)
        self.groups.add(int(c.group[i]))
        self._group_arr = None
        a = int(c.artist_codes[i])
        if a >= 0:
            self.artists[a] += 1
        al = int(c.album_codes[i])
        if al >= 0:
            self.albums[al] += 1
        self.seconds += track_seconds(c, i)

    def forget(self, keep_last: int) -> None:
        """Drop all but the last ``keep_last`` tracks from the bookkeeping (for endless radio)."""
        keep = self.indices[-keep_last:] if keep_last > 0 else []
        self.__init__(self.catalog, keep)  # type: ignore[misc]

    @property
    def vectors(self) -> np.ndarray:
        return self._vecs[: len(self.indices)]

    def used(self, candidates: np.ndarray) -> np.ndarray:
        """Boolean array: which candidates are (exact duplicates of) tracks already played."""
        if self._group_arr is None:
            self._group_arr = np.fromiter(self.groups, dtype=np.int64, count=len(self.groups))
        return member(self.catalog.group[candidates], self._group_arr)

    def __len__(self) -> int:
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)

    def __contains__(self, i: object) -> bool:
        return i in set(self.indices)


def track_seconds(catalog: Catalog, i: int) -> float:
    """A track's duration, or the library's median duration (240 s if none known)."""
    d = catalog.duration[i]
    if np.isfinite(d):
        return float(d)
    def median() -> float:
        known = catalog.duration[np.isfinite(catalog.duration)]
        return float(np.median(known)) if len(known) else 240.0

    return catalog.cached("median_duration", median)
