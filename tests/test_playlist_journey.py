import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from playlist_helpers import cluster, make_catalog, orthonormal
from segue.errors import UserError
from segue.playlist.catalog import Catalog
from segue.playlist.journey import journey, slerp
from segue.playlist.rules import Rules


def roads(seed=0, d=24, per_road=60, distractors=200):
    """Three waypoint tracks (0, 1, 2) far apart, tracks scattered near the great circles
    between them, plus unrelated tracks."""
    rng = np.random.default_rng(seed)
    e = orthonormal(rng, d, 3)
    v = [e[0], e[1], e[2]]
    for a, b in ((e[0], e[1]), (e[1], e[2])):
        for t in rng.uniform(0.02, 0.98, per_road):
            p = slerp(a, b, t)[0]
            v.append(cluster(rng, p, 1, 0.15)[0])
    v.extend(cluster(rng, orthonormal(rng, d, 4)[3], distractors, 1.5))
    return make_catalog(np.vstack(v))


def test_every_waypoint_in_order_with_steps_between():
    cat = roads()
    steps = 6
    res = journey(cat, [0, 1, 2], steps)
    idx = res.indices
    assert len(idx) == 2 * (steps + 1) + 1
    assert idx[0] == 0 and idx[steps + 1] == 1 and idx[-1] == 2
    assert len(set(idx)) == len(idx)
    assert [s.waypoint for s in res.steps].count(True) == 3
    assert all(s.index not in (0, 1, 2) for s in res.steps if not s.waypoint)


def test_distance_to_next_waypoint_falls_steadily():
    cat = roads(1)
    steps = 8
    res = journey(cat, [0, 1, 2], steps)
    for seg in range(2):
        part = res.steps[seg * (steps + 1) : (seg + 1) * (steps + 1) + 1]
        dest = part[-1].index
        d = [1 - float(cat.vectors[s.index] @ cat.vectors[dest]) for s in part]
        assert spearmanr(np.arange(len(d)), d).statistic < -0.9
        drops = np.diff(d)
        assert (drops < 0.02).all()  # never a real step back
        # progress is steady: no single step covers more than a third of the way
        assert (np.abs(drops) < d[0] / 3).all()
    # the reported numbers match
    s = res.steps[3]
    assert s.dist_next_waypoint == pytest.approx(1 - cat.vectors[s.index] @ cat.vectors[1], abs=1e-5)
    prev = res.steps[2].index
    assert s.dist_prev == pytest.approx(1 - cat.vectors[s.index] @ cat.vectors[prev], abs=1e-5)


def test_journey_json_and_zero_steps():
    cat = roads(2, per_road=10, distractors=10)
    res = journey(cat, [0, 2], 0)
    assert res.indices == [0, 2]
    text = json.dumps(journey(cat, [0, 1], 3).to_dict(cat))
    back = json.loads(text)
    assert back["steps"][0]["waypoint"] is True and back["steps"][0]["dist_prev"] is None
    assert "path" in back["steps"][1]


def test_slerp_is_even_on_the_sphere():
    rng = np.random.default_rng(3)
    a, b = orthonormal(rng, 8, 2)
    pts = slerp(a, b, np.linspace(0, 1, 5))
    assert np.allclose(np.linalg.norm(pts, axis=1), 1, atol=1e-5)
    ang = np.arccos(np.clip(np.sum(pts[:-1] * pts[1:], axis=1), -1, 1))
    assert np.allclose(ang, np.pi / 8, atol=1e-4)
    anti = slerp(a, -a, np.array([0.5]))[0]
    assert abs(anti @ a) < 1e-5  # antipodes: goes through a perpendicular point


def test_rules_apply_to_intermediate_tracks():
    cat = Catalog.synthetic(600, 16, seed=4)
    a, b = 0, 599
    res = journey(cat, [a, b], 10, Rules(artist_gap=3))
    arts = [cat.artist[i] for i in res.indices]
    for j in range(1, len(arts)):
        assert arts[j] not in arts[max(0, j - 3) : j]
    res = journey(cat, [a, b], 10, Rules(tempo="100-140"))
    assert all(100 <= cat.bpm[s.index] <= 140 for s in res.steps if not s.waypoint)


@pytest.mark.parametrize(
    "waypoints, steps, message",
    [
        ([0], 3, "at least two waypoints"),
        ([0, 0], 3, "same track"),
        ([0, 1], -1, "steps"),
        ([0, 1], 2.5, "steps"),
        ([0, 10**6], 3, "outside the library"),
        ([0, 1], 50, "too few tracks"),
    ],
)
def test_bad_journeys_are_user_errors(waypoints, steps, message):
    cat = Catalog.synthetic(20, 8, seed=5)
    with pytest.raises(UserError, match=message):
        journey(cat, waypoints, steps)
