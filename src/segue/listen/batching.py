"""The half of the scan's AnalysisHook protocol that every neural model shares: gather the
slices of many tracks into one batch in the main process, run the model once per batch, store.

A model's hook subclasses :class:`BatchingHook` and supplies ``prepare`` (in the scan workers),
``_slices`` (how many model inputs a prepared track holds) and ``_store_batch`` (embed the
queued tracks together and write their rows).
"""

from __future__ import annotations

from typing import Any

from segue.library.store import Store


class BatchingHook:
    """Queue prepared tracks until ``batch_size`` slices are waiting, then run them together."""

    model: str
    version: str
    #: Attributes that never travel to the scan's worker processes (models, queued work).
    _main_only: tuple[str, ...] = ()

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size
        self._queue: list[tuple[str, Any]] = []
        self._queued = 0

    def __getstate__(self) -> dict[str, Any]:
        # Workers only need ``prepare``: never ship models or queued work to them.
        state = dict(self.__dict__)
        state.update({name: None for name in self._main_only}, _queue=[], _queued=0)
        return state

    def _slices(self, prepared: Any) -> int:
        raise NotImplementedError

    def _store_batch(self, store: Store, queue: list[tuple[str, Any]]) -> None:
        raise NotImplementedError

    def consume(self, store: Store, audio_hash: str, prepared: Any) -> None:
        self._queue.append((audio_hash, prepared))
        self._queued += self._slices(prepared)
        if self._queued >= self.batch_size:
            self._run(store)

    def fail(self, store: Store, audio_hash: str, error: str) -> None:
        store.record_analysis(audio_hash, self.model, self.version, {}, error=error)

    def finish(self, store: Store) -> None:
        if self._queue:
            with store.transaction():
                self._run(store)

    def _run(self, store: Store) -> None:
        queue, self._queue, self._queued = self._queue, [], 0
        self._store_batch(store, queue)
