"""Worker processes a scan can lose without hanging, and that never re-run the caller's script.

Each worker is a fresh Python interpreter (``python -c``, with this process's ``sys.path``)
talking to the scanning process over its own socket pair. The scanning process hands each worker
one task at a time, so it always knows which file a worker holds:

- a worker that dies (kill -9, the out-of-memory killer, a segfault in a native decoder) closes
  its socket; the task it held comes back as :class:`Lost` with the reason, and a new worker
  takes its place;
- a task that raises comes back as :class:`Lost` too, and the worker goes on;
- a worker that cannot start (its initialiser raised, e.g. a hook that does not unpickle) stops
  the pool with a one-line :class:`~segue.errors.UserError` instead of being replaced forever.

Not :mod:`multiprocessing`: its pool never notices a lost worker (the task is simply gone and the
scan waits for ever), and its spawn start method re-imports the calling script in every worker,
so a script without an ``if __name__ == "__main__":`` guard starts a scan in each worker, which
dies, is replaced, and so on. These workers import only what their task needs.

Workers start in their own process group, so a Ctrl-C in the terminal reaches only the scanning
process, which decides what to keep; they ignore SIGINT too, and exit when the scanning process
closes their socket or dies.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe, wait
from typing import Any, Protocol

from segue.errors import UserError

#: Thread-count variables of the native maths libraries numpy, scipy and torch load.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

#: A worker's command line: ``python -c BOOTSTRAP segue-scan-worker FD SYS_PATH_JSON``
#: (the name shows in ``ps``, and tells a worker from the command that started it).
WORKER_NAME = "segue-scan-worker"
_BOOTSTRAP = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[3]); "
    "from segue.library.workers import _child_main; _child_main(int(sys.argv[2]))"
)


@dataclass
class Lost:
    """A task that produced no result: its worker died, or the task raised."""

    reason: str


class Executor(Protocol):
    """Where a scan's per-file work runs: this machine's :class:`WorkerPool`, or a cluster's
    workers (:mod:`segue.library.ray_executor`). The scan only hands it paths and writes what
    comes back; the walk, the checks, the writing and the report are the scan's own."""

    #: how many workers it runs
    n: int
    #: how many workers died and were replaced
    restarts: int

    def run(self, tasks: Iterable[Any], *, more: Callable[[], bool] = ...,
            tick: float = ...) -> Iterator[tuple[Any, Any] | None]: ...  # fmt: skip

    def close(self, kill: bool = False) -> None: ...


class ExecutorFactory(Protocol):
    """Makes a scan's :class:`Executor` (``workers`` None: as many as it has cores).

    ``local``: the workers share this machine, so the scanning process may run the networks for
    all of them (``hook.central``, a GPU); false where they run elsewhere."""

    local: bool

    def __call__(self, workers: int | None, target: str, init: str | None,
                 init_args: tuple) -> Executor: ...  # fmt: skip


class LocalExecutor:
    """The default executor: one :class:`WorkerPool` process per core of this machine."""

    local = True

    def __call__(self, workers: int | None, target: str, init: str | None,
                 init_args: tuple) -> WorkerPool:  # fmt: skip
        return WorkerPool(workers if workers is not None else default_workers(), target, init,
                          init_args)  # fmt: skip


