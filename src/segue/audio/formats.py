"""Which audio format a file holds, decided by its bytes rather than its name.

A text file renamed ``.mp3`` is rejected with a clear reason, and an Ogg file named ``.mp3`` is read
as Ogg. The extension only decides which files are worth opening at all during a folder walk.
"""

from __future__ import annotations

from pathlib import Path

#: Extensions a folder walk considers; the content then decides the format.
AUDIO_EXTENSIONS = frozenset(
    {
        ".mp3", ".mp2", ".m4a", ".m4b", ".mp4", ".aac", ".alac", ".flac", ".ogg", ".oga",
        ".opus", ".wav", ".wave", ".aif", ".aiff", ".aifc", ".wma", ".asf",
    }
)  # fmt: skip

_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")
_HEAD_BYTES = 4096


class NotAudioError(ValueError):
    """The file's content is not a supported audio format; the message says what it looks like."""


def sniff_format(path: str | Path) -> str:
    """The container format of ``path`` from its first bytes.

    Returns one of ``mp3``, ``aac``, ``flac``, ``ogg``, ``mp4``, ``wav``, ``aiff``, ``asf``.
    Raises :class:`NotAudioError` with a one-line reason, or ``OSError`` if it cannot be read.
    """
    with open(path, "rb") as fh:
        head = fh.read(_HEAD_BYTES)
        if head[:3] == b"ID3" and len(head) >= 10:
            # An ID3v2 tag can prefix MP3, AAC or even FLAC: look past it.
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            footer = 10 if head[5] & 0x10 else 0
            fh.seek(10 + size + footer)
            head = fh.read(_HEAD_BYTES)
            if not head:
                raise NotAudioError("only an ID3 tag, no audio data")
            return _sniff_after_id3(head)
    return _sniff(head)


def _sniff_after_id3(head: bytes) -> str:
    try:
        return _sniff(head)
    except NotAudioError:
        # Some encoders pad between the tag and the first frame.
        stripped = head.lstrip(b"\x00")
        if stripped and _mpeg_sync(stripped, 0):
            return "mp3"
        raise


def _sniff(head: bytes) -> str:
    if not head:
        raise NotAudioError("empty file")
    if head[:4] == b"fLaC":
        return "flac"
    if head[:4] == b"OggS":
        return "ogg"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "aiff"
    if head[:16] == _ASF_GUID:
        return "asf"
    for offset in range(min(len(head) - 1, 64)):
        if _mpeg_sync(head, offset):
            layer = (head[offset + 1] >> 1) & 0x3
            return "aac" if layer == 0 else "mp3"
    raise NotAudioError(f"not an audio file (content looks like {_describe(head)})")


def _mpeg_sync(head: bytes, offset: int) -> bool:
    """An MPEG audio or ADTS frame header at ``offset``, with plausible fields."""
    if offset + 4 > len(head) or head[offset] != 0xFF or head[offset + 1] & 0xE0 != 0xE0:
        return False
    b1, b2 = head[offset + 1], head[offset + 2]
    layer = (b1 >> 1) & 0x3
    if layer == 0:  # ADTS AAC: sync is 12 bits and the sampling index must be valid.
        return b1 & 0xF0 == 0xF0 and ((b2 >> 2) & 0xF) < 13
    version = (b1 >> 3) & 0x3
    bitrate_index = b2 >> 4
    rate_index = (b2 >> 2) & 0x3
    return version != 1 and bitrate_index not in (0, 15) and rate_index != 3


def _describe(head: bytes) -> str:
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "an image"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf")):
        return "an archive"
    sample = head[:512]
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in sample)
    if printable >= 0.95 * len(sample):
        return "text"
    return "unknown binary data"


#: Container format (``tracks.format``, sniffed from the bytes) -> the audio MIME type that a
#: browser, a Subsonic app or an HTTP client is told.
MEDIA_TYPES = {
    "mp3": "audio/mpeg",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "mp4": "audio/mp4",
    "wav": "audio/wav",
    "aiff": "audio/aiff",
    "asf": "audio/x-ms-wma",
}


def media_type(fmt: str | None) -> str:
    """The MIME type to serve audio of container format ``fmt`` with (octet-stream if unknown)."""
    return MEDIA_TYPES.get(fmt or "", "application/octet-stream")
