"""The encoder in every format, interrupted renders, bounded memory, and `segue mix` itself."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import av
import numpy as np
import pytest

from mix_signals import make_track, read_mix
from segue.audio.encode import AudioWriter, Chapter, Tags
from segue.mix.plan import MixOptions
from segue.mix.render import MixTrack, render_mix

from audio_factory import png_bytes, tag_file
from conftest import REPO, run_cli

SPEC = {"bpm": 120.0, "beat_hz": 1000.0, "down_hz": 1600.0, "pad_hz": 400.0}


@pytest.mark.parametrize("ext", [".mp3", ".ogg", ".opus", ".flac", ".wav"])
def test_writer_every_format(tmp_path: Path, ext: str) -> None:
    cover = png_bytes((200, 10, 10))
    path = tmp_path / f"out{ext}"
    tags = Tags(title="Night mix", album="Night mix", artists=["Ann", "Bob"], cover=cover)
    chapters = [Chapter(0.0, 1.5, "Ann - One"), Chapter(1.5, 3.0, "Bob - Two")]
    with AudioWriter(path, tags=tags, chapters=chapters) as w:
        t = np.arange(3 * w.rate) / w.rate
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for i in range(0, tone.size, 10_000):  # blocks of any size
            w.write(np.stack([tone[i : i + 10_000]] * 2))
        w.finish()
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    audio, rate = read_mix(path)
    assert rate == (48000 if ext == ".opus" else 44100)
    assert audio.shape[1] / rate == pytest.approx(3.0, abs=0.03)
    with av.open(str(path)) as c:
        got = [(round(ch["start"] * float(ch["time_base"]), 2), ch["metadata"].get("title"))
               for ch in c.chapters()]  # fmt: skip
    if ext == ".wav":
        assert got == []  # RIFF WAVE: no chapters
    else:
        assert got == [(0.0, "Ann - One"), (1.5, "Bob - Two")]
    import mutagen

    f = mutagen.File(path)
    if ext in (".mp3", ".wav"):
        assert f.tags.getall("TPE1")[0].text == ["Ann", "Bob"]
        assert f.tags.getall("APIC")[0].data == cover
    elif ext == ".flac":
        assert f["artist"] == ["Ann", "Bob"] and f.pictures[0].data == cover
    else:
        assert f["artist"] == ["Ann", "Bob"] and f["metadata_block_picture"]


def test_writer_encodes_on_its_own_thread(tmp_path: Path) -> None:
    """LAME runs beside the caller: the caller's thread spends a small share of the CPU the
    encoding costs (on the old, serial writer it spent all of it)."""
    rng = np.random.default_rng(1)
    noise = (0.2 * rng.standard_normal((2, 44100))).astype(np.float32)
    cpu0, own0 = time.process_time(), time.thread_time()
    with AudioWriter(tmp_path / "mix.mp3") as w:
        for _ in range(40):  # 40 s of noise: LAME has real work to do
            w.write(noise)
        w.finish()
    process, own = time.process_time() - cpu0, time.thread_time() - own0
    assert process > 0.2, process  # the encoding did cost something measurable
    assert own < 0.35 * process, (own, process)
    audio, rate = read_mix(tmp_path / "mix.mp3")
    assert audio.shape[1] / rate == pytest.approx(40.0, abs=0.05)


def test_writer_encoder_failure_reaches_the_caller(tmp_path: Path) -> None:
    """An error on the encoder thread is raised to the caller; no file is left."""
    with pytest.raises(ValueError), AudioWriter(tmp_path / "mix.flac") as w:  # noqa: PT012
        w.write(np.zeros((2, 44100), np.float32))
        w.write(np.zeros((3, 44100), np.float32))  # three channels into a stereo encoder
        for _ in range(50):  # the failure surfaces at the latest when the queue is full
            w.write(np.zeros((2, 44100), np.float32))
        w.finish()
    assert list(tmp_path.iterdir()) == []
    assert not [t for t in threading.enumerate() if t.name == "segue-encoder"]


def test_writer_exception_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), AudioWriter(tmp_path / "mix.mp3") as w:
        w.write(np.zeros((2, 44100), np.float32))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def long_tracks(tmp_path_factory: pytest.TempPathFactory) -> list[MixTrack]:
    folder = tmp_path_factory.mktemp("long")
    truth = make_track(folder / "a.wav", seconds=60.0, **SPEC)
    # the same file eight times: an eight-minute mix (85 MB as float32 if it were held whole)
    return [MixTrack(str(truth.path), f"Take {i}", "Loop", truth.descriptors) for i in range(8)]


def test_memory_stays_bounded(tmp_path: Path, long_tracks: list[MixTrack]) -> None:
    tracemalloc.start()
    try:
        result = render_mix(long_tracks, tmp_path / "mix.wav", MixOptions(fade=4.0), progress=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.duration > 360  # phrase-long overlaps: 8 x 60 s less 7 of them
    assert peak < 30e6, f"peak traced memory {peak / 1e6:.0f} MB"


def test_ctrl_c_leaves_no_output(tmp_path: Path, long_tracks: list[MixTrack]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = (
        "import json, sys\n"
        "from segue.mix.render import MixTrack, render_mix\n"
        "tracks = [MixTrack(**t) for t in json.loads(sys.argv[1])]\n"
        "render_mix(tracks * 4, sys.argv[2], progress=False)\n"
    )
    payload = json.dumps([t.__dict__ for t in long_tracks])
    proc = subprocess.Popen(
        [sys.executable, "-c", script, payload, str(out / "mix.flac")],
        env={"PYTHONPATH": str(REPO / "src")}, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(out.glob(".mix.*.part.flac")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    time.sleep(0.3)  # well into the render
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert list(out.iterdir()) == []


def test_segue_mix_command(tmp_path: Path) -> None:
    music = tmp_path / "music"
    a = make_track(music / "a.ogg", seconds=10.0, **SPEC)
    b = make_track(music / "b.flac", seconds=10.0,
                   **{**SPEC, "beat_hz": 2500.0, "down_hz": 3600.0, "pad_hz": 520.0})  # fmt: skip
    tag_file(a.path, cover=png_bytes((1, 2, 3)), title="Alpha", artist="Ann")
    tag_file(b.path, title="Beta", artist="Bob")
    playlist = tmp_path / "set.m3u"
    playlist.write_text(f"#EXTM3U\nmusic/a.ogg\nmusic/missing.mp3\n{b.path}\n")
    out = tmp_path / "mix.opus"
    proc = run_cli("--db", str(tmp_path / "db.sqlite"), "mix", str(playlist), "-o", str(out),
                   "--fade", "4", "--json")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert [t["title"] for t in report["tracks"]] == ["Alpha", "Beta"]
    assert report["skipped"][0]["path"].endswith("missing.mp3")
    assert "missing.mp3" in proc.stderr
    audio, rate = read_mix(out)
    assert rate == 48000 and audio.shape[1] / rate == pytest.approx(report["duration"], abs=0.05)
    assert (tmp_path / "mix.cue").read_text().count("TRACK") == 2
    import mutagen

    assert mutagen.File(out)["metadata_block_picture"]  # the first track's cover
    bad = run_cli("--db", str(tmp_path / "db.sqlite"), "mix", str(playlist), "-o",
                  str(tmp_path / "mix.aac"))  # fmt: skip
    assert bad.returncode == 1 and "must be one of" in bad.stderr
