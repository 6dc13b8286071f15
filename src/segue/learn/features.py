"""What the audio head reads: the listener's stored vectors for a track, as one input row.

The input of a track is its mean MusiCNN penultimate embedding (``track``, 200) followed by the
mean tag probabilities of both MusiCNN models (``tags_msd``, ``tags_mtt``, 50 each). The
transition vectors go through the same head: the intro (outro) row is the ``intro``
(``outro``) embedding with the track's own tags, so start and end of a track land in the same
learned space as the whole track. A file outside the library gives the same arrays on the fly
(:func:`segue.listen.pipeline.analyse_outside`), so the head places it from audio alone.

Why these: on the dev corpus the tags add what the penultimate layer alone misses (the
discriminant on both beat the penultimate alone by 0.1 style precision); the descriptor feature
sets (timbre, rhythm) made it worse, and per-patch inputs (each 3-s patch a sample) too: the
variation between patches of one track is not the variation that separates albums (see
BENCHMARKS.md, "Learning from the library").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from segue.library.store import Store

#: The listener's model whose stored arrays the head reads.
SOURCE_MODEL = "musicnn"
EMBEDDING_KINDS = ("track", "intro", "outro")
TAG_KINDS = ("tags_msd", "tags_mtt")


def input_row(arrays: Mapping[str, np.ndarray], embedding: str = "track") -> np.ndarray | None:
    """One head input from a track's arrays (as stored, or from an outside analysis); None when
    a part is missing."""
    parts = [arrays.get(embedding)] + [arrays.get(k) for k in TAG_KINDS]
    if any(p is None for p in parts):
        return None
    return np.concatenate([np.asarray(p, dtype=np.float64).reshape(-1) for p in parts])


def library_inputs(
    store: Store, hashes: Sequence[str] | None = None, embedding: str = "track"
) -> tuple[list[str], np.ndarray]:
    """(hashes, inputs) for the given audio hashes (default: every analysed one, sorted), only
    those with every array the head needs: float32 rows, as :func:`input_row` makes them (the
    head computes in float64 either way)."""
    wanted = sorted(store.vector_hashes(SOURCE_MODEL, embedding)) if hashes is None else list(hashes)
    ((_, ok, inputs),) = library_inputs_by_kind(store, wanted, (embedding,))
    return [h for h, keep in zip(wanted, ok, strict=True) if keep], inputs


def library_inputs_by_kind(
    store: Store, hashes: Sequence[str], embeddings: Sequence[str] = EMBEDDING_KINDS
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """For each embedding kind in turn: (kind, mask over ``hashes`` of those with every array the
    head needs, their input rows). Read as whole matrices from the store, the tags once for all
    kinds, and one kind's inputs alive at a time: a million-track library costs its matrices and
    no array per vector."""
    tags, tagged = [], np.ones(len(hashes), dtype=bool)
    for kind in TAG_KINDS:
        matrix, found = store.vector_matrix(SOURCE_MODEL, kind, hashes)
        tags.append(matrix)
        tagged &= found
    for embedding in embeddings:
        matrix, ok = store.vector_matrix(SOURCE_MODEL, embedding, hashes)
        if not len(hashes):
            yield embedding, ok, np.zeros((0, 0), np.float32)
            continue
        inputs = np.concatenate([matrix, *tags], axis=1)
        del matrix
        ok &= tagged & np.isfinite(inputs).all(axis=1)
        yield embedding, ok, inputs if ok.all() else inputs[ok]
