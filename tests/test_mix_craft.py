"""Mixes a DJ would sign, measured on the decoded output: loudness without pumping, phrase-long
beat-matched overlaps with a bass swap that leaves no hole, and transitions chosen per pair
where tempos cannot be matched."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from scipy import signal

from mix_signals import band_envelope, make_sections, onsets, read_mix
from segue.mix.plan import MixOptions
from segue.mix.render import MixTrack, render_mix

FULL = {"beat": 1.0, "down": 1.0, "pad": 1.0, "bass": 1.0}


def _render(folder: Path, truths, options: MixOptions, name: str = "mix.flac"):
    tracks = [MixTrack(str(t.path), f"Song {i}", f"Artist {i}", t.descriptors)
              for i, t in enumerate(truths)]  # fmt: skip
    out = folder / name
    result = render_mix(tracks, out, options, progress=False)
    audio, rate = read_mix(out)
    return result, audio, rate


def _level_db(x: np.ndarray, rate: int, hz: float | None, t0: float, t1: float,
              win: float = 0.01) -> np.ndarray:  # fmt: skip
    """RMS (dB) of the band around ``hz`` (below 150 Hz when None) in ``win``-second windows
    over [t0, t1)."""
    if hz is None:
        sos = signal.butter(4, 150.0, "lowpass", fs=rate, output="sos")
    else:
        sos = signal.butter(4, [hz * 0.95, hz * 1.05], "bandpass", fs=rate, output="sos")
    y = signal.sosfiltfilt(sos, x.mean(axis=0).astype(np.float64))[int(t0 * rate) : int(t1 * rate)]
    w = int(win * rate)
    m = (y.size // w) * w
    return 10 * np.log10((y[:m].reshape(-1, w) ** 2).mean(axis=1) + 1e-20)


def _lufs(x: np.ndarray, rate: int, t0: float, t1: float) -> float:
    seg = x[:, int(t0 * rate) : int(t1 * rate)].T.astype(np.float64)
    return pyloudnorm.Meter(rate, block_size=0.4).integrated_loudness(seg)


# --- loudness -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def peaky(tmp_path_factory: pytest.TempPathFactory):
    """The issue's case: a kick-driven track at about -17 LUFS whose peaks reach +0.5 dBTP."""
    folder = tmp_path_factory.mktemp("peaky")
    layers = {"kick": 1.0, "pad": 0.5, "beat": 0.15}
    probe = make_sections(folder / "probe.flac", bpm=126.0, sections=[(16, layers)],
                          beat_hz=3000.0, down_hz=4000.0, pad_hz=400.0)  # fmt: skip
    scale = 10 ** ((0.5 - probe.descriptors["true_peak_dbtp"]) / 20)
    truth = make_sections(folder / "peaky.flac", bpm=126.0, sections=[(16, layers)],
                          beat_hz=3000.0, down_hz=4000.0, pad_hz=400.0, scale=scale)  # fmt: skip
    d = truth.descriptors
    assert d["true_peak_dbtp"] == pytest.approx(0.5, abs=0.2)
    assert -14.0 - d["loudness_lufs"] + d["true_peak_dbtp"] + 1.0 > 4.0  # > 4 dB of limiting
    result, audio, rate = _render(folder, [truth], MixOptions(), "peaky.flac")
    return truth, result, audio, rate


def test_gain_is_capped_by_headroom_and_the_tracklist_says_so(peaky) -> None:
    truth, result, audio, rate = peaky
    p = result.tracks[0]
    room = -1.0 + 3.0 - truth.descriptors["true_peak_dbtp"]  # ceiling + allowed limiting - peak
    assert p.gain_db == pytest.approx(room, abs=0.01)
    measured = _lufs(audio, rate, p.start, p.end)
    assert p.lufs == pytest.approx(measured, abs=0.3)  # the report is what a meter reads
    assert measured < -15.0  # off the target by more than 1 LU...
    assert "capped by headroom" in p.loudness_note  # ...and the tracklist says why
    text = result.tracklist.read_text()
    assert f"{p.lufs:.1f} LUFS: capped by headroom (peaks at +0.5 dBTP" in text


def test_gain_reduction_is_reported_and_small(peaky) -> None:
    _, result, _, _ = peaky
    stats = result.limiter
    assert stats.windows > 1000
    assert stats.share_over_1db < 0.05  # the track: 56 % of 10-ms windows
    assert stats.max_db <= 3.5
    assert "limiter" in result.tracklist.read_text()
    js = result.to_json()
    assert set(js["limiter"]) == {"share_over_1db", "mean_db", "max_db"}
    assert js["tracks"][0]["limiter"]["max_db"] == pytest.approx(stats.max_db, abs=0.01)


def test_the_pad_does_not_pump_under_the_kick(peaky) -> None:
    """A steady pad under a kick that hits the ceiling keeps its level (a full-band limiter
    with fast release ducks it on every beat)."""
    _, result, audio, rate = peaky
    p = result.tracks[0]
    pad = _level_db(audio, rate, 400.0, p.start + 2.0, p.end - 2.0)
    assert np.percentile(pad, 95) - np.percentile(pad, 5) < 1.0


