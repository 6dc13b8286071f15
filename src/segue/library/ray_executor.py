"""The scan's executor on a Ray cluster: the same per-file work as the local worker processes,
each worker a Ray actor, for libraries that outgrow one machine (``segue scan --ray``).

Only the executor changes (see :mod:`segue.library.scan`): the walk, the incremental checks
(an unchanged file is never sent anywhere), the duplicate handling, the writing (one process,
short transactions) and the report are the local scan's. Each actor runs what a local worker
runs -- ``read_file``: tags, one decoding pass, the DSP and both networks with its own models,
loaded once per actor at one thread -- on one file at a time, and the finished rows come back
to the scanning process, which alone writes the SQLite library. The files must be readable at
the same path on every node (a shared mount).

Why actors, one file at a time each: the models load once per actor, and the scanning process
always knows which file each actor holds, so

- an actor that dies (its node lost, the out-of-memory killer, a crash in a native decoder)
  costs nothing finished: its file is sent again, to a new actor, up to ``attempts`` times in
  all, and then recorded as failed with the reason; the other files go on;
- a file whose analysis raises is failed at once, as in a local scan (retrying a bug is no use);
- Ctrl-C kills the actors and keeps what was written, as in a local scan.

Ray is an optional extra (``pip install 'segue[ray]'``); nothing imports this module unless a
scan asks for Ray.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from segue import __version__
from segue.errors import UserError
from segue.library.workers import THREAD_VARIABLES, Lost, _one_line, _resolve

#: How to get Ray, said when it is missing.
INSTALL_HINT = "scanning with Ray needs the ray extra: pip install 'segue[ray]'"
#: Tries per file when the actor holding it dies, before the file is failed.
ATTEMPTS = 3


def import_ray() -> Any:
    """The ``ray`` module, or a one-line UserError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    return ray


class RayExecutor:
    """Makes the scan's :class:`RayPool` (an :class:`~segue.library.workers.ExecutorFactory`).

    ``address``: ``auto`` (or None) connects to the Ray instance this machine already runs and
    starts a local one if there is none; otherwise the address of an existing cluster
    (``ray://host:10001``, ``host:6379``). ``attempts``: tries per file when its actor dies.
    """

    local = False

    def __init__(self, address: str | None = "auto", attempts: int = ATTEMPTS) -> None:
        import_ray()  # before the walk: a missing extra is one line, at once
        self.address = None if address in (None, "", "auto") else address
        self.attempts = max(1, attempts)

    def __call__(self, workers: int | None, target: str, init: str | None,
                 init_args: tuple) -> RayPool:  # fmt: skip
        return RayPool(self.address, workers, target, init, init_args, attempts=self.attempts)


class _ScanWorker:
    """A scan worker as a Ray actor: initialised like a local worker process, then runs the
    scan's per-file function on one path at a time."""

    def __init__(self, paths: list[str], target: str, init: str | None, init_args: bytes) -> None:
        # The scanning process's import paths after the node's own, so that a hook from a module
        # beside the caller's script (a test's) unpickles; the node's installed segue wins.
        sys.path.extend(p for p in paths if p not in sys.path)
        self.error: str | None = None
        try:
            self.target = _resolve(target)
            if init:
                _resolve(init)(*pickle.loads(init_args))
        except BaseException as exc:  # noqa: BLE001 - reported to the scanning process, one line
            self.error = _one_line(exc)
            if isinstance(exc, AttributeError) and "__main__" in str(exc):
                self.error = ("an analysis hook defined in the script being run cannot be sent to "
                              f"Ray workers; define it in an importable module ({self.error})")  # fmt: skip

    def ready(self) -> tuple[str, Any]:
        if self.error is not None:
            return "init-failed", self.error
        return "ready", {"segue": __version__, "pid": os.getpid()}

    def run(self, task: Any) -> Any:
        return self.target(task)


class _RayPrintsToStderr:
    """``sys.stdout`` while a scan uses Ray: what Ray's own threads print there (a worker's
    death, which the scan's report gives anyway) goes to stderr instead, so that stdout holds
    only what the caller prints (``scan --json``'s report)."""

    def __init__(self, stdout: Any) -> None:
        self.stdout = stdout

    def write(self, text: str) -> int:
        if threading.current_thread().name.startswith("ray_"):
            return sys.stderr.write(text)
        return self.stdout.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stdout, name)


