"""The library database: the one module that owns all SQL.

One SQLite file in WAL mode, so readers (the web app, a second CLI) never block a running scan and a
killed process leaves the database intact: every write happens inside a transaction, and a crash
loses at most the transaction in flight.

Tables (schema version in ``meta``):

- ``tracks``: one row per audio file in the library. ``audio_hash`` is the track's identity: a hash
  of the compressed audio payload, not of the tags, so a moved, renamed or re-tagged file keeps it.
  Files with the same ``audio_hash`` are exact duplicates and form one duplicate group.
- ``covers``: cover images, stored once per content hash (sha256 of the image bytes).
- ``scan_errors``: files that could not be read, with a one-line reason (``severity`` 'error'), and
  files that were catalogued with a caveat (``severity`` 'warning', e.g. truncated audio).
- ``analyses`` / ``vectors``: what the listening pipeline computed, keyed by ``audio_hash`` and the
  model, so duplicates share it and it survives moves and re-tags.
- ``plays``: listening events from the players (start, skip with how far in, complete), keyed by
  ``audio_hash`` too (``track_id`` is informative: ids change when a file is re-added).
- ``stars``: what the listener starred in a player (Subsonic apps): tracks by ``audio_hash``,
  albums and artists by the group key of :mod:`segue.library.browse`.
- ``saved_playlists`` / ``saved_playlist_tracks``: playlists saved from a player, their tracks
  by ``audio_hash`` in order (so a rescan that renumbers tracks keeps them).
- ``playlist_files`` / ``playlist_entries``: M3U/M3U8/XSPF/PLS files found in the scanned folders
  and their entries in order: the entry as written and its resolved absolute path (NULL for a URL
  that is no local file). An entry is a library track when a track has that path (a join at query
  time, so it resolves whenever the music is scanned).
- ``learned_models``: what ``segue learn`` fitted to this library, one row per model name, the
  arrays as an ``.npz`` blob with its version and a fingerprint of the vectors it was trained on;
  replaced in one statement, so a crashed training leaves the previous row in place.

Migrations are forward-only: ``MIGRATIONS[i]`` upgrades a database from version ``i`` to ``i + 1``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import quote

import numpy as np

from segue.errors import UserError

MIGRATIONS: list[str] = [
    # 0 -> 1: the catalogue.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE covers (
        hash TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        audio_hash TEXT NOT NULL,
        format TEXT NOT NULL,
        codec TEXT,
        title TEXT,
        artist TEXT,
        album TEXT,
        album_artist TEXT,
        genre TEXT,
        year INTEGER,
        track_no INTEGER,
        disc_no INTEGER,
        mb_track_id TEXT,
        mb_album_id TEXT,
        mb_artist_id TEXT,
        duration REAL NOT NULL,
        sample_rate INTEGER,
        channels INTEGER,
        bitrate INTEGER,
        cover_hash TEXT REFERENCES covers(hash),
        added_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX tracks_audio_hash ON tracks(audio_hash);
    CREATE TABLE scan_errors (
        path TEXT PRIMARY KEY,
        severity TEXT NOT NULL CHECK (severity IN ('error', 'warning')),
        reason TEXT NOT NULL,
        seen_at REAL NOT NULL
    );
    CREATE TABLE analyses (
        audio_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        version TEXT NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT,
        analysed_at REAL NOT NULL,
        PRIMARY KEY (audio_hash, model)
    );
    CREATE TABLE vectors (
        audio_hash TEXT NOT NULL,
        model TEXT NOT NULL,
        kind TEXT NOT NULL,
        dtype TEXT NOT NULL,
        shape TEXT NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (audio_hash, model, kind)
    );
    """,
    # 1 -> 2: DSP descriptors (tempo, beats, key, loudness, ...) as JSON, one row per audio.
    """
    CREATE TABLE descriptors (
        audio_hash TEXT PRIMARY KEY,
        data TEXT NOT NULL
    );
    """,
    # 2 -> 3: what the listener did with each track (web player): for later learning.
    """
    CREATE TABLE plays (
        id INTEGER PRIMARY KEY,
        track_id INTEGER,
        audio_hash TEXT NOT NULL,
        event TEXT NOT NULL CHECK (event IN ('start', 'skip', 'complete')),
        position_s REAL,
        duration_s REAL,
        at REAL NOT NULL
    );
    CREATE INDEX plays_audio_hash ON plays(audio_hash);
    """,
    # 3 -> 4: what players keep in the library: stars and saved playlists (Subsonic apps).
    """
    CREATE TABLE stars (
        kind TEXT NOT NULL CHECK (kind IN ('track', 'album', 'artist')),
        key TEXT NOT NULL,
        starred_at REAL NOT NULL,
        PRIMARY KEY (kind, key)
    );
    CREATE TABLE saved_playlists (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        comment TEXT,
        owner TEXT,
        public INTEGER NOT NULL DEFAULT 0,
        created_at REAL NOT NULL,
        changed_at REAL NOT NULL
    );
    CREATE TABLE saved_playlist_tracks (
        playlist_id INTEGER NOT NULL REFERENCES saved_playlists(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        audio_hash TEXT NOT NULL,
        PRIMARY KEY (playlist_id, position)
    );
    """,
    # 4 -> 5: playlist files found in the scanned folders, and models learned from the library.
    """
    CREATE TABLE playlist_files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        format TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        error TEXT,
        read_at REAL NOT NULL
    );
    CREATE TABLE playlist_entries (
        playlist_id INTEGER NOT NULL REFERENCES playlist_files(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        entry TEXT NOT NULL,
        path TEXT,
        PRIMARY KEY (playlist_id, position)
    );
    CREATE INDEX playlist_entries_path ON playlist_entries(path);
    CREATE TABLE learned_models (
        name TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        trained_on TEXT NOT NULL,
        summary TEXT NOT NULL,
        data BLOB NOT NULL,
        trained_at REAL NOT NULL
    );
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

TRACK_TAG_FIELDS = (
    "title",
    "artist",
    "album",
    "album_artist",
    "genre",
    "year",
    "track_no",
    "disc_no",
    "mb_track_id",
    "mb_album_id",
    "mb_artist_id",
)


@dataclass
class TrackRow:
    """A catalogued file, as stored."""

    id: int
    path: str
    size: int
    mtime_ns: int
    audio_hash: str
    format: str
    codec: str | None
    title: str | None
    artist: str | None
    album: str | None
    album_artist: str | None
    genre: str | None
    year: int | None
    track_no: int | None
    disc_no: int | None
    mb_track_id: str | None
    mb_album_id: str | None
    mb_artist_id: str | None
    duration: float
    sample_rate: int | None
    channels: int | None
    bitrate: int | None
    cover_hash: str | None
    added_at: float
    updated_at: float


_TRACK_COLUMNS = [f.name for f in fields(TrackRow)]


PLAY_EVENTS = ("start", "skip", "complete")


@dataclass
class PlayEvent:
    """One listening event from a player (see ``Store.record_play``)."""

    track_id: int | None
    audio_hash: str
    event: str
    position_s: float | None
    duration_s: float | None
    at: float


STAR_KINDS = ("track", "album", "artist")


@dataclass
class SavedPlaylist:
    """A playlist saved from a player: its tracks as audio hashes, in order."""

    id: int
    name: str
    comment: str | None
    owner: str | None
    public: bool
    created_at: float
    changed_at: float
    audio_hashes: list[str]
    #: The tracks' current ids (filled by the API from ``audio_hashes``; gone tracks left out).
    track_ids: list[int] = field(default_factory=list)


@dataclass
class PlaylistFileRow:
    """A playlist file found by a scan (``error`` when it could not be read)."""

    id: int
    path: str
    format: str
    error: str | None
    entries: int
    resolved: int


@dataclass
class PlaylistEntryRow:
    """One entry of a playlist file: ``track_id`` is None when no library track has its path."""

    playlist_id: int
    position: int
    entry: str
    path: str | None
    track_id: int | None
    audio_hash: str | None


@dataclass
class LearnedModelRow:
    """A stored learned model (see ``Store.put_learned_model``)."""

    name: str
    version: str
    trained_on: str
    summary: dict[str, object]
    data: bytes
    trained_at: float


@dataclass
class ScanIssue:
    """A file that failed to scan (``error``) or was catalogued with a caveat (``warning``)."""

    path: str
    severity: str
    reason: str


def _read_only(path: Path) -> bool:
    """Whether an existing library cannot be written here: the file, or the folder SQLite must
    create its journal files in, is not writable."""
    if not path.exists():
        return False
    return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK))


def _connect_read_only(path: Path) -> sqlite3.Connection:
    uri = f"file:{quote(str(path.resolve()))}"
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        # WAL needs its -shm file; in a read-only folder without one, nobody can be writing
        # the library either, so it may be read as an immutable file
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=30, isolation_level=None)


def database_problem(exc: BaseException, path: str | Path) -> UserError:
    """A database error as the one line a person needs: what happened, and what to do."""
    text = " ".join(str(exc).split())
    low = text.lower()
    if "malformed" in low or "not a database" in low or "corrupt" in low:
        return damaged_library(path, text)
    if "readonly" in low or "read-only" in low:
        return read_only_library(path)
    if "locked" in low or "busy" in low:
        return UserError(f"the library {path} stayed busy (another segue process is writing it); "
                         "try again in a moment")  # fmt: skip
    return UserError(f"the library database {path} failed: {text}")


def read_only_library(path: str | Path) -> UserError:
    """What to say when a command must write a library it may only read."""
    return UserError(f"the library {path} is read-only here and this command writes to it: "
                     "make the file and its folder writable, or use another library file")  # fmt: skip


class LibraryDamaged(UserError):
    """The library's database file is corrupt (SQLite says so)."""


