"""Walk music folders into the library: incremental, parallel, resumable, never stopped by a bad file.

How a scan goes:

1. Walk every folder (following symlinked folders once each, so a loop cannot trap it) and list
   the files with an audio extension; the content, not the name, later decides the format.
2. A file whose size and mtime match the library is unchanged and is not opened at all.
3. Worker processes read every other file once: tags and cover with mutagen, then one pass over
   the compressed packets for the real duration and the payload hash (the track's identity) and,
   when an :class:`AnalysisHook` is given, decoding in that same pass for the listening pipeline.
4. The main process writes results in small transactions as they arrive, so kill -9 at any moment
   loses only the files in flight, and a re-run picks up from there.
5. Only after a complete walk are files that disappeared removed from the library: an interrupted
   scan never deletes anything.

A new path whose payload hash matches a track whose file no longer exists is that track, moved or
renamed: it keeps its id and everything computed for it.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from segue.audio.decode import AudioInfo, read_audio
from segue.audio.formats import AUDIO_EXTENSIONS
from segue.errors import DecodeError, UserError
from segue.library.playlist_files import record_playlist_files
from segue.library.store import Store
from segue.library.tags import Cover, find_cover, folder_cover_path, open_tags, read_tags
from segue.progress import Progress

#: A truncated file is catalogued (it plays) with a warning when its audio ends this early.
TRUNCATION_SHARE = 0.9
#: Results are committed at least this often (seconds) and at most this many per transaction.
COMMIT_SECONDS = 0.5
COMMIT_FILES = 64


class AnalysisHook(Protocol):
    """How the listening pipeline rides along a scan.

    ``prepare`` runs in the worker that has just decoded the file (it must be picklable and cheap
    to send); ``consume`` runs in the main process, which may batch across tracks and writes to
    the store; ``finish`` flushes whatever is still batched.
    """

    model: str
    version: str
    decode_rates: tuple[int, ...]

    def prepare(self, audio: dict[int, np.ndarray]) -> Any: ...

    def consume(self, store: Store, audio_hash: str, prepared: Any) -> None: ...

    def fail(self, store: Store, audio_hash: str, error: str) -> None: ...

    def finish(self, store: Store) -> None: ...


@dataclass
class FileResult:
    """What a worker learned about one file."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    info: AudioInfo | None = None
    tags: dict[str, object] | None = None
    cover: Cover | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    vanished: bool = False
    prepared: Any = None
    analysis_error: str | None = None


