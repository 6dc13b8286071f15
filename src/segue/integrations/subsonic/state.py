"""What the server keeps between calls: one Library per worker thread with one shared
catalogue, and what each user's player says it is playing."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from segue.api import Library

#: Seconds between checks of whether the library changed (the shared catalogue is rebuilt).
CHECK_EVERY = 2.0
#: A now-playing track left for another before this share of its length was skipped.
SKIP_SHARE = 0.9

class Libraries:
    """One :class:`Library` per worker thread (SQLite connections are per thread) and one
    catalogue shared between them, rebuilt when the library's change marker moves."""

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = Path(db_path)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._catalog: Any = None
        self._marker: tuple | None = None
        self._checked = 0.0

    def get(self, catalog: bool = False) -> Library:
        lib = getattr(self._local, "lib", None)
        if lib is None:
            lib = self._local.lib = Library.open(self.db_path)
        if catalog:
            lib.use_catalog(self._shared_catalog(lib))
        return lib

    def _shared_catalog(self, lib: Library) -> Any:
        with self._lock:
            if self._catalog is None or time.monotonic() - self._checked >= CHECK_EVERY:
                marker = lib.change_marker()
                self._checked = time.monotonic()
                if self._catalog is None or marker != self._marker:
                    lib.use_catalog(None)
                    self._catalog, self._marker = lib.catalog(), marker
            return self._catalog


class NowPlaying:
    """What each user's player said it is playing (``scrobble`` with ``submission=false``), so
    leaving a track early for another reads as a skip."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._playing: dict[str, tuple[int, float, float]] = {}  # user -> (id, since, duration)

    def start(self, user: str, track_id: int, duration: float, now: float) -> tuple[int, float] | None:
        """Note ``track_id`` as playing; the (id, seconds played) of a track it cut short."""
        with self._lock:
            previous = self._playing.get(user)
            self._playing[user] = (track_id, now, duration)
        if previous is None or previous[0] == track_id:
            return None
        prev_id, since, prev_duration = previous
        played = max(0.0, now - since)
        return (prev_id, played) if played < SKIP_SHARE * prev_duration else None

    def finish(self, user: str, track_id: int) -> None:
        with self._lock:
            if self._playing.get(user, (None,))[0] == track_id:
                del self._playing[user]
