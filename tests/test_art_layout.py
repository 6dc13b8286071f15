"""2-D projections (openTSNE, UMAP) with their cache, and grid fitting by linear assignment."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from segue.art.layout import LayoutParams, fit_to_grid, grid_shape, layout_points


def clusters(n: int, dim: int = 20, k: int = 4, seed: int = 0, prefix: str = "h") -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * 6
    return {f"{prefix}{i:04d}": centres[i % k] + rng.normal(size=dim) for i in range(n)}


def _unit(points: np.ndarray) -> np.ndarray:
    lo, hi = points.min(0), points.max(0)
    return (points - lo) / np.where(hi > lo, hi - lo, 1.0)


def _cost(points: np.ndarray, cells: np.ndarray | tuple, rows: int, cols: int) -> float:
    r, c = np.divmod(np.asarray(cells), cols)
    centres = np.stack([(c + 0.5) / cols, (r + 0.5) / rows], axis=1)
    return float(((_unit(points) - centres) ** 2).sum())


@pytest.mark.parametrize("n,rows,cols,seed", [(2, 1, 3, 0), (4, 2, 2, 1), (5, 2, 3, 2), (6, 3, 3, 3), (7, 3, 3, 4), (6, 2, 3, 5)])
def test_grid_assignment_is_optimal_against_brute_force(n, rows, cols, seed):
    pts = np.random.default_rng(seed).random((n, 2))
    got = fit_to_grid(pts, rows, cols)
    assert len(set(got.tolist())) == n and got.min() >= 0 and got.max() < rows * cols
    r, c = np.divmod(np.arange(rows * cols), cols)
    centres = np.stack([(c + 0.5) / cols, (r + 0.5) / rows], axis=1)
    cost = ((_unit(pts)[:, None, :] - centres[None]) ** 2).sum(-1)  # (points, cells)
    perms = np.array(list(itertools.permutations(range(rows * cols), n)))
    best = cost[np.arange(n), perms].sum(1).min()
    assert _cost(pts, got, rows, cols) == pytest.approx(best)


def test_points_on_the_grid_stay_in_their_cells():
    rows, cols = 3, 4
    r, c = np.divmod(np.arange(12), cols)
    pts = np.stack([c * 10.0, r * 10.0], axis=1)  # any scale: points are normalised first
    order = np.random.default_rng(0).permutation(12)
    assert np.array_equal(fit_to_grid(pts[order], rows, cols), order)


def test_grid_shape_and_overflow():
    assert grid_shape(10) == (3, 4)
    assert grid_shape(12, aspect=3.0) == (2, 6)
    assert grid_shape(0) == (0, 0)
    with pytest.raises(ValueError, match="do not fit"):
        fit_to_grid(np.zeros((5, 2)), 2, 2)


def _neighbour_agreement(x: dict[str, np.ndarray], xy: dict[str, tuple], k: int = 10) -> float:
    keys = sorted(x)
    a = np.stack([x[key] for key in keys])
    b = np.array([xy[key] for key in keys])
    da = ((a[:, None] - a[None]) ** 2).sum(-1)
    db = ((b[:, None] - b[None]) ** 2).sum(-1)
    np.fill_diagonal(da, np.inf)
    np.fill_diagonal(db, np.inf)
    na, nb = np.argsort(da, 1)[:, :k], np.argsort(db, 1)[:, :k]
    return float(np.mean([len(set(p) & set(q)) / k for p, q in zip(na, nb, strict=True)]))


def test_tsne_cached_then_extended_incrementally(tmp_path: Path):
    params = LayoutParams(method="tsne", n_iter=250, perplexity=15, metric="euclidean")
    old = clusters(160, seed=1)
    first = layout_points(old, params, name="t", cache=tmp_path)
    assert first.how == "fresh" and first.xy.shape == (160, 2) and np.isfinite(first.xy).all()
    assert _neighbour_agreement(old, first.as_dict()) > 0.5  # clusters survive the projection
    again = layout_points(old, params, name="t", cache=tmp_path)
    assert again.how == "cached" and np.array_equal(again.xy, first.xy)
    # 40 new tracks from the same clusters: old points keep their places, new ones land near kin
    grown = {**old, **{f"n{i}": v for i, v in enumerate(clusters(40, seed=1, prefix="x").values())}}
    ext = layout_points(grown, params, name="t", cache=tmp_path)
    assert ext.how == "extended"
    placed = ext.as_dict()
    for key, xy in first.as_dict().items():
        assert placed[key] == pytest.approx(xy)
    old_xy = np.array([first.as_dict()[k] for k in sorted(old)])
    old_cluster = np.arange(160) % 4
    for i in range(40):  # same generator and seed: new point i belongs to cluster i % 4
        new = np.array(placed[f"n{i}"])
        nearest = np.argsort(((old_xy - new) ** 2).sum(1))[:5]
        assert np.bincount(old_cluster[nearest], minlength=4).argmax() == i % 4
    assert layout_points(grown, params, name="t", cache=tmp_path).how == "cached"
    # other parameters, other cache entry; too many new points: a fresh run
    assert layout_points(old, LayoutParams(method="tsne", n_iter=250, perplexity=10), name="t", cache=tmp_path).how == "fresh"
    assert layout_points(clusters(400, seed=1), params, name="t", cache=tmp_path).how == "fresh"


@pytest.mark.slow  # ~20 s, nearly all numba compiling UMAP on first use
def test_umap_projection_and_warm_start(tmp_path: Path):
    params = LayoutParams(method="umap", n_neighbors=10, metric="euclidean")
    old = clusters(120, seed=2)
    first = layout_points(old, params, name="u", cache=tmp_path)
    assert first.how == "fresh" and np.isfinite(first.xy).all()
    assert _neighbour_agreement(old, first.as_dict()) > 0.5
    grown = {**old, **{f"n{i}": v for i, v in enumerate(clusters(30, seed=2, prefix="x").values())}}
    ext = layout_points(grown, params, name="u", cache=tmp_path)
    assert ext.how == "extended" and ext.xy.shape == (150, 2)
    assert _neighbour_agreement(grown, ext.as_dict()) > 0.5


def test_tiny_inputs_use_pca(tmp_path: Path):
    few = clusters(5)
    got = layout_points(few, LayoutParams(), name="few", cache=tmp_path)
    assert got.xy.shape == (5, 2) and np.isfinite(got.xy).all()
    assert layout_points({}, LayoutParams(), cache=tmp_path).xy.shape == (0, 2)


def test_pca_2d_gives_the_principal_components_also_from_a_sample(monkeypatch) -> None:
    from segue.art import layout

    rng = np.random.default_rng(4)
    x = rng.standard_normal((400, 12)) * np.array([9.0, 4.0] + [1.0] * 10)
    centred = x - x.mean(0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    want = u[:, :2] * s[:2]
    got = layout.pca_2d(x)
    assert got.shape == (400, 2) and got.dtype == np.float32
    np.testing.assert_allclose(np.abs(got), np.abs(want), atol=1e-3)  # up to each axis' sign
    monkeypatch.setattr(layout, "PCA_SAMPLE", 100)  # axes from a quarter of the points
    sampled = layout.pca_2d(x)
    for axis in range(2):
        cos = abs(sampled[:, axis] @ want[:, axis]) / (
            np.linalg.norm(sampled[:, axis]) * np.linalg.norm(want[:, axis]))
        assert cos > 0.98
    assert layout.pca_2d(np.ones((1, 5))).tolist() == [[0.0, 0.0]]
