"""Files beside a mix: a CUE sheet and a plain tracklist with start times."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

CUE_FRAMES = 75  # CD frames per second: INDEX times are mm:ss:ff
CUE_FILE_TYPES = {".mp3": "MP3", ".wav": "WAVE", ".flac": "WAVE", ".ogg": "WAVE", ".opus": "WAVE"}


@dataclass
class CueTrack:
    start: float  # seconds into the mix
    title: str
    artist: str | None = None
    notes: Sequence[str] = ()  # lines under the track in the tracklist


def cue_time(seconds: float) -> str:
    """``mm:ss:ff`` (75 frames per second; minutes may exceed 99 for very long mixes)."""
    frames = int(round(max(0.0, seconds) * CUE_FRAMES))
    m, rest = divmod(frames, 60 * CUE_FRAMES)
    s, f = divmod(rest, CUE_FRAMES)
    return f"{m:02d}:{s:02d}:{f:02d}"


def clock(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss`` for a tracklist."""
    s = int(round(max(0.0, seconds)))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _quote(text: str) -> str:
    return '"' + " ".join(text.replace('"', "'").split()) + '"'


def cue_sheet(audio: str | os.PathLike[str], tracks: Sequence[CueTrack], title: str | None = None,
              performer: str | None = None) -> str:  # fmt: skip
    """CUE sheet text for ``audio`` (named relative to the sheet: same folder)."""
    name = Path(audio).name
    lines = []
    if performer:
        lines.append(f"PERFORMER {_quote(performer)}")
    if title:
        lines.append(f"TITLE {_quote(title)}")
    lines.append(f"FILE {_quote(name)} {CUE_FILE_TYPES.get(Path(name).suffix.lower(), 'WAVE')}")
    for i, t in enumerate(tracks, 1):
        lines.append(f"  TRACK {i:02d} AUDIO")
        lines.append(f"    TITLE {_quote(t.title)}")
        if t.artist:
            lines.append(f"    PERFORMER {_quote(t.artist)}")
        lines.append(f"    INDEX 01 {cue_time(t.start)}")
    return "\n".join(lines) + "\n"


def tracklist(tracks: Sequence[CueTrack], title: str | None = None,
              footer: str | None = None) -> str:  # fmt: skip
    """Plain text: one ``start  Artist - Title`` line per track, its notes indented below."""
    lines = [title, ""] if title else []
    for t in tracks:
        name = f"{t.artist} - {t.title}" if t.artist else t.title
        lines.append(f"{clock(t.start):>8}  {name}")
        lines.extend(f"{'':>8}    {note}" for note in t.notes)
    if footer:
        lines += ["", footer]
    return "\n".join(lines) + "\n"


def parse_cue_starts(text: str) -> list[float]:
    """INDEX 01 times of a CUE sheet, in seconds (for checking a sheet against its audio)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == "INDEX" and parts[1] == "01":
            m, s, f = (int(x) for x in parts[2].split(":"))
            out.append(m * 60 + s + f / CUE_FRAMES)
    return out
