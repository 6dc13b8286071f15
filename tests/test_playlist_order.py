import numpy as np
import pytest
from scipy.stats import spearmanr

from playlist_helpers import make_catalog, orthonormal
from segue.errors import UserError
from segue.playlist.catalog import Catalog
from segue.playlist.order import (
    TransitionWeights,
    energy,
    path_cost,
    reorder,
    transition_cost,
    transition_matrix,
)

TIMBRE_ONLY = TransitionWeights(tempo=0, key=0, loudness=0)


def test_transition_uses_end_of_a_and_start_of_b():
    rng = np.random.default_rng(0)
    e = orthonormal(rng, 8, 4)
    v = np.stack([e[0], e[1]])
    intro = np.stack([e[2], e[3]])
    outro = np.stack([e[3], e[1]])  # a ends the way b starts; b ends unlike the way a starts
    cat = make_catalog(v, intro=intro, outro=outro)
    assert transition_cost(cat, 0, 1, TIMBRE_ONLY) == pytest.approx(0, abs=1e-6)
    assert transition_cost(cat, 1, 0, TIMBRE_ONLY) == pytest.approx(1, abs=1e-6)
    plain = make_catalog(v)  # no intro/outro: whole-track vectors
    assert transition_cost(plain, 0, 1, TIMBRE_ONLY) == pytest.approx(1, abs=1e-6)


def test_tempo_key_loudness_parts():
    v = np.tile(np.eye(4)[0], (6, 1))
    cat = make_catalog(
        v,
        bpm=[120, 60, 126, 180, np.nan, 120],
        bpm_confidence=[1, 1, 1, 1, 1, 0.5],
        camelot=["8A", "8A", "9A", "2B", None, "8B"],
        loudness_lufs=[-10, -10, -13, -22, np.nan, -10],
    )
    only = lambda **w: TransitionWeights(timbre=0, **({"tempo": 0, "key": 0, "loudness": 0} | w))  # noqa: E731
    tempo = only(tempo=1)
    assert transition_cost(cat, 0, 1, tempo) == 0  # half time
    assert transition_cost(cat, 0, 1, TransitionWeights(timbre=0, key=0, loudness=0, half_double=False)) == 0.3
    assert 0.5 < transition_cost(cat, 0, 2, tempo) < 1  # +5 % of the 8 % budget
    assert transition_cost(cat, 0, 3, tempo) == 1  # 1.5x: a fifth apart, the worst
    assert transition_cost(cat, 0, 4, tempo) == 0  # unknown tempo costs nothing
    key = only(key=1)
    assert transition_cost(cat, 0, 1, key) == 0
    assert transition_cost(cat, 0, 2, key) == pytest.approx(0.2)
    assert transition_cost(cat, 0, 5, key) == pytest.approx(0.2)  # relative major
    assert transition_cost(cat, 0, 3, key) == 1
    loud = only(loudness=1)
    assert transition_cost(cat, 0, 2, loud) == pytest.approx(0.5)
    assert transition_cost(cat, 0, 3, loud) == 1
    m = transition_matrix(cat, np.arange(6), np.arange(6))
    assert m.shape == (6, 6) and np.isfinite(m).all()


def line_library(n=24, seed=1):
    """Tracks evenly spaced along an arc: the smoothest order is along the arc."""
    rng = np.random.default_rng(seed)
    a, b = orthonormal(rng, 16, 2)
    t = np.linspace(0, 1.2, n)
    v = np.cos(t)[:, None] * a + np.sin(t)[:, None] * b
    return make_catalog(v)


def test_reorder_recovers_the_line():
    cat = line_library()
    rng = np.random.default_rng(2)
    shuffled = rng.permutation(len(cat)).tolist()
    out = reorder(cat, shuffled, weights=TIMBRE_ONLY)
    assert sorted(out) == sorted(shuffled)
    assert out in (list(range(len(cat))), list(range(len(cat)))[::-1])
    first = shuffled[0]
    fixed = reorder(cat, shuffled, fix_first=True, weights=TIMBRE_ONLY)
    assert fixed[0] == first and sorted(fixed) == sorted(shuffled)
    cost = transition_matrix(cat, np.arange(len(cat)), np.arange(len(cat)), TIMBRE_ONLY)
    assert path_cost(cost, fixed) <= path_cost(cost, shuffled)


def test_energy_arcs():
    n = 16
    rng = np.random.default_rng(3)
    v = np.tile(np.eye(8)[0], (n, 1)) + 0.01 * rng.standard_normal((n, 8))
    loud = rng.uniform(-20, -5, n)
    bpm = rng.uniform(80, 160, n)
    cat = make_catalog(v, loudness_lufs=loud, bpm=bpm)
    idx = rng.permutation(n).tolist()
    e = dict(zip(range(n), energy(cat, np.arange(n)), strict=True))
    pos = np.arange(n)
    build = reorder(cat, idx, "build")
    assert spearmanr(pos, [e[i] for i in build]).statistic > 0.8
    down = reorder(cat, idx, "wind-down")
    assert spearmanr(pos, [e[i] for i in down]).statistic < -0.8
    peak = reorder(cat, idx, "peak")
    top = int(np.argmax([e[i] for i in peak]))
    assert n * 0.4 <= top <= n * 0.9
    assert min(e.values()) >= 0 and max(e.values()) <= 1


def test_reorder_edge_cases():
    cat = Catalog.synthetic(10, 8, seed=4)
    assert reorder(cat, []) == []
    assert reorder(cat, [3]) == [3]
    assert sorted(reorder(cat, [3, 4])) == [3, 4]
    with pytest.raises(UserError, match="energy arc"):
        reorder(cat, [1, 2, 3], "sideways")
    with pytest.raises(UserError, match="same track twice"):
        reorder(cat, [1, 2, 1])
