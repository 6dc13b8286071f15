"""Walk music folders into the library: incremental, parallel, resumable, never stopped by a bad file.

How a scan goes:

1. Walk every folder (following symlinked folders once each, so a loop cannot trap it) and list
   the files with an audio extension; the content, not the name, later decides the format.
2. A file whose size and mtime match the library is unchanged and is not opened at all. With
   nothing to read, the scan ends there: no worker starts and no model is loaded.
3. Worker processes, one per core (:mod:`segue.library.workers`), read every other file once:
   tags and cover with mutagen, then one pass over the compressed packets for the real duration
   and the payload hash (the track's identity) and, when an :class:`AnalysisHook` is given,
   decoding in that same pass and the track's whole analysis: the DSP and the networks, each
   worker with its own models at one thread, so N cores analyse N tracks at once. (With
   ``hook.central`` -- a GPU -- workers stop after the DSP and this process runs the networks on
   batches gathered from every worker, in a thread of its own. A catalogue-only scan of fewer
   than ``IN_PROCESS_FILES`` files reads them here, without starting a process.) The workers
   are the scan's *executor*: this machine's processes by default, or a Ray cluster's
   (:mod:`segue.library.ray_executor`); everything else here is the same for both.
4. This process only writes finished rows, in short transactions (milliseconds: never decoding,
   DSP or a network inside one), so another writer -- the web player recording a play -- waits
   milliseconds; kill -9 at any moment loses only the files in flight, and a re-run picks up
   from there.
5. A worker that dies (a crash in a native decoder, the out-of-memory killer) costs only the file
   it held: that file is recorded as failed with the reason, a new worker takes over.
6. Only after a complete walk are files that disappeared removed from the library: an interrupted
   scan never deletes anything. Ctrl-C stops the workers, saves what was finished and reports
   exactly what was saved.

A new path whose payload hash matches a track whose file no longer exists is that track, moved or
renamed: it keeps its id and everything computed for it.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from segue.audio.decode import AudioInfo, read_audio
from segue.audio.formats import AUDIO_EXTENSIONS
from segue.errors import DecodeError, UserError
from segue.interrupts import InterruptFlag, interrupts_at_checks
from segue.library.playlist_files import record_playlist_files
from segue.library.store import Store
from segue.library.tags import Cover, find_cover, folder_cover_path, open_tags, read_tags
from segue.library.workers import ExecutorFactory, LocalExecutor, Lost, default_workers
from segue.progress import Progress

#: A truncated file is catalogued (it plays) with a warning when its audio ends this early.
TRUNCATION_SHARE = 0.9
#: Results are committed at least this often (seconds) and at most this many per transaction.
COMMIT_SECONDS = 0.5
COMMIT_FILES = 64
#: Catalogue-only scans of fewer files than this read them in the scanning process.
IN_PROCESS_FILES = 4
#: Central inference: prepared tracks waiting for the networks, per worker, before reading pauses.
CENTRAL_BACKLOG_PER_WORKER = 4


@dataclass
class Analysis:
    """What a hook computed for one track, to store: arrays by kind, and the descriptors."""

    vectors: dict[str, np.ndarray]
    descriptors: dict[str, object] | None = None


class AnalysisHook(Protocol):
    """How a listening pipeline rides along a scan (the library never imports one).

    - ``setup`` runs in the scanning process, once, before any worker starts and only when there
      are files to read: fetch model weights, refuse a bad option, settle ``central``.
    - ``prepare`` runs in the worker that has just decoded the file (at ``decode_rates``):
      everything that needs no model.
    - ``analyse`` runs the models on prepared tracks and returns the rows to store, one
      :class:`Analysis` per track, after ``load_models`` (once per process). Where: in each
      worker on its own track (the default: no model ever in the scanning process), or, when
      ``central`` is true (one GPU for every worker), in the scanning process on batches of up to
      ``batch_slices`` model inputs (``slices`` of each prepared track) from all the workers.

    The hook is pickled to each worker; it should leave its loaded models out.
    """

    model: str
    version: str
    decode_rates: tuple[int, ...]
    central: bool
    batch_slices: int

    def setup(self) -> None: ...

    def load_models(self) -> None: ...

    def prepare(self, audio: dict[int, np.ndarray]) -> Any: ...

    def slices(self, prepared: Any) -> int: ...

    def analyse(self, prepared: Sequence[Any]) -> list[Analysis]: ...


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
    #: the finished analysis (the hook's models ran in the worker) ...
    analysis: Analysis | None = None
    #: ... or the worker's share of it, for the networks in this process (``hook.central``)
    prepared: Any = None
    analysis_error: str | None = None
    #: CPU seconds the worker spent on this file, by stage (see ScanReport.cpu_seconds)
    cpu: dict[str, float] = field(default_factory=dict)


@dataclass
class AnalysedTrack:
    """A track's analysis finished by the central inference thread, to store."""

    audio_hash: str
    analysis: Analysis | None
    error: str | None = None
    cpu: dict[str, float] = field(default_factory=dict)


