"""Pooling: mean/window semantics and TF-IDF (faiss, incremental) against the O(n^2) reference."""

from __future__ import annotations

import numpy as np
import pytest

from segue.listen.pooling import (
    DEFAULT_EPS,
    TfidfPooler,
    edge_windows,
    l2_normalize,
    mean_pool,
    pool_track,
    tfidf_pool_bruteforce,
)


def planted_library(
    n_tracks: int, dim: int = 32, seed: int = 0, min_slices: int = 4, max_slices: int = 20
) -> dict[str, np.ndarray]:
    """Random slice vectors with planted near-identical slices (cos distance << eps).

    A few "motifs" recur: some in many tracks (df > 1), some several times in a track (TF > 1),
    one in every track (IDF = 0 for those slices). Distinct vectors are far apart (random dims).
    """
    rng = np.random.default_rng(seed)
    motifs = rng.standard_normal((12, dim))
    motifs /= np.linalg.norm(motifs, axis=1, keepdims=True)

    def near(m):  # unit-ish copy at cos distance ~1e-5 (noise norm ~0.004)
        return (m + rng.standard_normal(dim) * 0.004 / np.sqrt(dim)) * rng.uniform(0.5, 3)

    lib = {}
    for t in range(n_tracks):
        n = int(rng.integers(min_slices, max_slices + 1))
        x = rng.standard_normal((n, dim)) * rng.uniform(0.5, 2)
        x[0] = near(motifs[0])  # in every track
        for k in range(1, n):
            r = rng.random()
            if r < 0.25:
                x[k] = near(motifs[int(rng.integers(1, 12))])
            elif r < 0.35 and k > 1:
                x[k] = x[k - 1] * 1.7 + rng.standard_normal(dim) * 1e-4  # repeat within track
        lib[f"t{t:04d}"] = x
    return lib


def assert_vectors_close(got, want, rtol=1e-4):
    assert set(got) == set(want)
    scale = max(np.linalg.norm(v) for v in want.values())
    for k in want:
        assert np.all(np.isfinite(got[k])), k
        np.testing.assert_allclose(got[k], want[k], atol=rtol * scale, rtol=rtol, err_msg=str(k))


# --- mean / window pooling -----------------------------------------------------------------------


def test_mean_pool_is_normalised_mean_of_normalised_slices():
    x = np.array([[3.0, 0.0], [0.0, 0.5], [10.0, 0.0]])
    v = mean_pool(x)
    want = np.array([2.0, 1.0]) / np.sqrt(5)
    np.testing.assert_allclose(v, want, rtol=1e-6)
    assert v.dtype == np.float32
    # Scale of a slice does not matter; a zero slice is ignored.
    np.testing.assert_allclose(mean_pool(np.vstack([x * 7, np.zeros(2)])), want, rtol=1e-6)
    # Opposite slices cancel: still a finite unit vector.
    v = mean_pool(np.array([[1.0, 0.0], [-1.0, 0.0]]))
    assert np.isfinite(v).all() and np.isclose(np.linalg.norm(v), 1)
    with pytest.raises(ValueError):
        mean_pool(np.zeros((3, 4)))
    with pytest.raises(ValueError):
        mean_pool(np.array([[np.nan, 1.0]]))


def test_edge_windows_cover_the_first_and_last_15_s_of_music():
    # 3-s patches, 90 s of music: 5 patches each end
    assert edge_windows(30, 3.0) == (slice(0, 5), slice(25, 30))
    # silence trimmed: music from 10 s to 60 s of a 90-s file
    assert edge_windows(30, 3.0, 10.0, 60.0) == (slice(3, 8), slice(15, 20))
    # 5-s slices (Deej-AI): three each end; a short track: all of it, both ends
    assert edge_windows(10, 5.0) == (slice(0, 3), slice(7, 10))
    assert edge_windows(2, 5.0) == (slice(0, 2), slice(0, 2))
    # music bounds past the end or an empty music span still give one slice
    assert edge_windows(4, 3.0, 50.0, 60.0) == (slice(3, 4), slice(3, 4))
    with pytest.raises(ValueError):
        edge_windows(0, 3.0)


