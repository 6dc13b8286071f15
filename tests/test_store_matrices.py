"""Whole matrices from the store: the catalogue and the learned head's inputs are read as one
matrix per kind (no array per vector, so a million-track library costs what its matrices do),
and they hold exactly what the per-vector reads held."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from segue import open_library
from segue.learn.features import TAG_KINDS, input_row, library_inputs
from segue.library.store import Store
from segue.playlist.catalog import normalise_rows


def _store(path: Path, n: int = 30) -> tuple[Store, np.random.Generator]:
    """``n`` tracks in albums of 10 that sound alike; track 0 has no analysis, every 4th lacks
    an intro, every 5th lacks tags, and tracks 6 and 7 are the same audio (one hash, two files)."""
    rng = np.random.default_rng(4)
    centres = 3 * rng.standard_normal((n // 10 + 1, 200)).astype(np.float32)
    store = Store(path)
    with store.transaction():
        for i in range(n):
            h = f"{(6 if i == 7 else i):032x}"
            store.insert_track({"path": f"/m/a{i // 10}/{i:02d}.flac", "size": 1, "mtime_ns": 1,
                                "audio_hash": h, "format": "flac", "codec": "flac",
                                "duration": 100.0 + i, "title": f"T{i}", "artist": f"A{i // 10}",
                                "album": f"Al{i // 10}"})  # fmt: skip
            if i in (0, 7):
                continue
            v = centres[i // 10] + rng.standard_normal(200).astype(np.float32)
            arrays = {"track": v, "outro": -v}
            if i % 4:
                arrays["intro"] = 2 * v
            if i % 5:
                arrays["tags_msd"] = rng.random(50).astype(np.float32)
                arrays["tags_mtt"] = rng.random(50).astype(np.float16)
            store.record_analysis(h, "musicnn", "v1", arrays)
    return store, rng


def test_vector_matrix_keeps_the_order_repeats_and_gaps(tmp_path: Path) -> None:
    store, _ = _store(tmp_path / "lib.db")
    by_hash = store.vectors("musicnn", "intro")
    asked = [f"{i:032x}" for i in (3, 4, 3, 0, 5, 99)] + ["not a hash"]
    matrix, found = store.vector_matrix("musicnn", "intro", asked)
    assert matrix.dtype == np.float32 and matrix.shape == (7, 200)
    assert found.tolist() == [True, False, True, False, True, False, False]
    for row, h in enumerate(asked):
        expected = by_hash[h] if h in by_hash else np.zeros(200, np.float32)
        np.testing.assert_array_equal(matrix[row], expected)
    wide, _ = store.vector_matrix("musicnn", "track", asked[:1], np.float64)
    assert wide.dtype == np.float64
    none, found = store.vector_matrix("musicnn", "no such kind", asked)
    assert none.shape == (7, 0) and not found.any()


def test_a_vector_of_another_length_counts_as_missing(tmp_path: Path) -> None:
    store, _ = _store(tmp_path / "lib.db")
    odd = f"{9:032x}"
    with store.transaction():
        store.record_analysis(odd, "musicnn", "v1", {"intro": np.ones(7, np.float32)})
    matrix, found = store.vector_matrix("musicnn", "intro", [f"{1:032x}", odd])
    assert matrix.shape == (2, 200) and found.tolist() == [True, False]


def test_the_catalogue_holds_what_the_per_vector_reads_held(tmp_path: Path) -> None:
    store, _ = _store(tmp_path / "lib.db")
    track, intro = store.vectors("musicnn", "track"), store.vectors("musicnn", "intro")
    outro, tags = store.vectors("musicnn", "outro"), store.vectors("musicnn", "tags_msd")
    rows = [t for t in store.tracks() if t.audio_hash in track]
    store.close()
    cat = open_library(tmp_path / "lib.db").catalog("musicnn", "mean")
    assert cat.ids.tolist() == [t.id for t in rows]  # track 0 (no analysis) left out, 6 and 7 both in
    hashes = [t.audio_hash for t in rows]
    np.testing.assert_array_equal(cat.vectors, normalise_rows(np.stack([track[h] for h in hashes])))
    np.testing.assert_array_equal(
        cat.intro, normalise_rows(np.stack([intro.get(h, track[h]) for h in hashes])))  # fmt: skip
    np.testing.assert_array_equal(cat.outro, normalise_rows(np.stack([outro[h] for h in hashes])))
    rock = [tags[h][list(cat.tags).index("rock")] if h in tags else np.nan for h in hashes]
    np.testing.assert_array_equal(cat.tags["rock"], np.array(rock, dtype=np.float32))
    assert cat.group[rows.index(next(t for t in rows if t.path.endswith("/07.flac")))] == (
        cat.group[rows.index(next(t for t in rows if t.path.endswith("/06.flac")))])  # fmt: skip


def test_the_learned_inputs_are_the_rows_input_row_makes(tmp_path: Path) -> None:
    store, _ = _store(tmp_path / "lib.db")
    for kind in ("track", "intro"):
        kept, inputs = library_inputs(store, embedding=kind)
        per_kind = {k: store.vectors("musicnn", k) for k in (kind, *TAG_KINDS)}
        expected = {h: input_row({k: per_kind[k].get(h) for k in per_kind}, kind)
                    for h in sorted(per_kind[kind])}  # fmt: skip
        assert kept == [h for h, row in expected.items() if row is not None]
        assert inputs.shape == (len(kept), 300)
        np.testing.assert_array_equal(inputs, np.stack([expected[h] for h in kept]))


def test_the_learned_catalogue_places_each_track_and_its_edges(tmp_path: Path) -> None:
    store, _ = _store(tmp_path / "lib.db", n=200)
    per_kind = {k: store.vectors("musicnn", k) for k in ("track", "intro", "outro", *TAG_KINDS)}
    store.close()
    lib = open_library(tmp_path / "lib.db")
    summary = lib.learn()
    assert summary.space == "learned", summary.reason
    cat = lib.catalog()  # the learned space is the default once learned
    head = lib.learned_model()
    rows = {t.id: t.audio_hash for t in lib.store.tracks()}
    for r, track_id in enumerate(cat.ids.tolist()):
        h = rows[track_id]
        arrays = {k: per_kind[k].get(h) for k in per_kind}
        placed = head.place(arrays, "track")
        assert placed is not None  # only tracks with every input are in the catalogue
        np.testing.assert_allclose(cat.vectors[r], normalise_rows(placed[None])[0], atol=1e-6)
        edge = head.place(arrays, "intro")
        want = placed if edge is None else edge  # no intro: the track stands in
        np.testing.assert_allclose(cat.intro[r], normalise_rows(want[None])[0], atol=1e-6)
    untagged = {h for h in per_kind["track"] if h not in per_kind["tags_msd"]}
    assert untagged and not untagged & {rows[i] for i in cat.ids.tolist()}