@dataclass(eq=False)  # found in the pool's list by identity
class _Slot:
    """One actor and what it is doing: starting (``probe``), idle, or holding ``task``."""

    actor: Any
    probe: Any = None
    ready: bool = False
    task: Any = None
    ref: Any = None


_END = object()


class RayPool:
    """``n`` Ray actors running ``target`` on tasks; the :class:`~segue.library.workers.Executor`
    of a scan with Ray. Connects to Ray (or starts a local instance) when it first runs, and
    lets go of it (stopping the instance it started) when closed."""

    def __init__(self, address: str | None, workers: int | None, target: str, init: str | None,
                 init_args: tuple, *, attempts: int = ATTEMPTS) -> None:  # fmt: skip
        self.address = address
        self.n = max(1, workers) if workers is not None else 0  # 0: the cluster's CPUs, at start
        self.target, self.init, self.init_args = target, init, init_args
        self.attempts = attempts
        #: how many actors died and were replaced
        self.restarts = 0
        self.slots: list[_Slot] = []
        self._ray: Any = None
        self._started_ray = False
        self._actor_class: Any = None
        self._init_ref: Any = None
        self._tries: dict[Any, int] = {}
        self._start_failures = 0
        self._stdout: _RayPrintsToStderr | None = None

    # -- connecting --------------------------------------------------------------------------

    def _connect(self) -> Any:
        ray = import_ray()
        self._stdout = sys.stdout = _RayPrintsToStderr(sys.stdout)
        if not ray.is_initialized():
            where = self.address or "auto"
            try:  # None: this machine's running instance, else a new local one
                # log_to_driver off: Ray would print its workers' logs on stdout, where
                # `scan --json` prints the report (a dead worker's reason is in the report)
                ray.init(self.address, logging_level=logging.ERROR, log_to_driver=False)
            except Exception as exc:  # noqa: BLE001 - any failure to connect is the user's to fix
                hint = ("; a cluster with Ray's token authentication needs RAY_AUTH_MODE=token"
                        if "RAY_AUTH_MODE" not in os.environ else "")  # fmt: skip
                raise UserError(f"cannot connect to the Ray cluster at {where}: "
                                f"{_one_line(exc)}{hint}") from None  # fmt: skip
            self._started_ray = True
        if self.n == 0:
            self.n = max(1, int(ray.cluster_resources().get("CPU", 1)))
        env = {name: os.environ.get(name, "1") for name in THREAD_VARIABLES}
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0, max_task_retries=0,
                                       runtime_env={"env_vars": env})(_ScanWorker)  # fmt: skip
        # once in the object store, not once per actor: the hook and the analysed hashes
        self._init_ref = ray.put(pickle.dumps(self.init_args))
        self._ray = ray
        return ray

    def _new_slot(self) -> _Slot:
        actor = self._actor_class.remote(list(sys.path), self.target, self.init, self._init_ref)
        return _Slot(actor, probe=actor.ready.remote())

    # -- running -----------------------------------------------------------------------------

    def run(self, tasks: Iterable[Any], *, more: Callable[[], bool] = lambda: True,
            tick: float = 0.1) -> Iterator[tuple[Any, Any] | None]:  # fmt: skip
        """Yield ``(task, result)`` as tasks finish (``result`` a :class:`Lost` for a task that
        raised, or whose actor died ``attempts`` times), and ``None`` after ``tick`` seconds
        without one; ``more()`` false holds back new tasks. As WorkerPool.run."""
        ray = self._ray or self._connect()
        pending = iter(tasks)
        again: deque[Any] = deque()  # tasks whose actor died, to send again first
        exhausted = False
        if not self.slots:
            self.slots = [self._new_slot() for _ in range(self.n)]
        while True:
            for slot in self.slots:
                if slot.ready and slot.task is None and (again or not exhausted) and more():
                    task = again.popleft() if again else next(pending, _END)
                    if task is _END:
                        exhausted = True
                        continue
                    slot.task, slot.ref = task, slot.actor.run.remote(task)
            if exhausted and not again and not any(s.task is not None for s in self.slots):
                return
            watched = {}
            for slot in self.slots:
                ref = slot.probe if slot.probe is not None else slot.ref
                if ref is not None:
                    watched[ref] = slot
            if not watched:  # every actor idle, new tasks held back
                time.sleep(tick)
                yield None
                continue
            done, _ = ray.wait(list(watched), num_returns=1, timeout=tick)
            if not done:
                yield None
                continue
            done, _ = ray.wait(list(watched), num_returns=len(watched), timeout=0)
            for ref in done:
                slot = watched[ref]
                if ref is slot.probe:
                    self._started(slot)
                else:
                    yield from self._finished(slot, again)

    def _started(self, slot: _Slot) -> None:
        ray = self._ray
        try:
            kind, value = ray.get(slot.probe)
        except ray.exceptions.RayError as exc:
            self._start_failures += 1
            if self._start_failures > self.n + 2:
                raise UserError(f"Ray workers cannot start: {_ray_reason(exc)} (is segue[ray] "
                                "installed on every node?)") from None  # fmt: skip
            self._replace(slot)
            return
        if kind == "init-failed":
            raise UserError(f"scan workers cannot start: {value}")
        if value["segue"] != __version__:
            raise UserError(f"a Ray node runs segue {value['segue']}, this machine {__version__}: "
                            "install the same segue on every node")  # fmt: skip
        slot.probe, slot.ready = None, True
        self._start_failures = 0

    def _finished(self, slot: _Slot, again: deque[Any]) -> Iterator[tuple[Any, Any]]:
        ray = self._ray
        task = slot.task
        try:
            value = ray.get(slot.ref)
        except ray.exceptions.RayTaskError as exc:  # the task raised: the actor goes on
            slot.task = slot.ref = None
            self._tries.pop(task, None)
            yield task, Lost(_one_line(exc.cause) if exc.cause is not None else _ray_reason(exc))
            return
        except ray.exceptions.RayError as exc:  # the actor (or its node) died holding it
            self._replace(slot)
            tries = self._tries[task] = self._tries.get(task, 0) + 1
            if tries < self.attempts:
                again.append(task)
                return
            del self._tries[task]
            yield task, Lost(f"the Ray worker reading it died {tries} time{'s' * (tries > 1)} "
                             f"(last: {_ray_reason(exc)})")  # fmt: skip
            return
        slot.task = slot.ref = None
        self._tries.pop(task, None)
        yield task, value

    def _replace(self, slot: _Slot) -> None:
        with contextlib.suppress(Exception):
            self._ray.kill(slot.actor, no_restart=True)
        self.slots[self.slots.index(slot)] = self._new_slot()
        self.restarts += 1

    def close(self, kill: bool = False) -> None:
        """Stop every actor (after a complete run they are idle; otherwise the files they hold
        are dropped), and the local Ray instance if this pool started it."""
        slots, self.slots = self.slots, []
        ray = self._ray
        for slot in slots:
            with contextlib.suppress(Exception):
                ray.kill(slot.actor, no_restart=True)
        if self._started_ray:
            self._started_ray = False
            # what shutting down prints (the last of Ray's deduplicated messages) is Ray's too
            with contextlib.suppress(Exception), contextlib.redirect_stdout(sys.stderr):
                ray.shutdown()
        if self._stdout is not None:
            if sys.stdout is self._stdout:  # unless someone replaced it since
                sys.stdout = self._stdout.stdout
            self._stdout = None


def _ray_reason(exc: BaseException) -> str:
    """The line of a Ray error that says why (its messages run to a page)."""
    lines = [" ".join(line.split()) for line in str(exc).splitlines() if line.strip()]
    why = next((line for line in lines if "because" in line), None)
    why = why or next((line for line in lines if "died" in line or "killed" in line), None)
    why = why or (lines[0] if lines else type(exc).__name__)
    # its first sentences, up to a line's worth (Ray goes on to list every possible cause)
    kept = ""
    for sentence in why.split(". "):
        if kept and len(kept) + len(sentence) > 200:
            break
        kept = f"{kept}. {sentence}" if kept else sentence
    return kept.rstrip(".")
