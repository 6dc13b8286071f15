import numpy as np
import pytest

from playlist_helpers import cluster, make_catalog, unit
from segue.errors import UserError
from segue.listen.camelot import camelot_steps
from segue.playlist.catalog import Catalog
from segue.playlist.history import History
from segue.playlist.radio import radio
from segue.playlist.rules import Rules, fit_to_minutes, parse_range, split_sides


def tight_library(n=30, d=16, seed=0, **meta):
    rng = np.random.default_rng(seed)
    return make_catalog(cluster(rng, unit(rng, d), n, 0.3), **meta)


def test_parse_range_forms():
    assert parse_range("118-128", "t") == (118, 128)
    assert parse_range("118..128", "t") == (118, 128)
    assert parse_range("-14--8", "l") == (-14, -8)
    assert parse_range("1990-", "y") == (1990, None)
    assert parse_range("..-8", "l") == (None, -8)
    assert parse_range("2:00-6:30", "d") == (120, 390)
    assert parse_range("1999", "y") == (1999, 1999)
    assert parse_range((1, None), "x") == (1, None)
    assert parse_range(None, "x") is None
    with pytest.raises(UserError, match="tempo"):
        parse_range("fast", "tempo")
    with pytest.raises(UserError, match="above the high end"):
        parse_range("130-120", "tempo")


def test_bad_rules_raise_user_errors():
    with pytest.raises(UserError, match="Camelot"):
        Rules(key="H7")
    with pytest.raises(UserError, match="artist_gap"):
        Rules(artist_gap=-1)
    with pytest.raises(UserError, match="max_per_artist"):
        Rules(max_per_artist=0)
    with pytest.raises(UserError, match="minutes"):
        Rules(minutes=0)
    cat = tight_library(5)
    with pytest.raises(UserError, match="unknown tag 'rock'"):
        Rules(tags="rock").allowed_mask(cat)


def test_camelot_steps():
    assert camelot_steps("8A", "8A") == 0
    assert camelot_steps("8A", "9A") == 1
    assert camelot_steps("8A", "8B") == 1
    assert camelot_steps("12A", "1A") == 1
    assert camelot_steps("8A", "9B") == 2
    assert camelot_steps("8A", "2A") == 6
    assert camelot_steps("8A", None) is None


def test_static_filters_by_construction(tmp_path):
    n = 10
    cat = tight_library(
        n,
        duration=[100, 200, 300, 400, 500, np.nan, 250, 260, 270, 280],
        year=[1970, 1980, 1990, 2000, 2010, np.nan, 1995, 1996, 1997, 1998],
        bpm=[60, 120, 125, 240, 90, 128, np.nan, 64, 118, 130],
        loudness_lufs=[-20, -14, -10, -8, -6, np.nan, -12, -11, -9, -7],
        camelot=["8A", "9A", "8B", "2A", None, "7A", "8A", "3B", "12A", "8a"],
        tags={"rock": np.array([0.9, 0.1, 0.5, 0.49, np.nan, 1, 0, 0.7, 0.6, 0.2])},
        path=[f"/music/{'rock' if i < 5 else 'jazz'}/t{i}.flac" for i in range(n)],
    )

    def rows(**kw):
        return np.flatnonzero(Rules(**kw).allowed_mask(cat)).tolist()

    assert rows() == list(range(n))
    assert rows(duration="200-300") == [1, 2, 6, 7, 8, 9]
    assert rows(year="1990-") == [2, 3, 4, 6, 7, 8, 9]
    assert rows(tempo="118-128") == [1, 2, 5, 8]
    assert rows(tempo="118-128", half_double_time=True) == [0, 1, 2, 3, 5, 7, 8]
    assert rows(tempo="125") == [1, 2, 5, 9]  # a single tempo means +-4 %: 120..130
    assert rows(loudness="-12--8") == [2, 3, 6, 7, 8]
    assert rows(tags="rock") == [0, 2, 5, 7, 8]
    assert rows(tags={"rock": 0.8}) == [0, 5]
    assert rows(key="8A") == [0, 6, 9]
    assert rows(key="8A", compatible_keys=True) == [0, 1, 2, 5, 6, 9]
    assert rows(folder="/music/jazz") == [5, 6, 7, 8, 9]
    assert rows(folder="/music/jaz") == []  # a prefix of a folder name is not that folder
    assert rows(exclude_ids=[1, 2, 3]) == list(range(3, n))


