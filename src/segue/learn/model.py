"""The learned model as stored with the library: versioned, tied to its inputs, loaded once.

One row of the store's ``learned_models`` table (name :data:`MODEL_NAME`): the head's arrays as
an ``.npz`` blob (numbers only, nothing executable), :data:`LEARN_VERSION` (this code's format
and algorithm), the analysis version of the vectors the head reads (a model fitted on one
MusiCNN pipeline means nothing on another's vectors), a fingerprint of the exact vectors it was
trained on (so a changed library is known to be due for retraining), and the training summary.

Replacing it is one SQL statement at the very end of a training, so a training that crashes or
is killed leaves the previous model in use. :func:`load_model` keeps the loaded model per
process, keyed by the database and the stored row's (version, trained_at): every later call
costs one small query, and a model trained by another process is picked up.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from segue.learn.features import SOURCE_MODEL, input_row
from segue.learn.head import AudioHead
from segue.library.store import Store

MODEL_NAME = "learned"
#: Bumped when what is stored, or what it means, changes: older rows are then ignored.
LEARN_VERSION = "learn-1"


#: Rows placed at a time by :meth:`LearnedModel.place_rows`.
PLACE_BLOCK = 65_536


@dataclass
class LearnedModel:
    """A fitted head with what it was fitted on."""

    head: AudioHead
    inputs_version: str  # the listener's analysis version the head reads
    trained_on: str  # fingerprint of the training vectors (see fingerprint())
    summary: dict[str, object] = field(default_factory=dict)
    version: str = LEARN_VERSION

    @property
    def dims(self) -> int:
        return self.head.dims

    def place(self, arrays: Mapping[str, np.ndarray], embedding: str = "track") -> np.ndarray | None:
        """The learned vector of one track's arrays (stored, or of a file outside the library)."""
        row = input_row(arrays, embedding)
        return None if row is None else self.head(row[None, :])[0]

    def place_rows(self, inputs: np.ndarray) -> np.ndarray:
        """Many input rows placed at once, in blocks (the head computes in float64: a million
        rows at once would need gigabytes for a moment)."""
        if len(inputs) <= PLACE_BLOCK:
            return self.head(inputs)
        return np.concatenate([self.head(inputs[i : i + PLACE_BLOCK])
                               for i in range(0, len(inputs), PLACE_BLOCK)])  # fmt: skip

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, **self.head.arrays())
        return buf.getvalue()

    @classmethod
    def from_row(cls, data: bytes, version: str, trained_on: str, summary: dict) -> LearnedModel:
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            head = AudioHead.from_arrays({k: z[k] for k in z.files})
        inputs = str(summary.get("inputs_version", ""))
        return cls(head, inputs, trained_on, summary, version)


def fingerprint(hashes: Sequence[str], inputs: np.ndarray, inputs_version: str) -> str:
    """A digest of the exact vectors a model is trained on (tracks, their inputs, their version)."""
    h = hashlib.sha256(inputs_version.encode())
    for a in hashes:
        h.update(a.encode())
    h.update(np.ascontiguousarray(inputs, dtype=np.float32).tobytes())
    return h.hexdigest()[:32]


def current_inputs_version(store: Store) -> str:
    """The analysis version most of the library's vectors have ('' for none)."""
    versions = store.analysis_versions(SOURCE_MODEL)
    return max(versions, key=lambda v: versions[v]) if versions else ""


def save_model(store: Store, model: LearnedModel) -> None:
    """Store ``model`` in place of the previous one, atomically (one statement)."""
    summary = {**model.summary, "inputs_version": model.inputs_version}
    store.put_learned_model(MODEL_NAME, model.version, model.trained_on, summary, model.to_bytes())
    _forget(store)


def forget_model(store: Store) -> None:
    """Remove the stored model: the library goes back to the pretrained space."""
    store.delete_learned_model(MODEL_NAME)
    _forget(store)


#: db path -> (stored row's (version, trained_at), the model, whether the library's vectors are
#: of the analysis version it was fitted on). The version check is a GROUP BY over every
#: analysis, so it is made when the stored row changes, not on every call (a rescan that
#: changes the analysis version retrains at its end, which changes the row).
_CACHE: dict[str, tuple[tuple[str, float], LearnedModel, bool]] = {}
_CACHE_LOCK = threading.Lock()


def _forget(store: Store) -> None:
    with _CACHE_LOCK:
        _CACHE.pop(str(store.path.resolve()), None)


def load_model(store: Store) -> LearnedModel | None:
    """The library's usable model, or None: none stored, stored by another version of this code,
    or fitted on vectors of another analysis version than the library's. Costs one small query
    when the model was loaded before (see _CACHE)."""
    stamp = store.learned_model_stamp(MODEL_NAME)
    if stamp is None or stamp[0] != LEARN_VERSION:
        return None
    key = str(store.path.resolve())
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1] if cached[2] else None
    row = store.learned_model(MODEL_NAME)
    if row is None or row.version != LEARN_VERSION:
        return None
    model = LearnedModel.from_row(row.data, row.version, row.trained_on, row.summary)
    usable = model.inputs_version == current_inputs_version(store)
    with _CACHE_LOCK:
        _CACHE[key] = ((row.version, row.trained_at), model, usable)
    return model if usable else None
