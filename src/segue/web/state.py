"""What the web app shares between requests: per-thread libraries and one shared catalogue.

SQLite connections belong to the thread that opened them, and FastAPI runs plain ``def``
endpoints on a thread pool, so each worker thread opens its own :class:`~segue.api.Library`
(and keeps it). The catalogue (vectors, tags, search tables, the map) is the expensive part: it
is built once, installed into every thread's library, and rebuilt when the library changes
underneath (a scan in another process adds or re-analyses tracks; WAL lets us read while it
writes). The check is the library's cheap change marker, run at most every few seconds, and
never more often than five times the last build took, so a scan of a big library does not keep
the app rebuilding.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from segue.api import Library

#: Seconds between checks of whether the library changed.
CHECK_EVERY = 2.0


class AppState:
    """Per-thread libraries over one database, and the shared catalogue."""

    def __init__(self, db_path: str | Path, catalog: Any = None) -> None:
        self.db_path = Path(db_path)
        self._local = threading.local()
        self._lock = threading.Lock()  # guards the shared catalogue
        self._catalog: Any = catalog
        self._marker: tuple | None = None
        self._checked = 0.0
        self._build_seconds = 0.0
        self._fixed = catalog is not None  # an injected catalogue (benchmarks) never refreshes

    def _thread_library(self) -> Library:
        lib = getattr(self._local, "lib", None)
        if lib is None:
            lib = Library.open(self.db_path)
            self._local.lib = lib
        return lib

    def library(self) -> Library:
        """This thread's library (opened on first use, then kept: the request threads are a
        pool that lives as long as the app), with the current shared catalogue installed.

        NotReady (HTTP 409) from any catalogue call while nothing is analysed yet.
        """
        lib = self._thread_library()
        lib.use_catalog(self._current(lib))
        return lib

    def raw_library(self) -> Library:
        """This thread's library without a catalogue (for what needs no analysis: status,
        streaming a file, covers, play events)."""
        return self._thread_library()

    def _current(self, lib: Library) -> Any:
        """The shared catalogue, rebuilt first if the library changed since it was built."""
        if self._fixed:
            return self._catalog
        wait = max(CHECK_EVERY, 5 * self._build_seconds)
        if self._catalog is not None and time.monotonic() - self._checked < wait:
            return self._catalog
        with self._lock:
            if self._catalog is not None and time.monotonic() - self._checked < wait:
                return self._catalog
            marker = lib.change_marker()
            self._checked = time.monotonic()
            if self._catalog is not None and marker == self._marker:
                return self._catalog
            started = time.perf_counter()
            lib.use_catalog(None)  # a Library keeps its catalogue; we want one from the store now
            self._catalog = lib.catalog()
            self._marker = marker
            self._build_seconds = time.perf_counter() - started
            return self._catalog