@dataclass
class ScanReport:
    """Counts and problems of one scan, as shown to the user (``--json`` prints this)."""

    added: int = 0
    updated: int = 0
    moved: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: int = 0
    analysed: int = 0
    duplicates: int = 0
    vanished: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    errors: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    learned: dict[str, object] | None = None  # the training that followed the scan (segue.learn)

    def as_dict(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["errors"] = [{"path": p, "reason": r} for p, r in self.errors]
        data["warnings"] = [{"path": p, "reason": r} for p, r in self.warnings]
        return data


class ScanInterrupted(Exception):
    """Ctrl-C during a scan; finished work is saved. Carries the partial report."""

    def __init__(self, report: ScanReport) -> None:
        super().__init__("scan interrupted")
        self.report = report


# -- walking ---------------------------------------------------------------------------------


def walk_audio_files(roots: Sequence[Path], on_error: Callable[[str, str], None]) -> list[str]:
    """Absolute paths of files with an audio extension under ``roots``, each listed once."""
    found: dict[str, None] = {}
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(
            root, followlinks=True, onerror=lambda e: on_error(e.filename, _os_reason(e))
        ):
            try:
                st = os.stat(dirpath)
            except OSError as exc:
                on_error(dirpath, _os_reason(exc))
                dirnames[:] = []
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen_dirs:  # a symlink loop or a folder reached twice
                dirnames[:] = []
                continue
            seen_dirs.add(key)
            dirnames.sort()
            for name in sorted(filenames):
                if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                    found[os.path.join(dirpath, name)] = None
    return list(found)


def _os_reason(exc: OSError) -> str:
    import errno

    if exc.errno == errno.ELOOP:
        return "symlink loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ENOENT:
        return "file disappeared during the scan"
    return " ".join((exc.strerror or str(exc)).split())


# -- reading one file (runs in workers) ------------------------------------------------------

_worker_hook: AnalysisHook | None = None
_worker_analysed: frozenset[str] = frozenset()


#: Thread-count variables of the native maths libraries numpy, scipy and torch load.
_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _native_threads_per_worker(n: int) -> Iterator[None]:
    """Spawned workers start with BLAS/OpenMP limited to ``n`` threads (unless the user set the
    variables). There is already one worker per core: a multi-threaded BLAS call in a worker
    waits for a core another worker holds, which made the descriptors ~1.7x slower under load.
    The variables must be in the environment before a worker imports numpy, hence at spawn."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARIABLES}
    for k in _THREAD_VARIABLES:
        os.environ.setdefault(k, str(n))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _init_worker(hook: AnalysisHook | None, analysed: frozenset[str]) -> None:
    global _worker_hook, _worker_analysed
    # Ctrl-C is the main process's business: it stops the pool and saves what is finished.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_hook = hook
    _worker_analysed = analysed
    folder_cover_path.cache_clear()


def read_file(path: str) -> FileResult:
    """Everything a scan needs from one file, read once. Never raises for a bad file."""
    result = FileResult(path=path)
    try:
        st = os.stat(path)
    except OSError as exc:
        result.error = _os_reason(exc)
        result.vanished = result.error == "file disappeared during the scan"
        return result
    result.size, result.mtime_ns = st.st_size, st.st_mtime_ns
    if st.st_size == 0:
        result.error = "empty file"
        return result
    if not os.access(path, os.R_OK):
        result.error = "permission denied"
        return result
    hook = _worker_hook
    try:
        info, audio = read_audio(path, decode_rates=hook.decode_rates if hook else ())
    except DecodeError as exc:
        result.error = str(exc)
        return result
    except FileNotFoundError:
        result.error, result.vanished = "file disappeared during the scan", True
        return result
    except OSError as exc:
        result.error = _os_reason(exc)
        return result
    if info.duration <= 0:
        result.error = "no audio data"
        return result
    result.info = info
    if info.declared_duration and info.duration < TRUNCATION_SHARE * info.declared_duration:
        result.warnings.append(
            f"truncated: header says {info.declared_duration:.1f} s, audio ends at "
            f"{info.duration:.1f} s"
        )
    p = Path(path)
    mutagen_file, tag_warning = open_tags(p)
    if tag_warning:
        result.warnings.append(tag_warning)
    tags = read_tags(p, mutagen_file)
    result.warnings.extend(tags.warnings)
    result.tags = tags.as_row()
    result.cover = find_cover(p, mutagen_file, result.warnings)
    if hook is not None and audio is not None and info.payload_hash not in _worker_analysed:
        try:
            result.prepared = hook.prepare(audio)
        except DecodeError as exc:
            result.analysis_error = " ".join(str(exc).split())
        except Exception as exc:  # noqa: BLE001 - one track's analysis bug must not stop a scan
            result.analysis_error = f"analysis failed: {type(exc).__name__}: " + " ".join(
                str(exc).split()
            )
    return result


# -- the scan --------------------------------------------------------------------------------


class Scanner:
    """Scans folders into a :class:`Store`. One scanner, one scan."""

    def __init__(
        self,
        store: Store,
        *,
        workers: int | None = None,
        full: bool = False,
        hook: AnalysisHook | None = None,
        progress: bool = True,
    ) -> None:
        self.store = store
        self.workers = max(1, workers if workers is not None else (os.cpu_count() or 1))
        self.full = full
        self.hook = hook
        self.progress = progress
        self.report = ScanReport()
        self._analysed_now: set[str] = set()
        self._vanished: set[str] = set()
        self._analysed: frozenset[str] = frozenset()  # audio hashes done for the hook's model

    def scan(self, roots: Iterable[str | Path], files: Iterable[str | Path] = ()) -> ScanReport:
        """Add or refresh every audio file under ``roots`` (removing the catalogued ones gone
        from them) and the single ``files`` (a beets query's matches: nothing else is touched)."""
        started = time.monotonic()
        root_paths = [Path(os.path.abspath(os.path.expanduser(r))) for r in roots]
        for root in root_paths:
            try:
                is_folder = root.is_dir() and os.access(root, os.R_OK | os.X_OK)
            except OSError as exc:
                raise UserError(f"cannot read the folder {root}: {_os_reason(exc)}") from None
            if not is_folder:
                if root.is_dir():
                    raise UserError(f"cannot read the folder {root}: permission denied")
                raise UserError(f"not a folder: {root}")
        file_paths = [os.path.abspath(os.path.expanduser(f)) for f in files]
        for path in file_paths:
            if not os.path.isfile(path):
                raise UserError(f"not a file: {path}")
        walk_errors: list[tuple[str, str]] = []
        paths = walk_audio_files(root_paths, lambda p, r: walk_errors.append((p, r)))
        paths = list(dict.fromkeys([*paths, *file_paths]))
        states = self.store.file_states()
        if self.hook is not None:
            self._analysed = frozenset(
                self.store.analysed_hashes(self.hook.model, self.hook.version)
            )
        needs_analysis = self._paths_needing_analysis()
        to_read: list[str] = []
        for path in paths:
            state = states.get(path)
            if self.full or state is None or self._changed(path, state) or path in needs_analysis:
                to_read.append(path)
            else:
                self.report.unchanged += 1
        for path, reason in walk_errors:
            self._fail(path, reason)
        try:
            self._read_all(to_read)
        except KeyboardInterrupt:
            self.report.interrupted = True
        if not self.report.interrupted:
            self._remove_missing(root_paths, set(paths) - self._vanished)
            record_playlist_files(self.store, root_paths)
        if self.hook is not None:
            self.hook.finish(self.store)
        self.report.duplicates = sum(len(g) - 1 for g in self.store.duplicate_groups())
        self.report.seconds = time.monotonic() - started
        if self.report.interrupted:
            raise ScanInterrupted(self.report)
        return self.report

    def _changed(self, path: str, state: tuple[int, int]) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return True
        return (st.st_size, st.st_mtime_ns) != state

    def _paths_needing_analysis(self) -> set[str]:
        """Catalogued paths whose audio has no analysis yet for the hook's model version."""
        if self.hook is None:
            return set()
        return {t.path for t in self.store.tracks() if t.audio_hash not in self._analysed}

    def _read_all(self, paths: list[str]) -> None:
        progress = Progress(len(paths), "scan", enabled=self.progress)
        batch: list[FileResult] = []
        last_commit = time.monotonic()
        try:
            for result in self._results(paths, self._analysed):
                batch.append(result)
                progress.advance()
                if len(batch) >= COMMIT_FILES or time.monotonic() - last_commit >= COMMIT_SECONDS:
                    self._commit(batch)
                    batch, last_commit = [], time.monotonic()
        finally:
            # Whatever arrived before an interrupt is finished work: keep it.
            self._commit(batch)
            progress.close()

    def _results(self, paths: list[str], analysed: frozenset[str]) -> Iterator[FileResult]:
        if self.workers == 1 or len(paths) < 4:
            _init_worker(self.hook, analysed)
            signal.signal(signal.SIGINT, signal.default_int_handler)
            yield from map(read_file, paths)
            return
        ctx = multiprocessing.get_context("spawn")
        with _native_threads_per_worker(1):
            pool = ctx.Pool(self.workers, initializer=_init_worker, initargs=(self.hook, analysed))
        try:
            yield from pool.imap_unordered(read_file, paths, chunksize=1)
            pool.close()
        except BaseException:
            pool.terminate()
            raise
        finally:
            pool.join()

    def _commit(self, batch: list[FileResult]) -> None:
        if not batch:
            return
        try:
            with self.store.transaction():
                for result in batch:
                    self._apply(result)
        except sqlite3.Error as exc:
            raise UserError(f"cannot write the library database {self.store.path}: {exc}") from exc

    def _apply(self, result: FileResult) -> None:
        if result.vanished:
            self.report.vanished += 1
            self._vanished.add(result.path)
            return
        if result.error is not None or result.info is None:
            self._fail(result.path, result.error or "unreadable")
            self.store.delete_tracks([result.path])
            return
        info = result.info
        values: dict[str, object] = {
            **(result.tags or {}),
            "path": result.path,
            "size": result.size,
            "mtime_ns": result.mtime_ns,
            "audio_hash": info.payload_hash,
            "format": info.format,
            "codec": info.codec,
            "duration": round(info.duration, 3),
            "sample_rate": info.sample_rate or None,
            "channels": info.channels or None,
            "bitrate": info.bitrate,
            "cover_hash": result.cover.digest if result.cover else None,
        }
        if result.cover is not None:
            c = result.cover
            self.store.put_cover(c.digest, c.mime, c.width, c.height, c.data)
        existing = self.store.track_by_path(result.path)
        if existing is not None:
            self.store.update_track(existing.id, values)
            if (existing.size, existing.mtime_ns) != (result.size, result.mtime_ns):
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        else:
            moved_from = next(
                (
                    t
                    for t in self.store.tracks_with_hash(info.payload_hash or "")
                    if not os.path.exists(t.path)
                ),
                None,
            )
            if moved_from is not None:
                self.store.update_track(moved_from.id, values)
                self.store.clear_issue(moved_from.path)
                self.report.moved += 1
            else:
                self.store.insert_track(values)
                self.report.added += 1
        self.store.clear_issue(result.path)
        if result.warnings:
            reason = "; ".join(result.warnings)
            self.store.record_issue(result.path, "warning", reason)
            self.report.warnings.append((result.path, reason))
        self._consume_analysis(result)

    def _consume_analysis(self, result: FileResult) -> None:
        audio_hash = result.info.payload_hash if result.info else None
        if self.hook is None or audio_hash is None or audio_hash in self._analysed_now:
            return
        if result.analysis_error is not None:
            self.hook.fail(self.store, audio_hash, result.analysis_error)
        elif result.prepared is not None:
            self.hook.consume(self.store, audio_hash, result.prepared)
        else:
            return
        self._analysed_now.add(audio_hash)
        self.report.analysed += 1

    def _fail(self, path: str, reason: str) -> None:
        self.store.record_issue(path, "error", reason)
        self.report.failed += 1
        self.report.errors.append((path, reason))

    def _remove_missing(self, roots: list[Path], seen: set[str]) -> None:
        prefixes = tuple(str(r).rstrip(os.sep) + os.sep for r in roots)
        with self.store.transaction():
            gone = [p for p in self.store.file_states() if p.startswith(prefixes) and p not in seen]
            self.report.removed = self.store.delete_tracks(gone)
            failed_now = {p for p, _ in self.report.errors}
            for path in self.store.issue_paths():
                if path.startswith(prefixes) and path not in seen and path not in failed_now:
                    self.store.clear_issue(path)
            self.store.delete_unused_covers()