# --- beat-matched overlaps ------------------------------------------------------------------


@pytest.fixture(scope="module")
def phrased(tmp_path_factory: pytest.TempPathFactory):
    """A: 8-bar phrases that alternate full and light, cut 7 bars into its last phrase.
    B: 8 bars of drums only, then its bass and pad come in."""
    folder = tmp_path_factory.mktemp("phrased")
    light = {"beat": 1.0, "down": 1.0, "bass": 1.0, "hat": 1.0}
    a = make_sections(folder / "a.flac", bpm=124.0, beat_hz=1000.0, down_hz=1600.0, pad_hz=400.0,
                      bass_hz=55.0, sections=[(8, FULL), (8, light), (8, FULL), (8, light),
                                              (8, FULL), (7, light)])  # fmt: skip
    drums = {"beat": 1.0, "down": 1.0, "hat": 1.0}
    b = make_sections(folder / "b.flac", bpm=122.0, beat_hz=2500.0, down_hz=3600.0, pad_hz=520.0,
                      bass_hz=82.0, lead=1.7,
                      sections=[(8, drums), (40, {**FULL, "hat": 1.0})])  # fmt: skip
    result, audio, rate = _render(folder, [a, b], MixOptions(fade=10.0))
    return a, b, result, audio, rate


def test_overlap_is_a_phrase_from_a_phrase_start(phrased) -> None:
    a, b, result, _, _ = phrased
    t = result.tracks[1].transition_in
    assert t.kind == "beatmatch" and t.beatmatched
    assert t.bars in (4, 8, 16)
    bar_a = 240.0 / 124.0
    pa = result.tracks[0]
    overlap_start_in_a = pa.file_end - t.overlap * pa.speed
    phrase_starts = [s for s, _, _ in a.descriptors["sections"]]
    assert min(abs(overlap_start_in_a - s) for s in phrase_starts) < 0.01
    assert t.overlap == pytest.approx(t.bars * bar_a, abs=0.01)
    # the incoming track starts on its first downbeat: its own phrase start
    assert result.tracks[1].file_start == pytest.approx(b.descriptors["downbeats"][0], abs=0.01)
    assert "bar" in result.tracklist.read_text()


def test_bass_swaps_where_the_incoming_bass_enters_without_a_hole(phrased) -> None:
    a, b, result, audio, rate = phrased
    pb = result.tracks[1]
    t = pb.transition_in
    b_bass_in = b.descriptors["sections"][1][0]  # file time where B's bass comes in
    swap_at = pb.start + t.swap
    assert swap_at == pytest.approx(pb.start + (b_bass_in - pb.file_start) / pb.speed, abs=0.02)
    assert "where its bass comes in" in t.reason
    # below 150 Hz the mix never falls away from the outgoing or the incoming track's bass
    # level (the hole: -13 to -31 dB for a second); a limiter's brief dip is no hole
    low = _level_db(audio, rate, None, pb.start - 3.0, pb.start + t.overlap + 3.0, win=0.1)
    floor = min(np.median(low[:30]), np.median(low[-30:]))
    assert low.min() > floor - 6.0, (low.min(), floor)
    under = np.convolve(low < floor - 3.0, np.ones(3), mode="valid")
    assert under.max() < 3  # never 0.3 s on end more than 3 dB under
    # A's bass plays up to the swap and B's from it: not both at once, never neither
    a_bass = _level_db(audio, rate, 55.0, swap_at - 1.0, swap_at + 1.0, win=0.05)
    b_bass = _level_db(audio, rate, 82.0 * pb.speed, swap_at - 1.0, swap_at + 1.0, win=0.05)
    assert np.median(a_bass[:15]) > np.median(b_bass[:15]) + 15
    assert np.median(b_bass[-15:]) > np.median(a_bass[-15:]) + 15


def test_no_loudness_dip_at_the_end_of_the_overlap(phrased) -> None:
    _, _, result, audio, rate = phrased
    pb = result.tracks[1]
    end = pb.start + pb.transition_in.overlap
    last = _lufs(audio, rate, end - 3.0, end)
    before = _lufs(audio, rate, pb.start - 3.0, pb.start)
    assert last > before - 1.0, (last, before)


