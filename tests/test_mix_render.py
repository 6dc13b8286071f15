"""Mixes of generated tracks with known beats and loudness, measured on the decoded output."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pyloudnorm
import pytest

from mix_signals import band_envelope, make_track, onsets, read_mix, short_term_rms_db
from segue.listen.loudness import true_peak_dbtp
from segue.mix.cue import parse_cue_starts
from segue.mix.plan import MixOptions
from segue.mix.render import MixTrack, render_mix

# per track: its tones (beat, downbeat, pad), tempo and level
SPECS = [
    {"bpm": 120.0, "beat_hz": 1000.0, "down_hz": 1600.0, "pad_hz": 400.0, "gain_db": -9.0},
    {"bpm": 123.0, "beat_hz": 2500.0, "down_hz": 3600.0, "pad_hz": 520.0, "gain_db": 3.0},
    {"bpm": 150.0, "beat_hz": 5000.0, "down_hz": 6500.0, "pad_hz": 640.0, "gain_db": -3.0},
]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("mix")
    truths = [make_track(folder / f"t{i}.flac", seconds=24.0, lead=1.0 + 0.3 * i, **spec)
              for i, spec in enumerate(SPECS)]  # fmt: skip
    tracks = [MixTrack(str(t.path), f"Song {i}", f"Artist {i}", t.descriptors)
              for i, t in enumerate(truths)]  # fmt: skip
    out = folder / "out" / "mix.flac"
    out.parent.mkdir()
    result = render_mix(tracks, out, MixOptions(fade=6.0), title="Test mix",
                        cover=_png(), progress=False)  # fmt: skip
    audio, rate = read_mix(out)
    return truths, result, audio, rate


def _png() -> bytes:
    from audio_factory import png_bytes

    return png_bytes((10, 120, 200))


def test_duration_is_trimmed_tracks_minus_overlaps(rendered) -> None:
    truths, result, audio, rate = rendered
    total = 0.0
    for truth, placed in zip(truths, result.tracks, strict=True):
        # silence trimmed: the region lies inside the music
        assert truth.lead - 0.01 <= placed.file_start
        assert placed.file_end <= truth.lead + truth.music + 0.01
        total += (placed.file_end - placed.file_start) / placed.speed + placed.tail
    total -= sum(p.transition_in.overlap for p in result.tracks[1:])
    assert audio.shape[1] / rate == pytest.approx(total, abs=0.05)
    assert result.duration == pytest.approx(total, abs=0.05)


def test_transitions_are_what_the_tempos_allow(rendered) -> None:
    _, result, _, _ = rendered
    a_to_b, b_to_c = (p.transition_in for p in result.tracks[1:])
    assert a_to_b.beatmatched and a_to_b.bars >= 2  # 120 vs 123 bpm: 2.5 %, within 4 %
    assert result.tracks[1].speed == pytest.approx(120 / 123, abs=1e-4)
    assert a_to_b.kind == "beatmatch" and a_to_b.bars in (4, 8, 16)
    # 120 vs 150 bpm: out on a phrase end, the last beat echoing for two bars (at 120 bpm)
    assert not b_to_c.beatmatched and b_to_c.kind == "echo"
    assert b_to_c.overlap == pytest.approx(8 * 0.5) and result.tracks[1].tail == b_to_c.overlap


def _solo_spans(result) -> list[tuple[float, float]]:
    spans = []
    for k, p in enumerate(result.tracks):
        start = result.tracks[k - 1].end if k else p.start
        end = result.tracks[k + 1].start if k + 1 < len(result.tracks) else p.end
        spans.append((start, end))
    return spans


def test_each_track_is_at_the_target_loudness_or_says_why(rendered) -> None:
    _, result, audio, rate = rendered
    meter = pyloudnorm.Meter(rate)
    text = result.tracklist.read_text()
    for (start, end), p in zip(_solo_spans(result), result.tracks, strict=True):
        seg = audio[:, int(start * rate) : int(end * rate)].T.astype(np.float64)
        measured = meter.integrated_loudness(seg)
        assert p.lufs == pytest.approx(measured, abs=0.5)  # the tracklist tells the truth
        if abs(p.lufs + 14.0) > 1.0:
            assert p.loudness_note.startswith(f"{p.lufs:.1f} LUFS: ") and p.loudness_note in text
    assert abs(result.tracks[1].lufs + 14.0) <= 1.0 and abs(result.tracks[2].lufs + 14.0) <= 1.0


def test_no_sample_beyond_the_true_peak_limit(rendered) -> None:
    _, result, audio, _ = rendered
    assert true_peak_dbtp(audio) <= -1.0
    assert 20 * math.log10(np.abs(audio).max()) <= -1.0
    assert result.limited_seconds > 0  # the loud track's bursts did need limiting


def test_fades_have_no_gap(rendered) -> None:
    _, result, audio, rate = rendered
    rms = short_term_rms_db(audio, rate)
    times = np.arange(rms.size) * 0.1 + 0.2  # window centres
    for p in result.tracks[1:]:
        in_fade = (times >= p.start) & (times <= p.start + p.transition_in.overlap)
        assert in_fade.sum() > 10
        # -14 LUFS is about -17 dBFS RMS here; a gap would sink far below
        assert rms[in_fade].min() > -24.0


def test_beat_matched_fade_aligns_beats_and_downbeats(rendered) -> None:
    _, result, audio, rate = rendered
    b = result.tracks[1]
    overlap = b.transition_in.overlap
    t0, t1 = b.start + 0.2 * overlap, b.start + 0.8 * overlap  # both tracks clearly audible
    for a_hz, b_hz in ((SPECS[0]["beat_hz"], SPECS[1]["beat_hz"]),
                       (SPECS[0]["down_hz"], SPECS[1]["down_hz"])):  # fmt: skip
        a_on = onsets(band_envelope(audio, rate, a_hz), rate, t0, t1)
        b_on = onsets(band_envelope(audio, rate, b_hz), rate, t0, t1)
        assert len(b_on) >= 2
        for t in b_on:
            assert np.abs(a_on - t).min() <= 0.020


def test_cue_times_match_where_tracks_start(rendered) -> None:
    _, result, audio, rate = rendered
    starts = parse_cue_starts(result.cue.read_text())
    assert len(starts) == 3
    for spec, cue_start, placed in zip(SPECS, starts, result.tracks, strict=True):
        env = band_envelope(audio, rate, spec["pad_hz"] * placed.speed, width=0.03)
        dry_end = placed.end - placed.tail  # before its echo-out, if it has one
        solo = slice(int((dry_end - 4) * rate), int((dry_end - 2) * rate))
        level = np.median(env[solo])
        # the pad reaches -20 dB of its level this long after the track starts: the equal-power
        # fade-in's gain sin(pi/2 u) is 0.1 at u = asin(0.1) * 2 / pi
        fade = placed.transition_in.overlap if placed.transition_in else 0.0
        if placed.transition_in is not None and placed.transition_in.kind == "echo":
            fade = 0.0  # in at full level on the downbeat
        delay = math.asin(0.1) * 2 / math.pi * fade
        look_from = max(0, int((cue_start - 1.0) * rate))  # other tracks' tones leak a little
        first = (look_from + np.flatnonzero(env[look_from:] > level * 0.1)[0]) / rate
        assert abs(first - delay - cue_start) <= 0.06
        assert cue_start == pytest.approx(placed.start, abs=1 / 75)
    assert "0:00  Artist 0 - Song 0" in result.tracklist.read_text()


def test_file_has_chapters_tags_and_cover(rendered) -> None:
    from mutagen.flac import FLAC

    _, result, _, _ = rendered
    with av.open(str(result.output)) as c:
        chapters = c.chapters()
        meta = {k.lower(): v for k, v in c.metadata.items()}  # Vorbis comment names ignore case
        assert meta["title"] == "Test mix"
    assert [ch["metadata"]["title"] for ch in chapters] == [f"Artist {i} - Song {i}" for i in range(3)]
    starts = [ch["start"] * float(ch["time_base"]) for ch in chapters]
    assert starts == pytest.approx([p.start for p in result.tracks], abs=0.002)
    f = FLAC(result.output)
    assert f["artist"] == ["Artist 0", "Artist 1", "Artist 2"]
    assert f.pictures and f.pictures[0].data == _png()


def test_bad_inputs_are_skipped_and_mp3_decodes(tmp_path: Path, capsys) -> None:
    good = make_track(tmp_path / "good.mp3", seconds=8.0, **SPECS[0])
    other = make_track(tmp_path / "other.wav", seconds=8.0, **SPECS[2])
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 40)
    tracks = [MixTrack(str(good.path)),  # no descriptors: analysed on the fly
              MixTrack(str(tmp_path / "missing.flac"), "Missing"),
              MixTrack(str(corrupt), "Corrupt"),
              MixTrack(str(other.path), "Other", "Band", other.descriptors)]  # fmt: skip
    result = render_mix(tracks, tmp_path / "mix.mp3", progress=False)
    err = capsys.readouterr().err
    assert "missing.flac" in err and "corrupt.mp3" in err and "warning" in err
    assert [s.path for s in result.skipped] == [tracks[1].path, tracks[2].path]
    assert [p.path for p in result.tracks] == [tracks[0].path, tracks[3].path]
    audio, rate = read_mix(result.output)
    assert rate == 44100
    assert audio.shape[1] / rate == pytest.approx(result.duration, abs=0.05)
    assert true_peak_dbtp(audio) <= -0.8  # LAME may overshoot a little; the limiter leaves 0.3 dB
    with av.open(str(result.output)) as c:
        assert len(c.chapters()) == 2
    from mutagen.id3 import ID3

    assert ID3(result.output).getall("TPE1")[0].text == ["Band"]


def test_nothing_left_to_mix_is_a_user_error(tmp_path: Path) -> None:
    from segue.errors import UserError

    with pytest.raises(UserError, match="nothing to mix"):
        render_mix([MixTrack(str(tmp_path / "nope.mp3"))], tmp_path / "mix.wav", progress=False)
    assert not list(tmp_path.iterdir())
