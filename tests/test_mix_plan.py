"""The mix planner on synthetic facts: trims, transition placement, beat-matching, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from segue.mix.plan import MixOptions, TrackFacts, plan_mix


def facts(seconds: float = 120.0, bpm: float = 120.0, conf: float = 0.9, lead: float = 0.5,
          first_downbeat: float = 0.0, outro_fall: float = 0.0, intro_build: float = 0.0,
          loudness: float = -10.0) -> TrackFacts:  # fmt: skip
    """A track of ``seconds`` music after ``lead`` s of silence; steady energy unless the outro
    falls over its last ``outro_fall`` s or the intro builds over its first ``intro_build`` s."""
    start, end = lead, lead + seconds
    bar = 240.0 / bpm
    downbeats = list(np.arange(start + first_downbeat, end - 0.01, bar))
    outro = np.full(60, -12.0)
    if outro_fall:
        k = int(outro_fall * 2)
        outro[-k:] = np.linspace(-12.0, -60.0, k)
    intro = np.full(60, -12.0)
    if intro_build:
        k = int(intro_build * 2)
        intro[:k] = np.linspace(-50.0, -12.0, k)
    return TrackFacts(duration=end + 1.0, music_start=start, music_end=end, bpm=bpm,
                      bpm_confidence=conf, downbeats=[float(t) for t in downbeats],
                      loudness_lufs=loudness, intro_energy=list(intro),
                      outro_energy=list(outro))  # fmt: skip


def mix_time(seg, file_time: float) -> float:
    return seg.mix_start + (file_time - seg.start) / seg.speed


def test_trims_silence_and_gains_to_target() -> None:
    plan = plan_mix([facts(lead=2.0, loudness=-20.0), facts(lead=0.0, loudness=-8.0)],
                    MixOptions(target_lufs=-14.0))  # fmt: skip
    a, b = plan.segments
    assert a.start == pytest.approx(2.0) and a.gain_db == pytest.approx(6.0)
    assert b.gain_db == pytest.approx(-6.0)
    assert b.end == pytest.approx(120.0)  # played to the end of its music, not the file
    overlap = plan.transitions[0].overlap
    assert plan.duration == pytest.approx(a.length + b.length - overlap)


def test_fade_end_follows_the_outro_energy() -> None:
    # the outgoing track's last 12 s fall away: the transition ends where it has fallen 10 dB
    plan = plan_mix([facts(outro_fall=12.0), facts()], MixOptions(beatmatch=False))
    a = plan.segments[0]
    music_end = 120.5
    fall_start = music_end - 12.0
    assert fall_start < a.end < music_end - 8.0  # ~2.5 s into the fall (-10 dB of -48 over 12 s)
    steady = plan_mix([facts(), facts()], MixOptions(beatmatch=False)).segments[0]
    assert steady.end == pytest.approx(music_end)


def test_slow_intro_build_lengthens_the_overlap() -> None:
    quick = plan_mix([facts(), facts()], MixOptions(fade=6.0, beatmatch=False))
    slow = plan_mix([facts(), facts(intro_build=10.0)], MixOptions(fade=6.0, beatmatch=False))
    assert slow.transitions[0].overlap > quick.transitions[0].overlap + 1.5
    assert slow.transitions[0].overlap <= 12.0


def test_beatmatched_transition_aligns_downbeats() -> None:
    a_f, b_f = facts(bpm=124.0, first_downbeat=0.3), facts(bpm=121.0, lead=1.7, first_downbeat=0.9)
    plan = plan_mix([a_f, b_f], MixOptions(fade=8.0))
    t = plan.transitions[0]
    a, b = plan.segments
    assert t.beatmatched and t.bars >= 2
    assert b.speed == pytest.approx(124.0 / 121.0)
    assert b.start == pytest.approx(b_f.downbeats[0])  # the incoming track starts on a downbeat
    assert a.end in a_f.downbeats  # the outgoing track ends on a downbeat
    # every incoming downbeat in the overlap lands on an outgoing downbeat
    in_times = [mix_time(b, d) for d in b_f.downbeats if mix_time(b, d) < a.mix_end - 1e-6]
    out_times = [mix_time(a, d) for d in a_f.downbeats]
    assert len(in_times) == t.bars
    for m in in_times:
        assert min(abs(m - o) for o in out_times) < 1e-6
    assert t.overlap == pytest.approx(t.bars * 240.0 / 124.0)


@pytest.mark.parametrize(
    ("a", "b", "options", "kind", "why"),
    [
        # the outgoing beat is sure: out on a phrase end with two bars of echo (2 s bars)
        (facts(bpm=120.0), facts(bpm=135.0), MixOptions(), "echo", "tempos 120 and 135 bpm"),
        (facts(bpm=120.0), facts(bpm=122.4), MixOptions(max_stretch=0.0), "echo", "too far"),
        # nothing sure to place an echo on: a shorter equal-power fade
        (facts(conf=0.1), facts(), MixOptions(), "blend", "beats too unsure"),
        (facts(), facts(bpm=135.0), MixOptions(effects=False), "blend", "135 bpm"),
    ],
)
def test_tracks_that_cannot_beat_match(a, b, options, kind, why) -> None:
    plan = plan_mix([a, b], options)
    t = plan.transitions[0]
    assert not t.beatmatched and t.kind == kind and why in t.reason
    assert plan.segments[1].speed == 1.0
    if kind == "echo":
        assert t.overlap == pytest.approx(8 * 0.5) == plan.segments[0].tail
        assert t.echo_delay == pytest.approx(0.5)
        assert plan.segments[0].end in a.downbeats  # the echo starts on a downbeat
    else:
        assert t.overlap == pytest.approx(options.fade / 2)


def test_half_time_is_beat_matched_on_every_other_downbeat() -> None:
    a_f, b_f = facts(bpm=140.0), facts(bpm=71.0, seconds=200.0)
    plan = plan_mix([a_f, b_f], MixOptions())
    t, (a, b) = plan.transitions[0], plan.segments
    assert t.beatmatched and "half time" in t.reason
    assert b.speed == pytest.approx(70.0 / 71.0)
    in_times = [mix_time(b, d) for d in b_f.downbeats if mix_time(b, d) < a.mix_end - 1e-6]
    out_times = [mix_time(a, d) for d in a_f.downbeats]
    for m in in_times:
        assert min(abs(m - o) for o in out_times) < 1e-6
    assert len(in_times) == t.bars // 2  # one of its bars to two of the outgoing track's
    assert not plan_mix([a_f, b_f], MixOptions(half_double=False)).transitions[0].beatmatched


def test_gain_is_capped_by_headroom() -> None:
    loud = facts(loudness=-17.1)
    loud.true_peak_dbtp = 0.5
    quiet = facts(loudness=-20.0)
    quiet.true_peak_dbtp = -9.0
    plan = plan_mix([loud, quiet], MixOptions(target_lufs=-14.0, true_peak_db=-1.0))
    a, b = plan.segments
    assert a.gain_db == pytest.approx(-1.0 + 3.0 - 0.5)  # not +3.1: 4.6 dB of limiting
    assert a.planned_lufs == pytest.approx(-17.1 + 1.5)
    assert a.gain_note.startswith("capped by headroom (peaks at +0.5 dBTP")
    assert b.gain_db == pytest.approx(6.0) and b.gain_note == ""  # room enough
    more = plan_mix([loud], MixOptions(max_limiting_db=6.0)).segments[0]
    assert more.gain_db == pytest.approx(3.1) and more.gain_note == ""


def test_beatless_tracks_get_the_full_fade() -> None:
    plan = plan_mix([facts(conf=0.0), facts(conf=0.05)], MixOptions(fade=7.0))
    assert not plan.transitions[0].beatmatched
    assert plan.transitions[0].overlap == pytest.approx(7.0)


def test_short_tracks_never_have_three_sounding_at_once() -> None:
    tracks = [facts(seconds=9.0), facts(seconds=6.0), facts(seconds=9.0), facts(seconds=30.0)]
    plan = plan_mix(tracks, MixOptions(fade=8.0))
    segs = plan.segments
    for k in range(1, len(segs) - 1):
        # the next track starts only after the previous one has ended
        assert segs[k + 1].mix_start >= segs[k - 1].mix_end
        fades = plan.transitions[k - 1].overlap + plan.transitions[k].overlap
        assert fades < segs[k].length


def test_tracks_without_music_are_left_out() -> None:
    silent = TrackFacts(duration=10.0)  # no bounds: music_end falls back to the duration...
    silent.music_start, silent.music_end = 5.0, 5.5  # ...but here half a second of music
    plan = plan_mix([facts(), silent, facts()])
    assert [s.index for s in plan.segments] == [0, 2]


def test_rare_peaks_get_more_headroom() -> None:
    """One loud hit in a track is limited hard rather than the whole track held down; a track
    that comes near its peak all the time keeps the plain cap."""
    from segue.mix.edges import EdgeProfile

    def peaky(rare: bool) -> TrackFacts:
        f = facts(loudness=-18.6)
        f.true_peak_dbtp = 0.4
        n = int((f.duration + 1) / 0.05)
        peaks = np.full(n, -6.0 if rare else 0.2)
        peaks[::200] = 0.4  # a hit every 10 s
        f.edges = EdgeProfile(np.full(n, -20.0), np.full(n, -30.0), peaks)
        return f

    rare = plan_mix([peaky(True)], MixOptions()).segments[0]
    dense = plan_mix([peaky(False)], MixOptions()).segments[0]
    assert dense.gain_db == pytest.approx(-1.0 + 3.0 - 0.4)  # 3 dB at the loudest peak
    assert rare.gain_db == pytest.approx(4.6)  # all it wants: 5.0 dB at the few hits
    assert rare.gain_note == "" and "capped by headroom" in dense.gain_note
