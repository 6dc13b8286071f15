"""Mixability on a synthetic catalogue: tempo (same, half, double time), keys, the re-ranking."""

from __future__ import annotations

import numpy as np
import pytest

from playlist_helpers import make_catalog, unit
from segue.mix.plan import MixOptions, TrackFacts, plan_mix
from segue.playlist.mixable import (
    Mixability,
    beat_matchable,
    describe_fit,
    key_compatible,
    mix_scores,
    prefer_mixable,
    tempo_match,
)

NAN = float("nan")

# row 0 is the previous track: 128 bpm, 8A
ROWS = [
    # bpm, confidence, camelot
    (128.0, 0.9, "8A"),   # 0 previous
    (126.0, 0.9, "8A"),   # 1 same tempo (1.6 %), same key
    (131.0, 0.9, "3B"),   # 2 same tempo (2.3 %), far key
    (140.0, 0.9, "9A"),   # 3 9.4 % apart: not matchable; neighbour key
    (65.0, 0.9, "8B"),    # 4 half time (1.5 %), relative major
    (250.0, 0.8, None),   # 5 double time (2.4 %), key unknown
    (127.0, 0.1, "8A"),   # 6 tempo unsure, same key
    (NAN, 0.0, "1A"),     # 7 nothing known that helps
    (100.0, 0.9, "2B"),   # 8 neither
]  # fmt: skip


@pytest.fixture
def catalog():
    rng = np.random.default_rng(0)
    vecs = np.stack([unit(rng, 8) for _ in ROWS])
    return make_catalog(vecs, bpm=[r[0] for r in ROWS], bpm_confidence=[r[1] for r in ROWS],
                        camelot=[r[2] for r in ROWS])  # fmt: skip


def test_tempo_match_same_half_and_double_time() -> None:
    same = tempo_match(128.0, 126.0)
    assert same is not None and same.factor == 1.0 and same.speed == pytest.approx(128 / 126)
    half = tempo_match(128.0, 65.0)  # 65 bpm under 128: two beats of 128 to each of its beats
    assert half is not None and half.factor == 0.5 and 65.0 * half.speed == pytest.approx(64.0)
    double = tempo_match(128.0, 250.0)
    assert double is not None and double.factor == 2.0 and 250 * double.speed == pytest.approx(256)
    assert tempo_match(128.0, 65.0, half_double=False) is None
    assert tempo_match(128.0, 140.0) is None
    assert tempo_match(128.0, 133.0, tolerance=4.0) is not None  # 3.9 %
    assert tempo_match(128.0, 134.0, tolerance=4.0) is None  # 4.7 %
    assert tempo_match(NAN, 120.0) is None and tempo_match(120.0, 0.0) is None


def test_beat_matchable_and_key_compatible(catalog) -> None:
    cands = np.arange(1, len(ROWS))
    beat = dict(zip(cands.tolist(), beat_matchable(catalog, 0, cands).tolist(), strict=True))
    assert beat == {1: True, 2: True, 3: False, 4: True, 5: True, 6: False, 7: False, 8: False}
    key = dict(zip(cands.tolist(), key_compatible(catalog, 0, cands).tolist(), strict=True))
    assert key == {1: True, 2: False, 3: True, 4: True, 5: False, 6: True, 7: False, 8: False}
    strict = Mixability(half_double=False, tolerance=2.0)
    assert beat_matchable(catalog, 0, [1, 2, 4, 5]).all()
    assert beat_matchable(catalog, 0, [1, 2, 4, 5], strict).tolist() == [True, False, False, False]
    # a previous track without a confident tempo makes nothing beat-matchable
    assert not beat_matchable(catalog, 6, cands[cands != 6]).any()


def test_scores_order_what_a_dj_would_reach_for(catalog) -> None:
    s = dict(zip(range(1, len(ROWS)), mix_scores(catalog, 0, np.arange(1, len(ROWS))), strict=True))
    assert s[1] > s[4] > s[2] > s[3] > 0  # tempo+key > half time+neighbour > tempo > key only
    assert s[4] > s[5]  # half time with a neighbour key beats double time with no key
    assert s[7] == s[8] == 0.0
    assert all(0.0 <= v <= 1.0 for v in s.values())


