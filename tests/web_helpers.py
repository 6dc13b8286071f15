"""One small analysed library for the web tests (API and browser), built once per process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from segue import open_library

from audio_factory import png_bytes, tag_file, write_audio
from conftest import build_library

XSS_TITLE = "<img src=x onerror=alert(1)>"
_BUILT: dict[str, tuple[Path, Path]] = {}


def fresh_art_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``SEGUE_ART_CACHE`` at an empty folder under ``tmp_path`` (never the user's
    ~/.cache/segue/art), so the map's t-SNE layout is really computed in the test."""
    folder = tmp_path / "art-cache"
    monkeypatch.setenv("SEGUE_ART_CACHE", str(folder))
    return folder


def analysed_library(root: Path) -> tuple[Path, Path]:
    """(music folder, database) of a scanned, analysed library under ``root`` (cached)."""
    if "lib" in _BUILT:
        return _BUILT["lib"]
    music = root / "music"
    build_library(music, seconds=8.0)
    # more tracks so a radio has somewhere to go, one with a hostile title, two artists each
    for i in range(6):
        path = write_audio(music / f"Extra/extra {i}.mp3", seconds=8.0, seed=20 + i)
        tag_file(path, title=f"Extra Song {i}", artist=f"Extra Band {i % 3}", album="Extras",
                 cover=png_bytes((40 * i, 100, 200)) if i % 2 == 0 else None)  # fmt: skip
    xss = write_audio(music / "Hostile/xss.mp3", seconds=8.0, seed=40)
    tag_file(xss, title=XSS_TITLE, artist="<b>bold</b> & co", album="<script>x</script>")
    db = root / "web.db"
    with open_library(db) as lib:
        lib.scan([music], progress=False, workers=1)
    _BUILT["lib"] = (music, db)
    return music, db


def wav_of(path: Path, out: Path, seconds: float = 6.0) -> Path:
    """A 16-bit WAV copy of an audio file (first ``seconds``), e.g. for the fake microphone."""
    from segue.audio.decode import decode

    audio = decode(str(path), 44100, mono=False)
    audio = np.asarray(audio, dtype=np.float32)[:, : int(seconds * 44100)]
    if audio.shape[0] == 1:
        audio = np.vstack([audio, audio])
    return write_audio(out, signal=audio)


def local_client(app, **kw):  # noqa: ANN001, ANN201 - a TestClient
    """A TestClient that talks to the app as a browser on this machine does (Host 127.0.0.1,
    from a loopback address): the app answers only loopback host names when it has no token
    (DNS rebinding), and treats a remote browser differently (exports)."""
    from fastapi.testclient import TestClient

    kw.setdefault("client", ("127.0.0.1", 50000))
    return TestClient(app, base_url="http://127.0.0.1", **kw)