# --- transitions for tracks that cannot be beat-matched -------------------------------------


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory):
    """Four tracks no two of which beat-match, as in most journeys:
    T0 120 bpm ends with a 4-bar breakdown and a drop; T1 150 bpm starts at full level and ends
    with a quiet 8-bar outro; T2 100 bpm plays full to its end; T3 a beatless pad."""
    folder = tmp_path_factory.mktemp("journey")
    t0 = make_sections(folder / "t0.flac", bpm=120.0, beat_hz=1000.0, down_hz=1600.0,
                       pad_hz=400.0, sections=[(16, FULL), (4, {"pad": 0.3}), (8, FULL)])  # fmt: skip
    t1 = make_sections(folder / "t1.flac", bpm=150.0, beat_hz=2500.0, down_hz=3600.0,
                       pad_hz=640.0, bass_hz=70.0,
                       sections=[(24, FULL), (8, {"pad": 0.2})])  # fmt: skip
    t2 = make_sections(folder / "t2.flac", bpm=100.0, beat_hz=5000.0, down_hz=6500.0,
                       pad_hz=300.0, bass_hz=62.0, sections=[(20, FULL)])  # fmt: skip
    t3 = make_sections(folder / "t3.flac", bpm=90.0, beat_hz=1200.0, down_hz=1300.0,
                       pad_hz=700.0, confidence=0.0, sections=[(12, {"pad": 1.0})])  # fmt: skip
    truths = [t0, t1, t2, t3]
    result, audio, rate = _render(folder, truths, MixOptions())
    return truths, result, audio, rate


def test_each_pair_gets_its_own_kind_of_transition(journey) -> None:
    _, result, _, _ = journey
    kinds = [p.transition_in.kind for p in result.tracks[1:]]
    assert kinds == ["cut", "filter", "echo"]
    assert not any(p.transition_in.beatmatched for p in result.tracks[1:])
    text = result.tracklist.read_text()
    for words in ("in: cut, on the downbeat: tempos 120 and 150 bpm too far apart",
                  "breakdown", "in: filtered blend, ", "over its quiet outro",
                  "in: echo out, 4.8 s: ", "phrase end"):  # fmt: skip
        assert words in text, words


def test_cut_lands_on_the_downbeat_after_the_breakdown(journey) -> None:
    truths, result, audio, rate = journey
    drop = truths[0].descriptors["sections"][2][0]  # where T0's drop would have come
    p0, p1 = result.tracks[0], result.tracks[1]
    assert p0.file_end == pytest.approx(drop, abs=0.01)  # T0's drop never plays
    cut = p1.start
    t1_beats = onsets(band_envelope(audio, rate, 2500.0), rate, cut - 2.0, cut + 2.0)
    assert t1_beats[0] == pytest.approx(cut, abs=0.02)  # T1's first beat on the cut
    t0_env = band_envelope(audio, rate, 1000.0)
    before = t0_env[int((cut - 9.0) * rate) : int((cut - 8.0) * rate)].max()  # T0 at full
    after = t0_env[int((cut + 0.05) * rate) : int((cut + 2.0) * rate)].max()
    assert after < 0.05 * before  # nothing of T0 after the cut


def test_filtered_blend_runs_over_the_quiet_outro(journey) -> None:
    truths, result, audio, rate = journey
    p1, p2 = result.tracks[1], result.tracks[2]
    t = p2.transition_in
    quiet_from = truths[1].descriptors["sections"][1][0]
    assert p1.file_end == pytest.approx(truths[1].descriptors["music_end"], abs=0.01)
    assert 6.0 <= t.overlap <= 20.0
    assert p1.file_end - t.overlap * p1.speed == pytest.approx(quiet_from, abs=1.0)
    # the incoming track opens through a low-pass: halfway, its highs are far further below
    # their full level than its lows are
    mid, full = p2.start + t.overlap / 2, p2.start + t.overlap + 2.0

    def peak_db(hz: float, at: float) -> float:
        env = band_envelope(audio, rate, hz)
        return 20 * math.log10(env[int((at - 0.6) * rate) : int((at + 0.6) * rate)].max())

    lows = peak_db(300.0, mid) - peak_db(300.0, full)
    highs = peak_db(5000.0, mid) - peak_db(5000.0, full)
    assert lows - highs > 6.0, (lows, highs)


def test_echo_out_repeats_the_last_beat_as_it_dies_away(journey) -> None:
    _, result, audio, rate = journey
    p2, p3 = result.tracks[2], result.tracks[3]
    dry_end = p2.end - p2.tail
    assert p3.start == pytest.approx(dry_end, abs=0.01)  # the next track comes in on the cut
    beat = 60.0 / 100.0
    assert p3.transition_in.echo_delay == pytest.approx(beat)
    env = band_envelope(audio, rate, 5000.0, width=0.04)
    peaks = [env[int((dry_end + r * beat - 0.03) * rate) : int((dry_end + r * beat + 0.06) * rate)].max()
             for r in range(-1, 4)]  # fmt: skip
    assert peaks[1] / peaks[0] == pytest.approx(0.5, rel=0.3)  # -6 dB per repeat
    for r in range(1, 4):
        assert peaks[r + 1] / peaks[r] == pytest.approx(0.5, rel=0.3)
    # the beatless pad comes in at full level on the cut
    pad = band_envelope(audio, rate, 700.0, width=0.03)
    assert pad[int((dry_end + 0.1) * rate)] > 0.7 * pad[int((dry_end + 5.0) * rate)]