def test_prefer_mixable_reorders_only_the_nearest(catalog) -> None:
    # candidates best first by similarity: the least mixable ones first
    cand = np.array([8, 7, 3, 2, 1, 4, 5, 6])
    order = prefer_mixable(catalog, 0, cand, Mixability(top_k=5))
    got = cand[order]
    assert sorted(order.tolist()) == list(range(len(cand)))  # a permutation
    assert got[0] == 1  # beat-matchable and same key, 4 ranks down in sound, comes first
    # a key neighbour overtakes an unmixable track one rank closer in sound
    assert got[:5].tolist().index(3) < got[:5].tolist().index(7)
    assert got[5:].tolist() == [4, 5, 6]  # outside the top 5: the similarity order stands
    # weight 0 or top_k 1: the similarity order as it was
    assert prefer_mixable(catalog, 0, cand, Mixability(weight=0.0)).tolist() == list(range(8))
    assert prefer_mixable(catalog, 0, cand, Mixability(top_k=1)).tolist() == list(range(8))
    # among equally unmixable candidates the similarity order is kept
    flat = prefer_mixable(catalog, 0, np.array([8, 7]), Mixability(top_k=5))
    assert flat.tolist() == [0, 1]


def test_mixable_means_what_the_mix_planner_beat_matches(catalog) -> None:
    """A pair the playlist calls beat-matchable is the pair the mix beat-matches."""

    def facts(bpm: float, conf: float) -> TrackFacts:
        bar = 240.0 / bpm if np.isfinite(bpm) else 2.0
        downbeats = [float(t) for t in np.arange(0.0, 120.0, bar)]
        return TrackFacts(duration=121.0, music_start=0.0, music_end=120.0, bpm=bpm,
                          bpm_confidence=conf, downbeats=downbeats, loudness_lufs=-14.0,
                          intro_energy=[-12.0] * 60, outro_energy=[-12.0] * 60)  # fmt: skip

    prev = facts(*ROWS[0][:2])
    for b in range(1, len(ROWS)):
        plan = plan_mix([prev, facts(*ROWS[b][:2])], MixOptions())
        assert plan.transitions[0].beatmatched == bool(beat_matchable(catalog, 0, [b])[0]), b


def test_describe_fit(catalog) -> None:
    assert describe_fit(catalog, 0, 1) == "beat-matchable at +1.6 %; keys 8A -> 8A (same)"
    assert describe_fit(catalog, 0, 4) == "beat-matchable at -1.5 % (half time); keys 8A -> 8B (neighbours)"
    assert describe_fit(catalog, 0, 3) == "tempos 128 and 140 bpm do not match; keys 8A -> 9A (neighbours)"
    assert describe_fit(catalog, 0, 5).endswith("key unknown")
    assert describe_fit(catalog, 0, 6).startswith("tempo unsure")


def _fan(n: int = 12):
    """A seed track at 128 bpm and ``n`` tracks around it, nearer ones at unmixable tempos,
    every third one a bit farther at a tempo a mix can match."""
    e = np.eye(n + 1)
    vecs, bpm = [e[0]], [128.0]
    for i in range(n):  # each one farther from the seed than the one before
        angle = 0.1 + 0.15 * i  # farther apart than the radio's near-tie margin
        vecs.append(np.cos(angle) * e[0] + np.sin(angle) * e[i + 1])
        bpm.append(127.0 if i % 3 == 2 else 97.0)
    return make_catalog(np.stack(vecs), bpm=bpm, bpm_confidence=[0.9] * (n + 1),
                        artist=[""] * (n + 1))  # fmt: skip


def test_mixable_radio_and_journey_prefer_what_a_mix_can_beat_match():
    from segue.playlist.journey import journey
    from segue.playlist.radio import radio
    from segue.playlist.rules import Rules

    cat = _fan()
    loose = Rules(artist_gap=0, near_dup_eps=0)
    plain = radio(cat, [0], 1, rules=loose)
    mixable = radio(cat, [0], 1, rules=loose, mixable=Mixability())
    assert cat.bpm[plain[1]] == 97.0  # by sound alone: the nearest, unmixable
    assert cat.bpm[mixable[1]] == 127.0  # among the nearest few, the one a mix beat-matches
    far = int(np.argmin(cat.vectors @ cat.vectors[0]))  # a 127-bpm track
    plain_j = journey(cat, [0, far], 3, loose).indices
    mix_j = journey(cat, [0, far], 3, loose, mixable=Mixability()).indices
    assert [cat.bpm[i] for i in plain_j[1:4]] == [97.0] * 3  # the straightest path
    assert [cat.bpm[i] for i in mix_j[1:4]] == [127.0] * 3  # a path every step of which mixes
