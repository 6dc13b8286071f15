"""Decoding real files: windows, rates, channel handling and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segue.audio.decode import decode, read_audio
from segue.errors import DecodeError

from audio_factory import music_like, write_audio


def test_window_decode_matches_the_same_span_of_a_full_decode(tmp_path: Path) -> None:
    wav = write_audio(tmp_path / "a.wav", seconds=20, seed=3)
    full = decode(wav, 16000)
    window = decode(wav, 16000, start=12.5, duration=4.0)
    assert window.shape == (64000,)
    start = int(12.5 * 16000)
    # The resampler's filter state differs at the window's first samples only.
    np.testing.assert_allclose(window[100:], full[start + 100 : start + 64000], atol=2e-3)


def test_one_pass_gives_every_requested_rate_and_the_payload_hash(tmp_path: Path) -> None:
    flac = write_audio(tmp_path / "a.flac", seconds=5, seed=4)
    info, audio = read_audio(flac, decode_rates=(22050, 16000))
    assert set(audio) == {22050, 16000}
    assert audio[22050].shape == (2, 5 * 22050) and audio[16000].shape == (2, 5 * 16000)
    assert info.duration == pytest.approx(5.0, abs=1e-3)
    assert info.payload_hash == read_audio(flac)[0].payload_hash


def test_mono_is_the_channel_mean_not_ffmpegs_louder_downmix(tmp_path: Path) -> None:
    signal = music_like(3, 44100, seed=5)
    signal[1] = 0.0  # right channel silent: the mean halves the left channel
    wav = write_audio(tmp_path / "a.wav", signal=signal)
    mono = decode(wav, 44100)
    left = decode(wav, 44100, mono=False)[0]
    np.testing.assert_allclose(mono, left / 2, atol=1e-4)


@pytest.mark.parametrize(
    "content,reason",
    [(b"", "empty file"), (b"hello world, plain text\n" * 40, "content looks like text")],
)
def test_bad_input_raises_one_clear_error(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(content)
    with pytest.raises(DecodeError, match=reason):
        read_audio(bad)