def damaged_library(path: str | Path, detail: str) -> LibraryDamaged:
    """What to say, and what to do, about a corrupt library file."""
    return LibraryDamaged(
        f"the library database {path} is damaged ({detail}); make a new one with "
        f"'segue --db NEW.db scan DIR', or try to save this one with "
        f"'sqlite3 {path} .recover | sqlite3 NEW.db'"
    )


class Store:
    """An open library database. Not thread-safe: use one ``Store`` per thread or process."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        #: Opened for reading only: the file (or its folder) cannot be written by this user.
        self.read_only = False
        try:
            self.read_only = _read_only(self.path)
            if self.read_only:
                self.conn = _connect_read_only(self.path)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
                self.conn.execute("PRAGMA journal_mode=WAL")
                self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA busy_timeout=30000")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise database_problem(exc, self.path) from exc
        except OSError as exc:
            raise UserError(f"cannot open the library database {self.path}: {exc}") from exc

    # -- lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction: all or nothing, even under kill -9."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def schema_version(self) -> int:
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        has_meta = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        version = self.schema_version() if has_meta else 0
        if version > SCHEMA_VERSION:
            raise UserError(
                f"the library database {self.path} has schema version {version}, newer than this "
                f"segue understands ({SCHEMA_VERSION}); upgrade segue"
            )
        if version < SCHEMA_VERSION and self.read_only:
            raise UserError(
                f"the library {self.path} is read-only and was made by an older segue: it "
                "needs a one-time upgrade, which writes to it; make it writable once"
            )
        for target in range(version, SCHEMA_VERSION):
            with self.transaction():
                for statement in _split_sql(MIGRATIONS[target]):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(target + 1),),
                )

    def integrity_ok(self) -> bool:
        return self.integrity_problem(quick=False) is None

    def integrity_problem(self, quick: bool = True) -> str | None:
        """None when SQLite finds the file sound, else its first complaint (one line).

        ``quick``: ``PRAGMA quick_check`` (every page read, indexes not cross-checked: about a
        second per few hundred MB), else the full ``integrity_check``."""
        try:
            rows = self.conn.execute(f"PRAGMA {'quick_check' if quick else 'integrity_check'}(1)").fetchall()
        except sqlite3.DatabaseError as exc:
            return " ".join(str(exc).split())
        first = str(rows[0][0]) if rows else "no answer"
        return None if first == "ok" else " ".join(first.split())

    def change_marker(self) -> tuple:
        """A cheap value that changes whenever tracks, analyses or the learned model change
        (another process's scan or training included): readers that cache what they built from
        the store compare it."""
        return tuple(self.conn.execute(
            "SELECT (SELECT count(*) FROM analyses), (SELECT max(analysed_at) FROM analyses), "
            "(SELECT count(*) FROM tracks), (SELECT max(updated_at) FROM tracks), "
            "(SELECT count(*) FROM learned_models), (SELECT max(trained_at) FROM learned_models)"
        ).fetchone())  # fmt: skip

    # -- tracks -----------------------------------------------------------------------------
    def file_states(self) -> dict[str, tuple[int, int]]:
        """Every catalogued path with its (size, mtime_ns): what an incremental scan compares."""
        return {p: (s, m) for p, s, m in self.conn.execute("SELECT path, size, mtime_ns FROM tracks")}

    def tracks(self) -> list[TrackRow]:
        cur = self.conn.execute(f"SELECT {', '.join(_TRACK_COLUMNS)} FROM tracks ORDER BY id")
        return [TrackRow(*row) for row in cur]

    def track(self, track_id: int) -> TrackRow | None:
        row = self.conn.execute(
            f"SELECT {', '.join(_TRACK_COLUMNS)} FROM tracks WHERE id=?", (track_id,)
        ).fetchone()
        return TrackRow(*row) if row else None

    def track_by_path(self, path: str) -> TrackRow | None:
        row = self.conn.execute(
            f"SELECT {', '.join(_TRACK_COLUMNS)} FROM tracks WHERE path=?", (path,)
        ).fetchone()
        return TrackRow(*row) if row else None

    def tracks_with_hash(self, audio_hash: str) -> list[TrackRow]:
        cur = self.conn.execute(
            f"SELECT {', '.join(_TRACK_COLUMNS)} FROM tracks WHERE audio_hash=? ORDER BY id",
            (audio_hash,),
        )
        return [TrackRow(*row) for row in cur]

    def insert_track(self, values: dict[str, object]) -> int:
        now = time.time()
        values = {**values, "added_at": now, "updated_at": now}
        cols = [c for c in _TRACK_COLUMNS if c != "id" and c in values]
        cur = self.conn.execute(
            f"INSERT INTO tracks({', '.join(cols)}) VALUES({', '.join('?' * len(cols))})",
            [values[c] for c in cols],
        )
        return int(cur.lastrowid)

    def update_track(self, track_id: int, values: dict[str, object]) -> None:
        values = {**values, "updated_at": time.time()}
        cols = [c for c in _TRACK_COLUMNS if c not in ("id", "added_at") and c in values]
        self.conn.execute(
            f"UPDATE tracks SET {', '.join(c + '=?' for c in cols)} WHERE id=?",
            [values[c] for c in cols] + [track_id],
        )

    def delete_tracks(self, paths: Iterable[str]) -> int:
        return sum(
            self.conn.execute("DELETE FROM tracks WHERE path=?", (p,)).rowcount for p in paths
        )

    def duplicate_groups(self) -> list[list[int]]:
        """Track ids grouped by identical audio payload (groups of two or more only)."""
        cur = self.conn.execute(
            "SELECT group_concat(id) FROM tracks GROUP BY audio_hash HAVING count(*) > 1"
        )
        return [sorted(int(i) for i in ids.split(",")) for (ids,) in cur]

    def count_tracks(self) -> int:
        return self.conn.execute("SELECT count(*) FROM tracks").fetchone()[0]

    # -- covers -----------------------------------------------------------------------------
    def put_cover(self, digest: str, mime: str, width: int, height: int, data: bytes) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO covers(hash, mime, width, height, data) VALUES(?,?,?,?,?)",
            (digest, mime, width, height, data),
        )

    def cover(self, digest: str) -> tuple[str, bytes] | None:
        row = self.conn.execute("SELECT mime, data FROM covers WHERE hash=?", (digest,)).fetchone()
        return (row[0], row[1]) if row else None

    def count_covers(self) -> int:
        return self.conn.execute("SELECT count(*) FROM covers").fetchone()[0]

    def delete_unused_covers(self) -> int:
        return self.conn.execute(
            "DELETE FROM covers WHERE hash NOT IN "
            "(SELECT cover_hash FROM tracks WHERE cover_hash IS NOT NULL)"
        ).rowcount

    # -- scan errors ------------------------------------------------------------------------
    def record_issue(self, path: str, severity: str, reason: str) -> None:
        self.conn.execute(
            "INSERT INTO scan_errors(path, severity, reason, seen_at) VALUES(?,?,?,?) "
            "ON CONFLICT(path) DO UPDATE SET severity=excluded.severity, "
            "reason=excluded.reason, seen_at=excluded.seen_at",
            (path, severity, reason, time.time()),
        )

    def clear_issue(self, path: str) -> None:
        self.conn.execute("DELETE FROM scan_errors WHERE path=?", (path,))

    def issues(self) -> list[ScanIssue]:
        cur = self.conn.execute("SELECT path, severity, reason FROM scan_errors ORDER BY path")
        return [ScanIssue(*row) for row in cur]

    def issue_paths(self) -> set[str]:
        return {p for (p,) in self.conn.execute("SELECT path FROM scan_errors")}

    # -- analysis results ---------------------------------------------------------------------
    def analysed_hashes(self, model: str, version: str) -> set[str]:
        """Hashes with a finished analysis (ok or error) for this model version."""
        cur = self.conn.execute(
            "SELECT audio_hash FROM analyses WHERE model=? AND version=?", (model, version)
        )
        return {h for (h,) in cur}

    def record_analysis(
        self,
        audio_hash: str,
        model: str,
        version: str,
        vectors: dict[str, np.ndarray],
        error: str | None = None,
    ) -> None:
        """Store one track's analysis for a model: its arrays, or the one-line error."""
        self.conn.execute(
            "DELETE FROM vectors WHERE audio_hash=? AND model=?", (audio_hash, model)
        )
        for kind, array in vectors.items():
            array = np.ascontiguousarray(array)
            self.conn.execute(
                "INSERT INTO vectors(audio_hash, model, kind, dtype, shape, data) "
                "VALUES(?,?,?,?,?,?)",
                (
                    audio_hash,
                    model,
                    kind,
                    array.dtype.str,
                    ",".join(map(str, array.shape)),
                    array.tobytes(),
                ),
            )
        self.conn.execute(
            "INSERT INTO analyses(audio_hash, model, version, ok, error, analysed_at) "
            "VALUES(?,?,?,?,?,?) ON CONFLICT(audio_hash, model) DO UPDATE SET "
            "version=excluded.version, ok=excluded.ok, error=excluded.error, "
            "analysed_at=excluded.analysed_at",
            (audio_hash, model, version, int(error is None), error, time.time()),
        )

    def analysis_versions(self, model: str) -> dict[str, int]:
        """How many audios have a successful analysis of each version of ``model``."""
        cur = self.conn.execute(
            "SELECT version, count(*) FROM analyses WHERE model=? AND ok=1 GROUP BY version",
            (model,),
        )
        return {v: int(c) for v, c in cur}

    def analysis_status(self, model: str) -> dict[str, str | None]:
        """audio_hash -> None (analysed) or the error text, for one model."""
        cur = self.conn.execute("SELECT audio_hash, ok, error FROM analyses WHERE model=?", (model,))
        return {h: (None if ok else (err or "analysis failed")) for h, ok, err in cur}

    def vector_hashes(self, model: str, kind: str) -> list[str]:
        """The audio hashes that have a stored vector of this model and kind (no vectors read)."""
        cur = self.conn.execute("SELECT audio_hash FROM vectors WHERE model=? AND kind=?", (model, kind))
        return [h for (h,) in cur]

    def count_vectors(self, model: str, kind: str) -> int:
        """How many audios have a stored vector of this model and kind."""
        return self.conn.execute(
            "SELECT count(*) FROM vectors WHERE model=? AND kind=?", (model, kind)
        ).fetchone()[0]

    def vectors(self, model: str, kind: str) -> dict[str, np.ndarray]:
        """audio_hash -> array for every stored vector of this model and kind."""
        cur = self.conn.execute(
            "SELECT audio_hash, dtype, shape, data FROM vectors WHERE model=? AND kind=?",
            (model, kind),
        )
        return {h: _decode_array(dt, shape, data) for h, dt, shape, data in cur}

    def vector_matrix(
        self, model: str, kind: str, hashes: Sequence[str], dtype: type = np.float32
    ) -> tuple[np.ndarray, np.ndarray]:
        """The stored vectors of this model and kind for ``hashes`` as one matrix in that order
        (a hash listed twice gets its row twice), and a mask of the rows found; the others are
        zero. Filled row by row from the database, with no array object per vector: a
        million-track library costs the matrix and no more (a dict of a million small arrays,
        as :meth:`vectors` gives, costs more than the matrix itself). A stored vector of another
        length than the first one read is treated as missing."""
        first: dict[str, int] = {}
        repeats: list[tuple[int, int]] = []
        for i, h in enumerate(hashes):
            j = first.setdefault(h, i)
            if j != i:
                repeats.append((i, j))
        found = np.zeros(len(hashes), dtype=bool)
        out: np.ndarray | None = None
        cur = self.conn.execute(
            "SELECT audio_hash, dtype, data FROM vectors WHERE model=? AND kind=?", (model, kind)
        )
        for h, dt, data in cur:
            i = first.get(h)
            if i is None:
                continue
            v = np.frombuffer(data, dtype=np.dtype(dt))
            if out is None:
                out = np.zeros((len(hashes), v.size), dtype=dtype)
            if v.size == out.shape[1]:
                out[i] = v
                found[i] = True
        if out is None:
            out = np.zeros((len(hashes), 0), dtype=dtype)
        if repeats:
            to, frm = np.array(repeats).T
            out[to], found[to] = out[frm], found[frm]
        return out, found

    def put_descriptors(self, audio_hash: str, data: dict[str, object]) -> None:
        self.conn.execute(
            "INSERT INTO descriptors(audio_hash, data) VALUES(?, ?) "
            "ON CONFLICT(audio_hash) DO UPDATE SET data=excluded.data",
            (audio_hash, json.dumps(data, allow_nan=False)),
        )

    def descriptor(self, audio_hash: str) -> dict[str, object] | None:
        """One audio's descriptors JSON object, or None."""
        row = self.conn.execute("SELECT data FROM descriptors WHERE audio_hash=?", (audio_hash,)).fetchone()
        return json.loads(row[0]) if row else None

    def descriptors(self) -> dict[str, dict[str, object]]:
        """audio_hash -> descriptors JSON object for every analysed audio."""
        cur = self.conn.execute("SELECT audio_hash, data FROM descriptors")
        return {h: json.loads(data) for h, data in cur}

    # -- listening events ---------------------------------------------------------------------
    def record_play(
        self,
        track_id: int,
        audio_hash: str,
        event: str,
        position_s: float | None = None,
        duration_s: float | None = None,
        at: float | None = None,
    ) -> int:
        """Record that a track was started, skipped (``position_s`` in) or listened to the end."""
        if event not in PLAY_EVENTS:
            raise UserError(f"unknown play event {event!r}; expected one of {', '.join(PLAY_EVENTS)}")
        cur = self.conn.execute(
            "INSERT INTO plays(track_id, audio_hash, event, position_s, duration_s, at) "
            "VALUES(?,?,?,?,?,?)",
            (track_id, audio_hash, event, position_s, duration_s, time.time() if at is None else at),
        )
        return int(cur.lastrowid)

    def plays(self, audio_hash: str | None = None, limit: int | None = None) -> list[PlayEvent]:
        """Play events, newest first (all, or one audio's)."""
        sql = "SELECT track_id, audio_hash, event, position_s, duration_s, at FROM plays"
        args: list[object] = []
        if audio_hash is not None:
            sql += " WHERE audio_hash=?"
            args.append(audio_hash)
        sql += " ORDER BY at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        return [PlayEvent(*row) for row in self.conn.execute(sql, args)]

    def play_counts(self) -> dict[str, tuple[int, float]]:
        """audio_hash -> (times played to the end, when last started or finished)."""
        cur = self.conn.execute(
            "SELECT audio_hash, sum(event = 'complete'), max(at) FROM plays GROUP BY audio_hash"
        )
        return {h: (int(n or 0), float(at)) for h, n, at in cur}

    # -- what players keep: stars and saved playlists -----------------------------------------
    def set_star(self, kind: str, key: str, starred: bool, at: float | None = None) -> None:
        """Star (or unstar) a track (by audio hash), an album or an artist (by group key)."""
        if kind not in STAR_KINDS:
            raise UserError(f"unknown star kind {kind!r}; expected one of {', '.join(STAR_KINDS)}")
        if starred:
            self.conn.execute(
                "INSERT INTO stars(kind, key, starred_at) VALUES(?,?,?) "
                "ON CONFLICT(kind, key) DO NOTHING",
                (kind, key, time.time() if at is None else at),
            )
        else:
            self.conn.execute("DELETE FROM stars WHERE kind=? AND key=?", (kind, key))

    def stars(self) -> dict[str, dict[str, float]]:
        """kind -> {key: starred_at} for every star."""
        out: dict[str, dict[str, float]] = {k: {} for k in STAR_KINDS}
        for kind, key, at in self.conn.execute("SELECT kind, key, starred_at FROM stars"):
            out[kind][key] = at
        return out

    def save_playlist(self, name: str, audio_hashes: Sequence[str], *,
                      playlist_id: int | None = None, comment: str | None = None,
                      owner: str | None = None, public: bool = False) -> int:  # fmt: skip
        """Create a saved playlist (or, with ``playlist_id``, replace one's name and tracks)."""
        now = time.time()
        with self.transaction():
            if playlist_id is None:
                cur = self.conn.execute(
                    "INSERT INTO saved_playlists(name, comment, owner, public, created_at, changed_at) "
                    "VALUES(?,?,?,?,?,?)",
                    (name, comment, owner, int(public), now, now),
                )
                playlist_id = int(cur.lastrowid)
            else:
                self.conn.execute("UPDATE saved_playlists SET name=?, changed_at=? WHERE id=?",
                                  (name, now, playlist_id))  # fmt: skip
            self._set_playlist_tracks(playlist_id, audio_hashes)
        return playlist_id

    def _set_playlist_tracks(self, playlist_id: int, audio_hashes: Sequence[str]) -> None:
        self.conn.execute("DELETE FROM saved_playlist_tracks WHERE playlist_id=?", (playlist_id,))
        self.conn.executemany(
            "INSERT INTO saved_playlist_tracks(playlist_id, position, audio_hash) VALUES(?,?,?)",
            [(playlist_id, i, h) for i, h in enumerate(audio_hashes)],
        )

    def update_saved_playlist(self, playlist_id: int, *, name: str | None = None,
                              comment: str | None = None, public: bool | None = None,
                              audio_hashes: Sequence[str] | None = None) -> None:  # fmt: skip
        """Change what is given of a saved playlist; ``audio_hashes`` replaces its tracks."""
        with self.transaction():
            sets = {"name": name, "comment": comment,
                    "public": None if public is None else int(public)}  # fmt: skip
            for column, value in sets.items():
                if value is not None:
                    self.conn.execute(f"UPDATE saved_playlists SET {column}=? WHERE id=?",
                                      (value, playlist_id))  # fmt: skip
            if audio_hashes is not None:
                self._set_playlist_tracks(playlist_id, audio_hashes)
            self.conn.execute(
                "UPDATE saved_playlists SET changed_at=? WHERE id=?", (time.time(), playlist_id)
            )

    def delete_saved_playlist(self, playlist_id: int) -> bool:
        """Delete a saved playlist; whether it existed."""
        with self.transaction():
            self.conn.execute("DELETE FROM saved_playlist_tracks WHERE playlist_id=?", (playlist_id,))
            cur = self.conn.execute("DELETE FROM saved_playlists WHERE id=?", (playlist_id,))
            return cur.rowcount > 0

    def saved_playlists(self, playlist_id: int | None = None) -> list[SavedPlaylist]:
        """Every saved playlist (or the one with ``playlist_id``), oldest first, with its tracks."""
        sql = "SELECT id, name, comment, owner, public, created_at, changed_at FROM saved_playlists"
        args: tuple = ()
        if playlist_id is not None:
            sql, args = sql + " WHERE id=?", (playlist_id,)
        out = []
        rows = self.conn.execute(sql + " ORDER BY id", args).fetchall()
        for pid, name, comment, owner, public, created, changed in rows:
            cur = self.conn.execute(
                "SELECT audio_hash FROM saved_playlist_tracks WHERE playlist_id=? ORDER BY position",
                (pid,),
            )
            hashes = [h for (h,) in cur]
            out.append(SavedPlaylist(pid, name, comment, owner, bool(public), created, changed, hashes))
        return out

    # -- playlist files ---------------------------------------------------------------------------
    def playlist_file_states(self) -> dict[str, tuple[int, int]]:
        """Every recorded playlist file with its (size, mtime_ns)."""
        cur = self.conn.execute("SELECT path, size, mtime_ns FROM playlist_files")
        return {p: (s, m) for p, s, m in cur}

    def put_playlist_file(
        self,
        path: str,
        fmt: str,
        size: int,
        mtime_ns: int,
        entries: Sequence[tuple[str, str | None]],
        error: str | None = None,
    ) -> int:
        """Record (or replace) a playlist file and its entries: (as written, resolved path)."""
        self.conn.execute(
            "INSERT INTO playlist_files(path, format, size, mtime_ns, error, read_at) "
            "VALUES(?,?,?,?,?,?) ON CONFLICT(path) DO UPDATE SET format=excluded.format, "
            "size=excluded.size, mtime_ns=excluded.mtime_ns, error=excluded.error, "
            "read_at=excluded.read_at",
            (path, fmt, size, mtime_ns, error, time.time()),
        )
        pid = int(
            self.conn.execute("SELECT id FROM playlist_files WHERE path=?", (path,)).fetchone()[0]
        )
        self.conn.execute("DELETE FROM playlist_entries WHERE playlist_id=?", (pid,))
        self.conn.executemany(
            "INSERT INTO playlist_entries(playlist_id, position, entry, path) VALUES(?,?,?,?)",
            [(pid, i, entry, resolved) for i, (entry, resolved) in enumerate(entries)],
        )
        return pid

    def delete_playlist_files(self, paths: Iterable[str]) -> int:
        return sum(
            self.conn.execute("DELETE FROM playlist_files WHERE path=?", (p,)).rowcount
            for p in paths
        )

    def playlist_files(self) -> list[PlaylistFileRow]:
        """Recorded playlist files with their entry counts (all, and those that are tracks)."""
        cur = self.conn.execute(
            "SELECT f.id, f.path, f.format, f.error, count(e.position), count(t.id) "
            "FROM playlist_files f LEFT JOIN playlist_entries e ON e.playlist_id = f.id "
            "LEFT JOIN tracks t ON t.path = e.path GROUP BY f.id ORDER BY f.path"
        )
        return [PlaylistFileRow(*row) for row in cur]

    def playlist_entries(self, playlist_id: int | None = None) -> list[PlaylistEntryRow]:
        """Entries in playlist order (one playlist's, or all grouped by playlist), each with
        the library track that has its path, if any."""
        sql = (
            "SELECT e.playlist_id, e.position, e.entry, e.path, t.id, t.audio_hash "
            "FROM playlist_entries e LEFT JOIN tracks t ON t.path = e.path"
        )
        args: list[object] = []
        if playlist_id is not None:
            sql += " WHERE e.playlist_id=?"
            args.append(playlist_id)
        sql += " ORDER BY e.playlist_id, e.position"
        return [PlaylistEntryRow(*row) for row in self.conn.execute(sql, args)]

    # -- learned models -------------------------------------------------------------------------
    def put_learned_model(
        self, name: str, version: str, trained_on: str, summary: dict[str, object], data: bytes
    ) -> None:
        """Store a learned model, replacing the previous one of that name in one statement."""
        self.conn.execute(
            "INSERT INTO learned_models(name, version, trained_on, summary, data, trained_at) "
            "VALUES(?,?,?,?,?,?) ON CONFLICT(name) DO UPDATE SET version=excluded.version, "
            "trained_on=excluded.trained_on, summary=excluded.summary, data=excluded.data, "
            "trained_at=excluded.trained_at",
            (name, version, trained_on, json.dumps(summary), data, time.time()),
        )

    def learned_model(self, name: str) -> LearnedModelRow | None:
        row = self.conn.execute(
            "SELECT name, version, trained_on, summary, data, trained_at FROM learned_models "
            "WHERE name=?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return LearnedModelRow(row[0], row[1], row[2], json.loads(row[3]), row[4], row[5])

    def learned_model_stamp(self, name: str) -> tuple[str, float] | None:
        """(version, trained_at) of a stored model without reading its data: a cheap check
        of whether a model loaded earlier is still the current one."""
        row = self.conn.execute(
            "SELECT version, trained_at FROM learned_models WHERE name=?", (name,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def delete_learned_model(self, name: str) -> None:
        self.conn.execute("DELETE FROM learned_models WHERE name=?", (name,))

    def vector(self, audio_hash: str, model: str, kind: str) -> np.ndarray | None:
        row = self.conn.execute(
            "SELECT dtype, shape, data FROM vectors WHERE audio_hash=? AND model=? AND kind=?",
            (audio_hash, model, kind),
        ).fetchone()
        return _decode_array(*row) if row else None


def _decode_array(dtype: str, shape: str, data: bytes) -> np.ndarray:
    dims: Sequence[int] = tuple(int(s) for s in shape.split(",")) if shape else ()
    return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(dims)


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