#: The stages of ScanReport.cpu_seconds.
STAGES = ("start-up", "decode", "tags", "dsp", "networks", "writing")


class _Stages:
    """CPU seconds by stage, from a CPU clock (a worker's process, or one thread here)."""

    def __init__(self, clock: Callable[[], float] = time.process_time) -> None:
        self.clock = clock
        self.seconds: dict[str, float] = {}
        self._last = clock()

    def lap(self, stage: str) -> None:
        """The CPU time since the last lap was spent on ``stage``."""
        now = self.clock()
        self.seconds[stage] = self.seconds.get(stage, 0.0) + now - self._last
        self._last = now


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
    #: CPU seconds over every process of the scan, by stage (STAGES): worker and model start-up,
    #: the decoding pass, tags and covers, DSP (log-mel, descriptors), the networks and pooling,
    #: and the scanning process's writing. What is left of the command's CPU time is the
    #: scanning process's own start, the walk and moving results between processes.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def count_cpu(self, seconds: dict[str, float]) -> None:
        for stage, value in seconds.items():
            self.cpu_seconds[stage] = self.cpu_seconds.get(stage, 0.0) + value

    def merge(self, other: ScanReport) -> None:
        """Add the counts and problems of ``other`` (work just committed) to this report."""
        for name in ("added", "updated", "moved", "unchanged", "removed", "failed", "analysed",
                     "duplicates", "vanished"):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.count_cpu(other.cpu_seconds)

    def as_dict(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["errors"] = [{"path": p, "reason": r} for p, r in self.errors]
        data["warnings"] = [{"path": p, "reason": r} for p, r in self.warnings]
        data["cpu_seconds"] = {k: round(v, 3) for k, v in self.cpu_seconds.items()}
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
_worker_models_loaded = False
#: the worker's CPU time up to its first file (interpreter, imports), counted once as start-up
_worker_startup_cpu = 0.0


def _init_worker(hook: AnalysisHook | None, analysed: frozenset[str]) -> None:
    """Runs once in each worker process (see :class:`segue.library.workers.WorkerPool`)."""
    global _worker_hook, _worker_analysed, _worker_startup_cpu
    _worker_hook = hook
    _worker_analysed = analysed
    _worker_startup_cpu = time.process_time()
    folder_cover_path.cache_clear()


def read_file(path: str) -> FileResult:
    """Everything a scan needs from one file, read once. Never raises for a bad file."""
    global _worker_startup_cpu
    stages = _Stages()
    result = _read_file(path, stages)
    stages.lap("decode")  # what an early return left unlapped: the failed decoding pass
    if _worker_startup_cpu:
        stages.seconds["start-up"] = stages.seconds.get("start-up", 0.0) + _worker_startup_cpu
        _worker_startup_cpu = 0.0
    result.cpu = stages.seconds
    return result


def _read_file(path: str, stages: _Stages) -> FileResult:
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
    stages.lap("decode")
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
    stages.lap("tags")
    if hook is not None and audio is not None and info.payload_hash not in _worker_analysed:
        _analyse(result, hook, audio, stages)
    return result


def _analyse(
    result: FileResult, hook: AnalysisHook, audio: dict[int, np.ndarray], stages: _Stages
) -> None:
    """The track's analysis, in the worker: all of it, or the model-free part (central)."""
    global _worker_models_loaded
    try:
        prepared = hook.prepare(audio)
        stages.lap("dsp")
        if hook.central:
            result.prepared = prepared
            return
        del audio
        if not _worker_models_loaded:
            hook.load_models()
            _worker_models_loaded = True
            stages.lap("start-up")
        result.analysis = hook.analyse([prepared])[0]
        stages.lap("networks")
    except DecodeError as exc:
        result.analysis_error = " ".join(str(exc).split())
    except Exception as exc:  # noqa: BLE001 - one track's analysis bug must not stop a scan
        result.analysis_error = _analysis_failed(exc)


def _analysis_failed(exc: BaseException) -> str:
    return f"analysis failed: {type(exc).__name__}: " + " ".join(str(exc).split())


class _CentralInference:
    """The networks in the scanning process (``hook.central``: one GPU for every worker).

    A thread takes the tracks the workers prepared, runs them through ``hook.analyse`` in batches
    of up to ``hook.batch_slices`` model inputs and hands the results back to the writer. No
    database work happens here, so no transaction waits for a network.
    """

    def __init__(self, hook: AnalysisHook) -> None:
        self.hook = hook
        self.inbox: queue.SimpleQueue[tuple[str, Any] | None] = queue.SimpleQueue()
        self.outbox: queue.SimpleQueue[AnalysedTrack] = queue.SimpleQueue()
        self.submitted = self.returned = 0
        self._stopping = False
        self.thread = threading.Thread(target=self._run, name="segue-inference", daemon=True)
        self.thread.start()

    @property
    def backlog(self) -> int:
        """Tracks submitted whose results have not been collected yet."""
        return self.submitted - self.returned

    def submit(self, audio_hash: str, prepared: Any) -> None:
        self.submitted += 1
        self.inbox.put((audio_hash, prepared))

    def collect(self, timeout: float = 0.0) -> list[AnalysedTrack]:
        """Finished tracks (waiting up to ``timeout`` seconds for the first one)."""
        done: list[AnalysedTrack] = []
        try:
            done.append(self.outbox.get(timeout=timeout) if timeout else self.outbox.get_nowait())
            while True:
                done.append(self.outbox.get_nowait())
        except queue.Empty:
            pass
        self.returned += len(done)
        return done

    def stop(self) -> None:
        """No new batch after the current one (whose results are then dropped)."""
        self._stopping = True
        self.inbox.put(None)

    def _run(self) -> None:
        while not self._stopping:
            item = self.inbox.get()
            if item is None:
                return
            batch, slices = [item], 0
            while True:
                try:
                    slices += self.hook.slices(batch[-1][1])
                except Exception:  # noqa: BLE001 - analyse() will say what is wrong with it
                    slices += 1
                if slices >= self.hook.batch_slices:
                    break
                try:
                    item = self.inbox.get(timeout=0.05)  # a little wait fills a GPU batch
                except queue.Empty:
                    break
                if item is None:
                    self._stopping = True
                    break
                batch.append(item)
            for done in self._analyse(batch):
                self.outbox.put(done)

    def _analyse(self, batch: list[tuple[str, Any]]) -> list[AnalysedTrack]:
        try:
            started = time.thread_time()
            analyses = self.hook.analyse([p for _, p in batch])
            share = {"networks": (time.thread_time() - started) / len(batch)}
            return [AnalysedTrack(h, a, cpu=share) for (h, _), a in zip(batch, analyses, strict=True)]
        except Exception as exc:  # noqa: BLE001
            if len(batch) == 1:
                return [AnalysedTrack(batch[0][0], None, _analysis_failed(exc))]
        # one bad track must not cost its batch-mates their analysis
        return [done for one in batch for done in self._analyse([one])]


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
        executor: ExecutorFactory | None = None,
    ) -> None:
        self.store = store
        self.workers = max(1, workers if workers is not None else default_workers())
        self._workers_asked = workers
        #: where the files are read and analysed (default: worker processes on this machine)
        self.executor: ExecutorFactory = executor if executor is not None else LocalExecutor()
        self.full = full
        self.hook = hook
        self.progress = progress
        #: what has been committed so far (Ctrl-C reports exactly this)
        self.report = ScanReport()
        #: workers replaced after dying during this scan
        self.worker_restarts = 0
        self._analysed_now: set[str] = set()
        self._vanished: set[str] = set()
        self._analysed: frozenset[str] = frozenset()  # audio hashes done for the hook's model
        self._pending: list[FileResult | AnalysedTrack] = []
        self._inference: _CentralInference | None = None
        self._interrupt = InterruptFlag()

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
        paths: list[str] = []
        with interrupts_at_checks() as self._interrupt:
            try:
                paths = self._walk_and_read(root_paths, file_paths)
            except KeyboardInterrupt:
                self.report.interrupted = True
        if not self.report.interrupted:
            self._remove_missing(root_paths, set(paths) - self._vanished)
            record_playlist_files(self.store, root_paths)
        self.report.duplicates = sum(len(g) - 1 for g in self.store.duplicate_groups())
        self.report.seconds = time.monotonic() - started
        if self.report.interrupted:
            raise ScanInterrupted(self.report)
        return self.report

    def _walk_and_read(self, root_paths: list[Path], file_paths: list[str]) -> list[str]:
        walk_errors: list[tuple[str, str]] = []
        paths = walk_audio_files(root_paths, lambda p, r: walk_errors.append((p, r)))
        paths = list(dict.fromkeys([*paths, *file_paths]))
        self._interrupt.check()
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
            self._fail(path, reason, self.report)
        self._read_all(to_read)
        return paths

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
        """Read (and analyse) ``paths`` in the workers; commit results as they come."""
        if not paths:
            return  # nothing to read: no worker, no model
        hook = self.hook
        if hook is not None:
            stages = _Stages(time.thread_time)
            hook.setup()
            if hook.central and not self.executor.local:
                hook.central = False  # workers on other machines: each runs its own networks
            if hook.central:
                hook.load_models()  # here, before the walk's results pile up
                self._inference = _CentralInference(hook)
            stages.lap("start-up")
            self.report.count_cpu(stages.seconds)
        progress = Progress(len(paths), "scan", enabled=self.progress)
        pool = self.executor(self._workers_asked, "segue.library.scan:read_file",
                             "segue.library.scan:_init_worker", (hook, self._analysed))  # fmt: skip
        # A few files to catalogue only: not worth starting a process (no model runs).
        results = self._in_process(paths) if hook is None and len(paths) < IN_PROCESS_FILES else (
            pool.run(paths, more=self._may_read_more))  # fmt: skip
        last_commit = time.monotonic()
        try:
            for done in results:
                if done is not None:
                    path, result = done
                    if isinstance(result, Lost):
                        result = FileResult(path=path, error=result.reason)
                    self._receive(result)
                    progress.advance()
                self._collect_analyses()
                self._interrupt.check()
                if time.monotonic() - last_commit >= COMMIT_SECONDS or len(self._pending) >= COMMIT_FILES:
                    self._commit()
                    last_commit = time.monotonic()
            pool.close()
            while self._inference is not None and self._inference.backlog:
                if not self._inference.thread.is_alive():
                    raise UserError("the scan's inference thread stopped; run the scan again")
                self._collect_analyses(timeout=0.1)
                self._interrupt.check()
                if time.monotonic() - last_commit >= COMMIT_SECONDS:
                    self._commit()
                    last_commit = time.monotonic()
        finally:
            pool.close(kill=True)  # after an error or Ctrl-C: files in flight are dropped
            self.worker_restarts = pool.restarts
            if self._inference is not None:
                self._inference.stop()
                self._collect_analyses()
            # Whatever arrived is finished work: keep it (also after Ctrl-C).
            self._commit()
            progress.close()

    def _in_process(self, paths: list[str]) -> Iterator[tuple[str, FileResult]]:
        _init_worker(None, frozenset())
        for path in paths:
            yield path, read_file(path)

    def _may_read_more(self) -> bool:
        """Backpressure for central inference: pause reading while the networks lag behind."""
        inference = self._inference
        return inference is None or inference.backlog < CENTRAL_BACKLOG_PER_WORKER * self.workers

    def _receive(self, result: FileResult) -> None:
        self._pending.append(result)
        audio_hash = result.info.payload_hash if result.info else None
        if result.prepared is not None and self._inference is not None and audio_hash:
            if audio_hash not in self._analysed_now:  # a duplicate is analysed once
                self._analysed_now.add(audio_hash)
                self._inference.submit(audio_hash, result.prepared)
            result.prepared = None

    def _collect_analyses(self, timeout: float = 0.0) -> None:
        if self._inference is not None:
            self._pending.extend(self._inference.collect(timeout))

    def _commit(self) -> None:
        """Write what has arrived in one short transaction; count it only once committed."""
        batch, self._pending = self._pending, []
        if not batch:
            return
        done = ScanReport()
        writing = _Stages(time.thread_time)
        try:
            with self.store.transaction():
                for item in batch:
                    if isinstance(item, AnalysedTrack):
                        self._store_analysis(item.audio_hash, item.analysis, item.error, done)
                    else:
                        self._apply(item, done)
                    done.count_cpu(item.cpu)
        except sqlite3.Error as exc:
            raise UserError(f"cannot write the library database {self.store.path}: {exc}") from exc
        writing.lap("writing")
        done.count_cpu(writing.seconds)
        self.report.merge(done)

    def _apply(self, result: FileResult, done: ScanReport) -> None:
        if result.vanished:
            done.vanished += 1
            self._vanished.add(result.path)
            return
        if result.error is not None or result.info is None:
            self._fail(result.path, result.error or "unreadable", done)
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
                done.updated += 1
            else:
                done.unchanged += 1
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
                done.moved += 1
            else:
                self.store.insert_track(values)
                done.added += 1
        self.store.clear_issue(result.path)
        if result.warnings:
            reason = "; ".join(result.warnings)
            self.store.record_issue(result.path, "warning", reason)
            done.warnings.append((result.path, reason))
        self._apply_analysis(result, done)

    def _apply_analysis(self, result: FileResult, done: ScanReport) -> None:
        audio_hash = result.info.payload_hash if result.info else None
        if self.hook is None or audio_hash is None or audio_hash in self._analysed_now:
            return
        if result.analysis is None and result.analysis_error is None:
            return
        self._analysed_now.add(audio_hash)
        self._store_analysis(audio_hash, result.analysis, result.analysis_error, done)

    def _store_analysis(
        self, audio_hash: str, analysis: Analysis | None, error: str | None, done: ScanReport
    ) -> None:
        hook = self.hook
        assert hook is not None
        if analysis is None:
            self.store.record_analysis(audio_hash, hook.model, hook.version, {},
                                       error=error or "analysis failed")  # fmt: skip
        else:
            self.store.record_analysis(audio_hash, hook.model, hook.version, analysis.vectors)
            if analysis.descriptors is not None:
                self.store.put_descriptors(audio_hash, analysis.descriptors)
        done.analysed += 1

    def _fail(self, path: str, reason: str, report: ScanReport) -> None:
        self.store.record_issue(path, "error", reason)
        report.failed += 1
        report.errors.append((path, reason))

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
