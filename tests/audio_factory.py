"""Real encoded audio files for tests: music-like signals written with PyAV, tagged with mutagen."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

# container format, codec, sample format, per format extension
FORMATS: dict[str, tuple[str, str, str]] = {
    "mp3": ("mp3", "libmp3lame", "fltp"),
    "flac": ("flac", "flac", "s16"),
    "ogg": ("ogg", "vorbis", "fltp"),
    "opus": ("ogg", "libopus", "flt"),
    "m4a": ("ipod", "aac", "fltp"),
    "wav": ("wav", "pcm_s16le", "s16"),
    "aiff": ("aiff", "pcm_s16be", "s16"),
    "wma": ("asf", "wmav2", "fltp"),
}


def music_like(seconds: float, sr: int = 44100, seed: int = 0, bpm: float = 120.0) -> np.ndarray:
    """A stereo float32 (2, n) signal: a chord, a bass line and a kick/hat pattern."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    chord = sum(np.sin(2 * np.pi * root * r * t) for r in (1, 1.26, 1.5, 2)) * 0.08
    bass = 0.15 * np.sin(2 * np.pi * root / 2 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * bpm / 60 / 4 * t))
    beat = np.zeros(n)
    period = int(sr * 60 / bpm)
    kick = np.exp(-np.arange(int(0.15 * sr)) / (0.03 * sr)) * np.sin(
        2 * np.pi * 55 * np.arange(int(0.15 * sr)) / sr
    )
    for start in range(0, n, period):
        seg = kick[: n - start]
        beat[start : start + len(seg)] += 0.5 * seg
    hat = rng.normal(0, 0.02, n) * (np.sin(2 * np.pi * bpm / 30 * t) > 0.7)
    mono = chord + bass + beat + hat
    left = mono + rng.normal(0, 0.003, n)
    right = mono + rng.normal(0, 0.003, n)
    return np.stack([left, right]).astype(np.float32) * 0.8


def write_audio(path: Path, seconds: float = 4.0, seed: int = 0, sr: int = 44100,
                signal: np.ndarray | None = None) -> Path:  # fmt: skip
    """Encode a music-like signal (or ``signal``, (channels, n) float32) to ``path``'s format."""
    ext = path.suffix.lower().lstrip(".")
    container_fmt, codec, sample_fmt = FORMATS[ext]
    if codec == "libopus":
        sr = 48000
    data = signal if signal is not None else music_like(seconds, sr, seed)
    channels = data.shape[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=container_fmt) as out:
        options = {"strict": "experimental"} if codec == "vorbis" else {}
        layout = "stereo" if channels == 2 else "mono"
        stream = out.add_stream(codec, rate=sr, layout=layout, options=options)
        if codec in ("libmp3lame", "wmav2"):
            stream.bit_rate = 128000
        frame_size = stream.codec_context.frame_size or 1024
        pts = 0
        for start in range(0, data.shape[1], frame_size):
            chunk = data[:, start : start + frame_size]
            if sample_fmt == "s16":
                arr = (np.clip(chunk, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            elif sample_fmt == "flt":
                arr = np.ascontiguousarray(chunk.T.reshape(1, -1))
            else:
                arr = np.ascontiguousarray(chunk)
            frame = av.AudioFrame.from_ndarray(arr, format=sample_fmt,
                                               layout="stereo" if channels == 2 else "mono")  # fmt: skip
            frame.sample_rate = sr
            frame.pts = pts
            frame.time_base = Fraction(1, sr)
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def png_bytes(color: tuple[int, int, int], size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, format="PNG")
    return buf.getvalue()


def tag_file(path: Path, cover: bytes | None = None, **tags: str) -> None:
    """Write tags (title, artist, album, genre, year, track, albumartist) and a front cover."""
    import base64

    import mutagen
    from mutagen.asf import ASF
    from mutagen.flac import FLAC, Picture
    from mutagen.id3 import APIC, ID3, TALB, TCON, TDRC, TIT2, TPE1, TPE2, TRCK
    from mutagen.mp4 import MP4, MP4Cover

    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    t = audio.tags
    if isinstance(t, ID3):
        frames = {"title": TIT2, "artist": TPE1, "album": TALB, "genre": TCON, "year": TDRC,
                  "track": TRCK, "albumartist": TPE2}  # fmt: skip
        for key, value in tags.items():
            t.setall(frames[key].__name__, [frames[key](encoding=3, text=value)])
        if cover:
            t.setall("APIC", [APIC(encoding=3, mime="image/png", type=3, desc="", data=cover)])
    elif isinstance(audio, MP4):
        keys = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "genre": "\xa9gen",
                "year": "\xa9day", "albumartist": "aART"}  # fmt: skip
        for key, value in tags.items():
            if key == "track":
                t["trkn"] = [(int(value), 0)]
            else:
                t[keys[key]] = [value]
        if cover:
            t["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_PNG)]
    elif isinstance(audio, ASF):
        keys = {"title": "Title", "artist": "Author", "album": "WM/AlbumTitle",
                "genre": "WM/Genre", "year": "WM/Year", "track": "WM/TrackNumber",
                "albumartist": "WM/AlbumArtist"}  # fmt: skip
        for key, value in tags.items():
            t[keys[key]] = [value]
    else:  # Vorbis comments: FLAC, Ogg Vorbis, Opus
        keys = {"track": "tracknumber", "year": "date"}
        for key, value in tags.items():
            t[keys.get(key, key)] = [value]
        if cover:
            pic = Picture()
            pic.type, pic.mime, pic.data = 3, "image/png", cover
            if isinstance(audio, FLAC):
                audio.clear_pictures()
                audio.add_picture(pic)
            else:
                t["metadata_block_picture"] = [base64.b64encode(pic.write()).decode("ascii")]
    audio.save()
