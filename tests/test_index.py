import numpy as np
import pytest

from segue.errors import UserError
from segue.evaluate import hubness
from segue.index import Index
from segue.playlist.catalog import Catalog, normalise_rows


@pytest.fixture(scope="module")
def lib():
    return Catalog.synthetic(4000, 32, seed=0, n_genres=10, track_spread=1.2, transitions=False)


def noisy_queries(lib, m=100, seed=1):
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(lib), (m, 3))
    return normalise_rows(lib.vectors[rows].sum(axis=1))  # like a radio query: mean of 3 tracks


def test_exact_is_exact(lib):
    idx = Index(lib.vectors, backend="exact")
    q = noisy_queries(lib, 5)
    got, sc = idx.search(q, 10)
    full = q @ lib.vectors.T
    want = np.argsort(-full, axis=1)[:, :10]
    assert (got == want).all()
    assert np.allclose(sc, np.take_along_axis(full, want, 1), atol=1e-5)
    assert (np.diff(sc, axis=1) <= 1e-7).all()


@pytest.mark.parametrize("storage", ["sq8", "flat"])
def test_faiss_matches_exact_recall(lib, storage):
    exact = Index(lib.vectors, backend="exact")
    ivf = Index(lib.vectors, backend="ivf", ivf_storage=storage)
    assert ivf.backend == "ivf" and exact.backend == "exact"
    q = noisy_queries(lib)
    a, sa = exact.search(q, 10)
    b, sb = ivf.search(q, 10)
    recall = np.mean([len(set(x) & set(y)) / 10 for x, y in zip(a, b, strict=True)])
    assert recall >= 0.95
    # where both found the same track, they report the same cosine
    same = a[:, 0] == b[:, 0]
    assert same.mean() >= 0.95 and np.allclose(sa[same, 0], sb[same, 0], atol=1e-5)


def test_auto_backend_threshold(lib):
    assert Index(lib.vectors).backend == "exact"
    assert Index(lib.vectors, exact_threshold=1000).backend == "ivf"


@pytest.mark.parametrize("backend", ["exact", "ivf"])
def test_exclude_and_allowed(lib, backend):
    idx = Index(lib.vectors, backend=backend, exact_threshold=100)
    q = lib.vectors[:3]
    top, _ = idx.search(q, 5)
    assert (top[:, 0] == [0, 1, 2]).all()  # each track is its own nearest
    got, _ = idx.search(q, 5, exclude=[0, 1, 2])
    assert not np.isin(got, [0, 1, 2]).any()
    got, _ = idx.search(q, 5, exclude=[[0], [1], [2]])  # per query
    assert (got[:, 0] != [0, 1, 2]).all()
    mask = np.zeros(len(lib), bool)
    mask[::7] = True  # small allowed set: exact sub-matrix
    got, _ = idx.search(q, 5, allowed=mask)
    assert (got % 7 == 0).all()
    big = np.ones(len(lib), bool)
    big[::3] = False  # large allowed set (selector path for ivf)
    got, _ = idx.search(q, 5, allowed=big)
    assert big[got].all()
    tiny = np.zeros(len(lib), bool)
    tiny[[5, 9]] = True
    got, sc = idx.search(q, 4, allowed=tiny)
    assert (np.sort(got[:, :2], axis=1) == [5, 9]).all()
    assert (got[:, 2:] == -1).all() and np.isneginf(sc[:, 2:]).all()


def hubby(n=1000, d=64, seed=0):
    """Points scattered around a common centre at very different radii: the ones near the
    centre are close to everything (hubs)."""
    rng = np.random.default_rng(seed)
    mu = rng.standard_normal(d)
    mu /= np.linalg.norm(mu)
    s = np.exp(rng.normal(0, 0.5, size=n))
    x = mu + s[:, None] * rng.standard_normal((n, d)) / np.sqrt(d)
    return Catalog(ids=np.arange(n), vectors=x)


def test_hub_reduction_lowers_k_occurrence_skewness():
    cat = hubby()
    base = hubness(cat, 10, index=Index(cat.vectors))
    csls = hubness(cat, 10, index=Index(cat.vectors, hub_reduction="csls"))
    mp = hubness(cat, 10, index=Index(cat.vectors, hub_reduction="mp"))
    assert base["skewness"] > 3
    assert csls["skewness"] < 0.7 * base["skewness"]
    assert mp["skewness"] < 0.7 * base["skewness"]
    assert csls["antihub_share"] < base["antihub_share"] and mp["antihub_share"] < base["antihub_share"]


def test_hub_reduction_on_ivf_and_scores_are_ordered(lib):
    idx = Index(lib.vectors, backend="ivf", hub_reduction="mp")
    got, sc = idx.search(noisy_queries(lib, 5), 10)
    assert (got >= 0).all() and (np.diff(sc, axis=1) <= 1e-7).all()
    assert ((sc >= 0) & (sc <= 1)).all()


def test_bad_configuration_is_a_user_error(lib):
    with pytest.raises(UserError, match="hub reduction"):
        Index(lib.vectors, hub_reduction="magic")
    with pytest.raises(UserError, match="backend"):
        Index(lib.vectors, backend="annoy")
    with pytest.raises(UserError, match="k must be"):
        Index(lib.vectors).search(lib.vectors[0], 0)


def test_save_and_load_skip_training(tmp_path, lib):
    ivf = Index(lib.vectors, backend="ivf")
    path = tmp_path / "tracks.faiss"
    ivf.save(path)
    again = Index.load(path, lib.vectors)
    assert again.backend == "ivf" and again.nprobe == ivf.nprobe
    q = noisy_queries(lib, 10)
    assert (again.search(q, 10)[0] == ivf.search(q, 10)[0]).all()
    other = lib.vectors.copy()
    other[0] = other[1]
    with pytest.raises(UserError, match="other vectors"):
        Index.load(path, other)
    with pytest.raises(UserError, match="cannot read the saved index"):
        Index.load(tmp_path / "missing.faiss", lib.vectors)
