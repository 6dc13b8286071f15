"""Audio outside the library is heard over a bounded window from its middle (issue 13 item 5):
a 10-hour upload costs what a 3-minute one does, in memory and time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO

#: What an outside analysis may use at most, models included (the stated bound).
RSS_CEILING_MB = 1500


def write_wav8(path: Path, seconds: float, loud: tuple[float, float] | None = None, rate: int = 8000) -> Path:
    """8-bit mono WAV (a cheap way to a very long file): noise where ``loud`` (start, end)
    says, silence elsewhere; noise throughout when ``loud`` is None."""
    rng = np.random.default_rng(0)
    block = (128 + rng.integers(-60, 60, rate * 60)).astype(np.uint8)  # a minute of noise
    silent = np.full(rate * 60, 128, dtype=np.uint8)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        t = 0.0
        while t < seconds:
            n = int(min(60.0, seconds - t) * rate)
            on = loud is None or (loud[0] <= t < loud[1])
            w.writeframes((block if on else silent)[:n].tobytes())
            t += 60.0
    return path


def test_the_window_is_the_middle(tmp_path: Path) -> None:
    from segue.errors import DecodeError
    from segue.listen.pipeline import OUTSIDE_WINDOW_SECONDS, outside_audio, prepare_audio

    # 12 minutes, silent but for the middle three: only a window from the middle hears music
    path = write_wav8(tmp_path / "long.wav", 720, loud=(240, 480))
    audio = outside_audio(str(path))[16000]
    assert audio.shape[1] == int(OUTSIDE_WINDOW_SECONDS * 16000)
    prepare_audio({16000: audio}, descriptors=False)  # not silent
    short = write_wav8(tmp_path / "short.wav", 60)
    assert outside_audio(str(short))[16000].shape[1] == 60 * 16000  # shorter: all of it
    quiet = write_wav8(tmp_path / "quiet.wav", 720, loud=(0, 60))  # music only at the start
    with pytest.raises(DecodeError, match="silent"):
        prepare_audio(outside_audio(str(quiet)), descriptors=False)


def test_a_ten_hour_file_stays_under_the_memory_ceiling(tmp_path: Path) -> None:
    from segue.listen.weights import MUSICNN_MODELS, load_musicnn_weights

    for name in MUSICNN_MODELS:  # fetched and converted once, here: the child only analyses
        load_musicnn_weights(name)
    path = write_wav8(tmp_path / "ten-hours.wav", 10 * 3600)  # 288 MB on disk
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across (v)fork + exec,
    # so under a full pytest run the child "peaked" at the pytest process's 2 GB before it began.
    script = (
        "import json, sys\n"
        "from segue.listen.pipeline import analyse_file\n"
        "v = analyse_file(sys.argv[1])['track']\n"
        "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
        "print(json.dumps({'dims': len(v), 'rss_mb': hwm / 1024}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["dims"] == 200
    assert got["rss_mb"] < RSS_CEILING_MB, (got, done.stderr[-3000:])