def default_workers() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Worker:
    def __init__(self, pool: WorkerPool) -> None:
        parent, child = Pipe()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BOOTSTRAP, WORKER_NAME, str(child.fileno()),
             json.dumps(sys.path)],
            pass_fds=(child.fileno(),), env=pool.env, stdin=subprocess.DEVNULL,
            stdout=2,  # stdout is the caller's (scan --json prints the report there)
            process_group=0,
        )  # fmt: skip
        child.close()
        self.conn: Connection = parent
        self.ready = False
        self.busy = False
        self.task: Any = None
        parent.send((pool.target, pool.init, pool.init_args))

    def give(self, task: Any) -> None:
        self.task, self.busy = task, True
        self.conn.send(task)

    def death(self) -> str:
        """Why the process ended (call after its socket closed)."""
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        if code < 0:
            try:
                return f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"was killed by signal {-code}"
        return f"exited with code {code}"

    def stop(self, kill: bool) -> None:
        if not kill:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.conn.close()
        if kill:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class WorkerPool:
    """``n`` worker processes running ``target`` (``"module:function"``) on tasks.

    ``init`` (``"module:function"`` or None) runs once in each worker with ``init_args``
    (pickled). Native maths libraries start at ``threads`` threads per worker unless the user
    set their variables: there is one worker per core already.
    """

    def __init__(self, n: int, target: str, init: str | None = None, init_args: tuple = (),
                 threads: int = 1) -> None:  # fmt: skip
        self.n = max(1, n)
        self.target, self.init, self.init_args = target, init, init_args
        self.env = dict(os.environ)
        for name in THREAD_VARIABLES:
            self.env.setdefault(name, str(threads))
        self.workers: list[_Worker] = []
        #: how many workers died and were replaced
        self.restarts = 0

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(kill=exc_type is not None)

    def close(self, kill: bool = False) -> None:
        """Stop every worker: politely (finish, then exit) or at once (``kill``)."""
        workers, self.workers = self.workers, []
        for w in workers:
            w.stop(kill)

    def run(self, tasks: Iterable[Any], *, more: Callable[[], bool] = lambda: True,
            tick: float = 0.1) -> Iterator[tuple[Any, Any] | None]:  # fmt: skip
        """Yield ``(task, result)`` as tasks finish (``result`` a :class:`Lost` for a task whose
        worker died or that raised), and ``None`` after ``tick`` seconds without one, so the
        caller can do its own work (commit, notice Ctrl-C). ``more()`` false holds back new
        tasks (backpressure). Results come in the order they finish."""
        pending = iter(tasks)
        exhausted = False
        while not self.workers:
            self.workers = [_Worker(self) for _ in range(self.n)]
        while True:
            for w in self.workers:
                if w.ready and not w.busy and not exhausted and more():
                    try:
                        w.give(next(pending))
                    except StopIteration:
                        exhausted = True
            if exhausted and not any(w.busy for w in self.workers):
                return
            by_conn = {w.conn: w for w in self.workers}
            ready = wait(list(by_conn), timeout=tick)
            if not ready:
                yield None
                continue
            for conn in ready:
                w = by_conn[conn]
                try:
                    kind, value = conn.recv()
                except (EOFError, OSError):
                    yield from self._replace(w)
                    continue
                if kind == "ready":
                    w.ready = True
                elif kind == "init-failed":
                    raise UserError(f"scan workers cannot start: {value}")
                else:  # "done" or "raised"
                    task, w.task, w.busy = w.task, None, False
                    yield task, (value if kind == "done" else Lost(value))

    def _replace(self, w: _Worker) -> Iterator[tuple[Any, Lost]]:
        reason = w.death()
        w.conn.close()
        if not w.ready:
            raise UserError(f"a scan worker {reason} while starting (see the messages above)")
        self.workers[self.workers.index(w)] = _Worker(self)
        self.restarts += 1
        if w.busy:
            yield w.task, Lost(f"the worker process reading it {reason}")


def _resolve(name: str) -> Callable[..., Any]:
    module, _, attr = name.partition(":")
    return getattr(importlib.import_module(module), attr)


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: " + " ".join(str(exc).split())


def _child_main(fd: int) -> None:
    """A worker's life: initialise, then run tasks until told to stop or orphaned."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    conn = Connection(fd)
    try:
        target_name, init_name, init_args = conn.recv()
        target = _resolve(target_name)
        if init_name:
            _resolve(init_name)(*init_args)
    except EOFError:
        return
    except BaseException as exc:  # noqa: BLE001 - reported to the scanning process, one line
        reason = _one_line(exc)
        if isinstance(exc, AttributeError) and "__main__" in str(exc):
            reason = ("an analysis hook defined in the script being run cannot be sent to worker "
                      f"processes; define it in an importable module ({reason})")  # fmt: skip
        conn.send(("init-failed", reason))
        return
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        try:
            result = ("done", target(task))
        except Exception as exc:  # noqa: BLE001 - one task's bug must not stop the others
            result = ("raised", _one_line(exc))
        try:
            conn.send(result)
        except (BrokenPipeError, OSError):
            return