def test_pool_track_raw_and_unit_means_and_subsampled_windows():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((10, 4)).astype(np.float32) * np.arange(1, 11, dtype=np.float32)[:, None]
    raw = pool_track(x, 5.0)  # MusiCNN: the penultimate embeddings averaged as they are
    np.testing.assert_array_equal(raw["track"], x.mean(axis=0))
    np.testing.assert_array_equal(raw["intro"], x[:3].mean(axis=0))
    np.testing.assert_array_equal(raw["outro"], x[7:].mean(axis=0))
    unit = pool_track(x, 5.0, unit=True)  # Deej-AI: the unit slice vectors averaged
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.testing.assert_allclose(unit["track"], u.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(unit["outro"], u[7:].mean(axis=0), rtol=1e-6)
    # every other slice of 20 analysed: windows pool the analysed slices inside them, the
    # track the body mask
    positions = np.arange(0, 20, 2)
    body = np.ones(10, bool)
    body[-1] = False
    sub = pool_track(x, 5.0, positions=positions, n_slices=20, body=body)
    np.testing.assert_array_equal(sub["track"], x[:9].mean(axis=0))
    np.testing.assert_array_equal(sub["intro"], x[:2].mean(axis=0))  # positions 0, 2 in [0, 3)
    np.testing.assert_array_equal(sub["outro"], x[9:].mean(axis=0))  # position 18 in [17, 20)
    # a window holding no analysed slice falls back to all of them
    lone = pool_track(x[:1], 5.0, positions=np.array([9]), n_slices=10, music_end=10.0)
    np.testing.assert_array_equal(lone["intro"], x[0])
    assert all(v.dtype == np.float32 for v in (*raw.values(), *unit.values()))


# --- TF-IDF -------------------------------------------------------------------------------------


def test_bruteforce_matches_hand_computed_example():
    e = np.eye(4)
    lib = {
        "a": np.array([e[0], e[0] * 2, e[1]]),  # e0 twice (TF 2), e1 once
        "b": np.array([e[0], e[2]]),
        "c": np.array([e[3]]),
    }
    N = 3
    want_a = e[0] * 2 * -np.log(2 / N) * 2 + e[1] * 1 * -np.log(1 / N)
    want_b = e[0] * 1 * -np.log(2 / N) + e[2] * -np.log(1 / N)
    got = tfidf_pool_bruteforce(lib)
    np.testing.assert_allclose(got["a"], want_a)
    np.testing.assert_allclose(got["b"], want_b)
    np.testing.assert_allclose(got["c"], e[3] * np.log(3))
    pooled = TfidfPooler()
    pooled.add_tracks(lib)
    assert_vectors_close(pooled.track_vectors(), got, rtol=1e-6)
    st = pooled.slice_stats("a")
    assert st["tf"].tolist() == [2, 2, 1] and st["df"].tolist() == [2, 2, 1]


def test_faiss_equals_bruteforce_on_planted_library():
    lib = planted_library(80, seed=1)
    pooler = TfidfPooler(index="flat")
    pooler.add_tracks(lib)
    want = tfidf_pool_bruteforce(lib)
    assert_vectors_close(pooler.track_vectors(), want)
    # The planted structure makes TF and IDF non-trivial.
    stats = [pooler.slice_stats(k) for k in lib]
    tf = np.concatenate([s["tf"] for s in stats])
    df = np.concatenate([s["df"] for s in stats])
    assert tf.max() > 1
    assert ((df > 1) & (df < len(lib))).any()
    assert (df == len(lib)).sum() >= len(lib)  # motif 0 is everywhere: IDF 0
    assert not pooler.fallback_keys()
    # A wrong eps would change the answer (the test can tell).
    other = tfidf_pool_bruteforce(lib, eps=1e-6)
    assert max(np.abs(other[k] - want[k]).max() for k in lib) > 1e-2


def test_batch_split_and_order_do_not_matter():
    lib = planted_library(40, seed=2)
    keys = list(lib)
    a = TfidfPooler()
    a.add_tracks(lib)
    b = TfidfPooler(query_chunk=7)  # tiny query chunks too
    for i in range(0, 40, 9):
        b.add_tracks({k: lib[k] for k in reversed(keys[i : i + 9])})
    assert_vectors_close(b.track_vectors(), a.track_vectors(), rtol=1e-5)


def test_incremental_add_of_one_track_to_1000_track_library():
    lib = planted_library(1001, seed=3, min_slices=6, max_slices=12)
    keys = list(lib)
    new_key = keys[-1]
    inc = TfidfPooler()
    inc.add_tracks({k: lib[k] for k in keys[:-1]})
    v0 = inc.version
    inc.add_tracks({new_key: lib[new_key]})
    assert inc.version > v0 and len(inc) == 1001
    got = inc.track_vectors()
    v = got[new_key]
    assert np.isfinite(v).all() and np.linalg.norm(v) > 1.0
    assert new_key not in inc.fallback_keys()
    full = TfidfPooler()
    full.add_tracks(lib)
    assert_vectors_close(got, full.track_vectors(), rtol=1e-5)
    # ... and the new track's vector is Deej-AI's definition over the whole library.
    np.testing.assert_allclose(
        v, tfidf_pool_bruteforce(lib)[new_key], rtol=1e-4, atol=1e-4 * np.linalg.norm(v)
    )
    # Deej-AI's own incremental batch (N = 1) would give a zero vector; ours falls back.
    alone = TfidfPooler()
    alone.add_tracks({new_key: lib[new_key]})
    assert not np.any(tfidf_pool_bruteforce({new_key: lib[new_key]})[new_key])
    va = alone.track_vectors()[new_key]
    np.testing.assert_allclose(va, mean_pool(lib[new_key]), rtol=1e-6)
    assert alone.fallback_keys() == {new_key}


def test_remove_and_replace_equal_full_recompute():
    lib = planted_library(60, seed=4)
    keys = list(lib)
    p = TfidfPooler()
    p.add_tracks(lib)
    p.remove_tracks(keys[:5] + ["not-there"])
    rest = {k: lib[k] for k in keys[5:]}
    assert_vectors_close(p.track_vectors(), tfidf_pool_bruteforce(rest))
    # replace one key with new content
    rng = np.random.default_rng(9)
    rest[keys[10]] = rng.standard_normal((7, 32))
    p.add_tracks({keys[10]: rest[keys[10]]})
    assert_vectors_close(p.track_vectors(), tfidf_pool_bruteforce(rest))
    # remove most tracks (compaction of the index happens), then add some back
    n_before = p.n_slices
    p.remove_tracks(keys[5:50])
    assert p.n_slices < n_before
    small = {k: rest[k] for k in keys[50:]}
    assert_vectors_close(p.track_vectors(), tfidf_pool_bruteforce(small))
    small.update({k: lib[k] for k in keys[:8]})
    p.add_tracks({k: lib[k] for k in keys[:8]})
    assert_vectors_close(p.track_vectors(), tfidf_pool_bruteforce(small))
    assert set(p.keys()) == set(small)


def test_compaction_renumbers_consistently():
    lib = planted_library(400, seed=5, min_slices=10, max_slices=14)
    keys = list(lib)
    p = TfidfPooler()
    p.compact_min_dead = 0
    p.add_tracks(lib)
    p.remove_tracks(keys[::3] + keys[1::3])  # two thirds: more dead than alive slices
    assert p._X.shape[0] == p.n_slices  # compacted
    kept = {k: lib[k] for k in keys[2::3]}
    fresh = TfidfPooler()
    fresh.add_tracks(kept)
    assert_vectors_close(p.track_vectors(), fresh.track_vectors(), rtol=1e-5)


def test_degenerate_tracks_fall_back_to_mean_pool():
    rng = np.random.default_rng(6)
    # single-track library
    x = rng.standard_normal((5, 16))
    p = TfidfPooler()
    p.add_tracks({"only": x})
    v = p.track_vectors()["only"]
    np.testing.assert_allclose(v, mean_pool(x), rtol=1e-6)
    assert p.fallback_keys() == {"only"}
    # a track whose every slice occurs in every track: all IDF = 0
    common = rng.standard_normal(16)
    lib = {
        "all-common": np.array([common, common * 2]),
        "b": np.vstack([common, rng.standard_normal((3, 16))]),
        "c": np.vstack([rng.standard_normal((2, 16)), common]),
    }
    p = TfidfPooler()
    p.add_tracks(lib)
    assert p.fallback_keys() == {"all-common"}
    vecs = p.track_vectors()
    np.testing.assert_allclose(vecs["all-common"], mean_pool(lib["all-common"]), rtol=1e-6)
    for k in ("b", "c"):  # the others are ordinary TF-IDF vectors
        np.testing.assert_allclose(vecs[k], tfidf_pool_bruteforce(lib)[k], rtol=1e-5)
    normed = p.track_vectors(normalize=True)
    for val in normed.values():
        assert np.isclose(np.linalg.norm(val), 1, atol=1e-6)


def test_input_validation():
    p = TfidfPooler()
    with pytest.raises(ValueError):
        p.add_tracks({"x": np.zeros((0, 8))})
    with pytest.raises(ValueError):
        p.add_tracks({"x": np.full((2, 8), np.nan)})
    p.add_tracks({"x": np.ones((2, 8))})
    with pytest.raises(ValueError):
        p.add_tracks({"y": np.ones((2, 9))})
    with pytest.raises(KeyError):
        p.track_vectors(["nope"])
    with pytest.raises(ValueError):
        TfidfPooler(eps=0)
    assert DEFAULT_EPS == 1e-3
    np.testing.assert_allclose(np.linalg.norm(l2_normalize(np.ones((3, 4))), axis=1), 1)


def test_ivf_index_agrees_with_bruteforce_on_planted_library():
    lib = planted_library(150, seed=8, min_slices=8, max_slices=12)
    p = TfidfPooler(index="ivf", nprobe=16)
    p.add_tracks(lib)
    assert p._index_is_ivf
    want = tfidf_pool_bruteforce(lib)
    got = p.track_vectors()
    scale = max(np.linalg.norm(v) for v in want.values())
    close = [np.allclose(got[k], want[k], atol=1e-4 * scale, rtol=1e-4) for k in lib]
    assert np.mean(close) >= 0.97  # approximate search may miss a rare pair
