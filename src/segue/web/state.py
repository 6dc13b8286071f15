"""What the web app shares between requests: per-thread libraries and one cached catalogue.

SQLite connections belong to the thread that opened them, and FastAPI runs plain ``def``
endpoints on a thread pool, so each worker thread opens its own :class:`~segue.api.Library`
(and keeps it). The :class:`~segue.playlist.catalog.Catalog` (vectors, tags, search index) is
the expensive part: it is built once and shared, and rebuilt when the store changes underneath
(a scan in another process adds or re-analyses tracks; WAL lets us read while it writes). The
check is a cheap fingerprint query, run at most every few seconds, and never more often than
five times the last build took, so a scan of a big library does not keep the app rebuilding.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from segue.api import Library
from segue.errors import UserError

#: Seconds between checks of whether the library changed.
CHECK_EVERY = 2.0

_FINGERPRINT_SQL = (
    "SELECT (SELECT count(*) FROM analyses), (SELECT max(analysed_at) FROM analyses), "
    "(SELECT count(*) FROM tracks), (SELECT max(updated_at) FROM tracks)"
)


@dataclass
class CatalogView:
    """A catalogue plus what the pages need beside it (covers, track id -> row)."""

    catalog: Any
    covers: dict[int, str | None] = field(default_factory=dict)
    build_seconds: float = 0.0
    cache: dict[str, Any] = field(default_factory=dict)  # derived data: map projection, search

    def row(self, track_id: int) -> int:
        """Catalogue row of a track id, or a UserError the API turns into 404."""
        try:
            return self.catalog.index_of(int(track_id))
        except (KeyError, ValueError, TypeError):
            raise TrackNotFound(f"no analysed track with id {track_id}") from None

    def known_rows(self, track_ids: list[int]) -> list[int]:
        """Rows of the ids still in the catalogue (a rescan may have removed some)."""
        out = []
        for t in track_ids:
            try:
                out.append(self.catalog.index_of(int(t)))
            except (KeyError, ValueError, TypeError):
                continue
        return out

    def track(self, row: int) -> dict[str, object]:
        """The JSON the front end shows for one catalogue row (tags are plain strings)."""
        cat = self.catalog
        tid = int(cat.ids[row])
        return {
            "id": tid,
            "title": cat.title[row] or None,
            "artist": cat.artist[row] or None,
            "album": cat.album[row] or None,
            "genre": cat.genre[row] or None,
            "duration": round(float(cat.duration[row]), 2),
            "cover": self.covers.get(tid),
            "file": Path(cat.path[row]).name if cat.path[row] else None,
        }

    def scored(self, rows: list[int], scores: list[float]) -> list[dict[str, object]]:
        """:meth:`track` for each row, with its cosine ``similarity`` to the query."""
        return [{**self.track(r), "similarity": round(float(sc), 4)}
                for r, sc in zip(rows, scores, strict=True)]  # fmt: skip


class TrackNotFound(UserError):
    """An id that is not (or not yet) in the analysed library: HTTP 404."""


class NotReady(UserError):
    """The library has no analysed tracks yet: HTTP 409."""


class AppState:
    """Per-thread libraries over one database, and the shared catalogue cache."""

    def __init__(self, db_path: str | Path, catalog: Any = None) -> None:
        self.db_path = Path(db_path)
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the catalogue view
        self._view: CatalogView | None = None
        self._fingerprint: tuple | None = None
        self._checked = 0.0
        self._fixed = catalog is not None  # an injected catalogue (benchmarks) never refreshes
        if catalog is not None:
            self._view = CatalogView(catalog=catalog)

    # -- libraries ----------------------------------------------------------------------------
    def library(self) -> Library:
        """This thread's library (opened on first use, then kept: the request threads are a
        pool that lives as long as the app). A one-off thread opens and closes its own."""
        lib = getattr(self._local, "lib", None)
        if lib is None:
            lib = Library.open(self.db_path)
            self._local.lib = lib
        return lib

    # -- the catalogue ------------------------------------------------------------------------
    def _current_fingerprint(self, lib: Library) -> tuple:
        return tuple(lib.store.conn.execute(_FINGERPRINT_SQL).fetchone())

    def view(self) -> CatalogView:
        """The current catalogue view, rebuilt if the library changed since it was built."""
        if self._fixed:
            assert self._view is not None
            return self._view
        now = time.monotonic()
        view = self._view
        wait = max(CHECK_EVERY, 5 * (view.build_seconds if view else 0.0))
        if view is not None and now - self._checked < wait:
            return view
        with self._lock:
            if self._view is not None and time.monotonic() - self._checked < wait:
                return self._view
            lib = self.library()
            fp = self._current_fingerprint(lib)
            self._checked = time.monotonic()
            if self._view is not None and fp == self._fingerprint:
                return self._view
            self._view = self._build(lib)
            self._fingerprint = fp
            return self._view

    def _build(self, lib: Library) -> CatalogView:
        t0 = time.perf_counter()
        lib.use_catalog(None)  # Library caches its catalogue per instance; we want a fresh one
        try:
            cat = lib.catalog()
        except UserError as exc:
            raise NotReady(str(exc)) from None
        tracks = lib.store.tracks()
        view = CatalogView(
            catalog=cat,
            covers={t.id: t.cover_hash for t in tracks},
        )
        view.build_seconds = time.perf_counter() - t0
        return view

    def request_library(self) -> tuple[Library, CatalogView]:
        """This thread's library with the shared catalogue installed, and the view."""
        view = self.view()
        lib = self.library()
        # Sharing one built catalogue across threads is what keeps each request cheap.
        lib.use_catalog(view.catalog)
        return lib, view