def test_history_rules_repeat_group_artist_gap_and_caps():
    n = 8
    cat = tight_library(
        n,
        artist=["A", "B", "A", "C", "D", "", "", "b"],
        album=["x", "y", "x", "z", "w", "", "", "y2"],
        group=[0, 1, 0, 3, 4, 5, 6, 7],  # tracks 0 and 2 are the same audio
    )
    r = Rules(artist_gap=2, near_dup_eps=0)
    h = History(cat, [0])
    assert r.why_not(0, h) is not None
    assert "exact duplicate" in r.why_not(2, h)
    assert r.accepts(1, h)
    h.add(1)
    assert not r.accepts(7, h)  # "b" is artist "B" folded: played 1 track ago
    h.add(3)
    assert not r.accepts(7, h)  # B is still one of the last 2 tracks
    h.add(4)
    assert r.accepts(7, h)  # now B was 3 tracks ago
    assert r.accepts(5, h) and r.accepts(6, h)  # unknown artists never collide
    capped = Rules(artist_gap=0, max_per_artist=1, near_dup_eps=0)
    assert not capped.accepts(7, History(cat, [1]))
    album_cap = Rules(artist_gap=0, max_per_album=1, near_dup_eps=0)
    assert not album_cap.accepts(2, History(cat, [4, 0]))  # same artist+album, other group
    assert album_cap.accepts(7, History(cat, [1]))  # same artist, other album


def test_near_duplicates_need_close_vectors_and_durations():
    rng = np.random.default_rng(1)
    base = unit(rng, 16)
    other = unit(rng, 16)
    near = base + 0.01 * rng.standard_normal(16)
    v = np.stack([base, near, near, other])
    cat = make_catalog(v, duration=[200.0, 201.5, 230.0, 200.0])
    r = Rules(artist_gap=0)
    h = History(cat, [0])
    assert 1 - cat.vectors[0] @ cat.vectors[1] < r.near_dup_eps
    assert "near-duplicate" in r.why_not(1, h)
    assert r.accepts(2, h)  # same sound, 30 s longer: another edit, allowed
    assert r.accepts(3, h)


def test_radio_never_repeats_groups_or_near_duplicates():
    rng = np.random.default_rng(2)
    c = unit(rng, 16)
    v = cluster(rng, c, 40, 0.8)
    v[1] = v[0]  # exact duplicate audio, other file
    v[2] = v[0] + 1e-3  # other encoding of the same recording
    group = np.arange(40)
    group[1] = 0
    cat = make_catalog(v, group=group, artist=[""] * 40)
    out = radio(cat, [0], 30, rules=Rules(artist_gap=0))
    assert 1 not in out and 2 not in out
    assert len(set(out)) == len(out) == 31


def test_radio_artist_gap_and_cap():
    rng = np.random.default_rng(3)
    v = cluster(rng, unit(rng, 16), 60, 0.8)
    artists = [f"A{i % 4}" for i in range(60)]
    cat = make_catalog(v, artist=artists)
    out = radio(cat, [0], 20, rules=Rules(artist_gap=3))
    codes = [artists[i] for i in out]
    for j in range(1, len(codes)):
        assert codes[j] not in codes[max(0, j - 3) : j]
    out = radio(cat, [0], 20, rules=Rules(artist_gap=0, max_per_artist=2))
    assert max(np.unique([artists[i] for i in out], return_counts=True)[1]) <= 2
    assert len(out) == 1 + 7  # 4 artists x 2, the seed counts


def test_radio_static_filters_apply_to_picks_not_seed():
    cat = Catalog.synthetic(400, 16, seed=4)
    rules = Rules(tempo="100-140", year="1990-2010", artist_gap=0)
    seed = int(np.flatnonzero(cat.bpm < 90)[0])
    out = radio(cat, [seed], 15, rules=rules)
    assert out[0] == seed
    for i in out[1:]:
        assert 100 <= cat.bpm[i] <= 140 and 1990 <= cat.year[i] <= 2010


def test_target_minutes_and_sides():
    cat = Catalog.synthetic(300, 16, seed=5)
    out = radio(cat, [0], None, rules=Rules(minutes=30))
    total = sum(cat.duration[i] for i in out) / 60
    assert abs(total - 30) < 4  # closest prefix: within half of a 2-7 min track
    a, b = split_sides(cat, out, 2)
    assert a + b == out
    da, db = (sum(cat.duration[i] for i in s) for s in (a, b))
    assert abs(da - db) <= max(cat.duration[i] for i in out)
    assert fit_to_minutes(cat, out, 1000) == out
    with pytest.raises(UserError):
        split_sides(cat, out, 0)
    assert split_sides(cat, out, 3)[0] + split_sides(cat, out, 3)[1] + split_sides(cat, out, 3)[2] == out
