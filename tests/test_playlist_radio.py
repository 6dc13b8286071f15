import numpy as np
import pytest
from scipy.stats import kstest

from playlist_helpers import cluster, make_catalog, orthonormal, unit
from segue.errors import UserError
from segue.playlist.catalog import Catalog
from segue.playlist.radio import RadioSession, next_picks, radio
from segue.playlist.rules import Rules

NO_RULES = Rules(artist_gap=0, near_dup_eps=0)


def home_and_road(d=16, seed=0):
    """A tight home cluster (tracks 0-7), a road of 40 tracks leading away from it in 0.05 rad
    steps, and a side cluster 0.3 rad from home in another direction (20 tracks)."""
    rng = np.random.default_rng(seed)
    e = orthonormal(rng, d, 3)
    home = cluster(rng, e[0], 8, 0.02)
    home[0] = e[0]
    road = np.array([np.cos(0.05 * k) * e[0] + np.sin(0.05 * k) * e[1] for k in range(1, 41)])
    side = cluster(rng, np.cos(0.3) * e[0] + np.sin(0.3) * e[2], 20, 0.02)
    v = np.vstack([home, road, side])
    return make_catalog(v, artist=[""] * len(v)), e[0]


def test_lookback_one_follows_the_last_track_large_lookback_stays_home():
    cat, home = home_and_road()

    def farthest(lookback):
        out = radio(cat, [0], 30, lookback=lookback, rules=NO_RULES)
        return float(np.max(np.arccos(np.clip(cat.vectors[out] @ home, -1, 1))))

    assert farthest(1) > 1.0  # follows the road: 23 steps of 0.05 rad
    assert farthest(20) < 0.45  # the query stays home: the side cluster wins over the far road
    assert farthest(0) < 0.45


def test_noise_zero_is_deterministic():
    cat = Catalog.synthetic(600, 16, seed=1)
    a = radio(cat, [3], 15, noise=0.0, rng=1)
    b = radio(cat, [3], 15, noise=0.0, rng=99)
    assert a == b


def _pick_ranks(cat, noise, seeds, steps=30):
    """Rank (0 = best) of each pick among the still-eligible tracks for the query it saw."""
    ranks = []
    for s in seeds:
        sess = RadioSession(cat, [s], noise=noise, rules=NO_RULES, rng=s, tie_margin=0)
        for _ in range(steps):
            q, _ = sess.query()
            used = np.zeros(len(cat), bool)
            used[sess.history.indices] = True
            sims = cat.vectors @ q
            pick = sess.next()
            ranks.append(int((sims[~used] > sims[pick]).sum()))
            ranks[-1] /= (~used).sum() - 1
    return np.asarray(ranks)


def test_noise_rank_grows_monotonically_and_one_is_random():
    cat = Catalog.synthetic(2000, 24, seed=2)
    means = [float(_pick_ranks(cat, x, seeds=[5, 900]).mean()) for x in (0, 0.2, 0.4, 0.6, 0.8, 1.0)]
    assert means[0] == 0
    assert all(b > a for a, b in zip(means, means[1:], strict=False)), means
    # X = 1: picks are uniform over the ranks
    r1 = _pick_ranks(cat, 1.0, seeds=[5, 900, 1500], steps=40)
    assert abs(r1.mean() - 0.5) < 0.07
    assert kstest(r1, "uniform").pvalue > 0.001


def test_noise_point_three_wanders():
    cat = Catalog.synthetic(2000, 24, seed=2)
    greedy = radio(cat, [5], 20, rules=NO_RULES)
    drunk = radio(cat, [5], 20, noise=0.3, rules=NO_RULES, rng=7)
    assert len(set(drunk[1:]) - set(greedy)) >= 8


def test_noise_one_on_a_large_library_uses_the_rank_sample_and_spreads():
    cat = Catalog.synthetic(12000, 16, seed=3, n_genres=10)
    out = radio(cat, [0], 60, noise=1.0, rng=4, rules=NO_RULES)
    genres = {cat.genre[i] for i in out[1:]}
    assert len(genres) >= 8  # random picks cover nearly every genre
    calm = radio(cat, [0], 60, noise=0.0, rules=NO_RULES)
    assert len({cat.genre[i] for i in calm[1:]}) <= 2


def three_clusters(seed=0, d=24):
    rng = np.random.default_rng(seed)
    e = orthonormal(rng, d, 3)
    a = e[0]
    b = 0.8 * e[0] + 0.6 * e[1]  # close to A (cos 0.8)
    c = e[2]
    v = np.vstack([cluster(rng, a, 15, 0.3), cluster(rng, b, 30, 0.3), cluster(rng, c, 30, 0.3)])
    label = np.array(["A"] * 15 + ["B"] * 30 + ["C"] * 30)
    return make_catalog(v, artist=[""] * len(v)), label


def test_negative_seeds_avoid_a_cluster():
    cat, label = three_clusters()
    plain = radio(cat, [0], 30, rules=NO_RULES)
    assert (label[plain] == "B").sum() >= 10  # B is the natural continuation of A
    neg = radio(cat, [0], 30, negative=[20], rules=NO_RULES)
    assert (label[neg] == "B").sum() == 0
    assert 20 not in neg


def test_several_seeds_and_anchor():
    cat, label = three_clusters(1)
    out = radio(cat, [0, 50], 20, lookback=0, rules=NO_RULES)
    assert out[:2] == [0, 50]
    # anchored on the centroid of an A and a C track: nothing from B's far side dominates
    assert set(label[out]) <= {"A", "C", "B"}
    assert (label[out] == "A").sum() >= 5 and (label[out] == "C").sum() >= 5


def test_session_runs_forever_without_repeats():
    rng = np.random.default_rng(5)
    v = cluster(rng, unit(rng, 16), 30, 1.0)
    cat = make_catalog(v, artist=[f"A{i % 5}" for i in range(30)])
    sess = RadioSession(cat, [0], rules=Rules(artist_gap=2))
    first = [sess.next() for _ in range(29)]
    assert sorted(first + [0]) == list(range(30))
    more = [next(sess) for _ in range(40)]  # keeps going once everything was played
    played = sess.played
    assert len(played) == 70
    for j in range(1, len(played)):
        assert played[j] != played[j - 1]
    finite = RadioSession(cat, [0], rules=NO_RULES, endless=False)
    for _ in range(29):
        finite.next()
    with pytest.raises(StopIteration):
        finite.next()
    assert len(more) == 40


def test_session_skip_and_reseed():
    cat, label = three_clusters(2)
    sess = RadioSession(cat, [0], rules=NO_RULES)
    a = sess.next()
    b = sess.skip()
    assert b != a and a in sess.negative
    for _ in range(5):
        assert sess.next() != a
    sess.reseed([60])
    nxt = [sess.next() for _ in range(5)]
    assert all(label[i] == "C" for i in nxt)
    assert len(set(sess.played)) == len(sess.played)


def test_resumed_session_never_repeats_and_steers_away_from_skips():
    """A listener's state kept outside (web page, MPD queue): the history is played, and what
    was skipped pushes the next picks away from itself, as RadioSession.skip does."""
    cat, _ = home_and_road()
    history = [1, 2, 3]
    plain = RadioSession.resume(cat, [0], history, lookback=3, rules=NO_RULES)
    assert plain.played == [0, 1, 2, 3] and plain.next() not in history
    rng = np.random.default_rng(4)
    e = orthonormal(rng, 16, 3)
    near = cluster(rng, np.cos(0.35) * e[0] + np.sin(0.35) * e[1], 10, 0.2)
    other = cluster(rng, np.cos(0.45) * e[0] + np.sin(0.45) * e[2], 10, 0.2)
    cat = make_catalog(np.vstack([e[0], near, other]), artist=[""] * 21)
    side = np.array(["seed"] + ["near"] * 10 + ["other"] * 10)
    history = [1, 2, 3]  # three tracks of the nearer side were heard, or skipped
    heard = next_picks(cat, [0], history, 5, lookback=3)
    on_seed = next_picks(cat, [0], history, 5, lookback=0)  # the window without them
    skipped = next_picks(cat, [0], history, 5, skipped=history, lookback=3)
    assert not set(heard + on_seed + skipped) & set(history)
    assert set(side[heard]) == set(side[on_seed]) == {"near"}
    # leaving the window is not all a skip does: it turns the radio to the other side
    assert set(side[skipped]) == {"other"}


def test_next_picks_go_round_once_everything_has_played():
    cat = make_catalog(np.random.default_rng(3).standard_normal((6, 8)), artist=["a"] * 6)
    got = next_picks(cat, [0], [1, 2, 3, 4, 5], 4)
    assert len(got) == 4  # endless: the artist gap is bent, then played tracks come round


def test_radio_returns_seed_then_n_and_stops_when_exhausted():
    cat = Catalog.synthetic(12, 8, seed=6)
    out = radio(cat, [2], 5, rules=NO_RULES)
    assert out[0] == 2 and len(out) == 6
    assert radio(cat, [2], 0) == [2]
    assert radio(cat, [2], 5, include_seeds=False)[0] != 2
    assert len(radio(cat, [2], 100, rules=NO_RULES)) == 12


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seeds": []}, "at least one seed"),
        ({"seeds": [99]}, "outside the library"),
        ({"noise": 1.5}, "noise must be between 0 and 1"),
        ({"noise": "lots"}, "noise must be a number"),
        ({"lookback": -1}, "lookback"),
        ({"n": -3}, "number of tracks"),
        ({"n": None}, "minutes"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, message):
    cat = Catalog.synthetic(12, 8, seed=6)
    args = {"seeds": [0], "n": 5} | kwargs
    with pytest.raises(UserError, match=message):
        radio(cat, **args)


def test_transition_cost_breaks_near_ties():
    rng = np.random.default_rng(8)
    d = 16
    c = unit(rng, d)
    v = np.vstack([c, cluster(rng, c, 2, 0.01)])  # two candidates, equally similar
    intro = v.copy()
    outro = v.copy()
    w = orthonormal(rng, d, 2)
    outro[0] = w[0]
    intro[1] = w[1]  # candidate 1 starts unlike the seed's ending
    intro[2] = w[0]  # candidate 2 starts exactly like the seed ends
    cat = make_catalog(v, intro=intro, outro=outro)
    assert radio(cat, [0], 1, rules=NO_RULES)[1] == 2
    assert radio(cat, [0], 1, rules=NO_RULES, tie_margin=0)[1] in (1, 2)
