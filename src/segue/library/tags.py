"""Tags and cover art with mutagen, made safe and uniform across formats.

Every text value is cut to :data:`MAX_TAG_CHARS` and cleaned of control characters, so a 10 MB tag
or a NUL byte cannot bloat the library or break an export. Missing titles, artists and albums fall
back to the file and folder names (``Artist/Album/01 Title.mp3``), as players do.

Cover art comes from the file's embedded pictures (the front cover first) and otherwise from an
image beside it (cover/folder/front with any image extension).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from mutagen._vorbis import VComment
from mutagen.asf import ASFTags
from mutagen.flac import Picture
from mutagen.id3 import ID3
from mutagen.mp4 import MP4Tags
from PIL import Image, UnidentifiedImageError

MAX_TAG_CHARS = 1000
#: A cover above either limit is not stored as it is (see :func:`load_cover`).
MAX_COVER_BYTES = 16 * 1024 * 1024
MAX_COVER_PIXELS = 40_000_000
REDUCED_COVER_SIDE = 1500
#: A folder image above this is not even read (an embedded picture is already in memory).
MAX_FOLDER_IMAGE_BYTES = 128 * 1024 * 1024
FOLDER_COVER_NAMES = ("cover", "folder", "front", "albumart", "album")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp")

# Raw tag keys per tag family, first match wins. ID3 keys are frame ids (TXXX:desc for user text).
_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "id3": {
        "title": ("TIT2",),
        "artist": ("TPE1",),
        "album": ("TALB",),
        "album_artist": ("TPE2",),
        "genre": ("TCON",),
        "year": ("TDRC", "TYER", "TDOR"),
        "track_no": ("TRCK",),
        "disc_no": ("TPOS",),
        "mb_track_id": ("UFID:http://musicbrainz.org", "TXXX:MusicBrainz Release Track Id"),
        "mb_album_id": ("TXXX:MusicBrainz Album Id",),
        "mb_artist_id": ("TXXX:MusicBrainz Artist Id",),
    },
    "vorbis": {
        "title": ("title",),
        "artist": ("artist",),
        "album": ("album",),
        "album_artist": ("albumartist", "album artist", "album_artist"),
        "genre": ("genre",),
        "year": ("date", "year", "originaldate"),
        "track_no": ("tracknumber",),
        "disc_no": ("discnumber",),
        "mb_track_id": ("musicbrainz_trackid", "musicbrainz_releasetrackid"),
        "mb_album_id": ("musicbrainz_albumid",),
        "mb_artist_id": ("musicbrainz_artistid",),
    },
    "mp4": {
        "title": ("\xa9nam",),
        "artist": ("\xa9ART",),
        "album": ("\xa9alb",),
        "album_artist": ("aART",),
        "genre": ("\xa9gen", "gnre"),
        "year": ("\xa9day",),
        "track_no": ("trkn",),
        "disc_no": ("disk",),
        "mb_track_id": ("----:com.apple.iTunes:MusicBrainz Track Id",),
        "mb_album_id": ("----:com.apple.iTunes:MusicBrainz Album Id",),
        "mb_artist_id": ("----:com.apple.iTunes:MusicBrainz Artist Id",),
    },
    "asf": {
        "title": ("Title",),
        "artist": ("Author", "WM/AlbumArtist"),
        "album": ("WM/AlbumTitle",),
        "album_artist": ("WM/AlbumArtist",),
        "genre": ("WM/Genre",),
        "year": ("WM/Year",),
        "track_no": ("WM/TrackNumber", "WM/Track"),
        "disc_no": ("WM/PartOfSet",),
        "mb_track_id": ("MusicBrainz/Track Id",),
        "mb_album_id": ("MusicBrainz/Album Id",),
        "mb_artist_id": ("MusicBrainz/Artist Id",),
    },
}

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class Cover:
    """A cover image: its bytes, content hash and size."""

    digest: str
    mime: str
    width: int
    height: int
    data: bytes


@dataclass
class TrackTags:
    """Normalised tags of one file. Text fields are clean single-line strings or None."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    genre: str | None = None
    year: int | None = None
    track_no: int | None = None
    disc_no: int | None = None
    mb_track_id: str | None = None
    mb_album_id: str | None = None
    mb_artist_id: str | None = None
    warnings: list[str] = field(default_factory=list)

    def as_row(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "warnings"}


def clean_text(value: object) -> str | None:
    """One line of at most MAX_TAG_CHARS printable characters, or None if nothing is left."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = str(value)[: MAX_TAG_CHARS * 4]
    text = _CONTROL.sub(" ", text.replace("\n", " ").replace("\r", " ").replace("\t", " "))
    text = " ".join(text.split())[:MAX_TAG_CHARS]
    return text or None


def _first_int(value: str | None) -> int | None:
    if not value:
        return None
    match = re.match(r"\s*(\d{1,9})", value)
    return int(match.group(1)) if match else None


def _family(audio: mutagen.FileType) -> str | None:
    tags = audio.tags
    if isinstance(tags, ID3):  # MP3, and the ID3 chunks of WAV and AIFF
        return "id3"
    if isinstance(tags, MP4Tags):
        return "mp4"
    if isinstance(tags, ASFTags):
        return "asf"
    if isinstance(tags, VComment):  # FLAC, Ogg Vorbis, Opus, Speex
        return "vorbis"
    return None


def _raw_value(audio: mutagen.FileType, family: str, key: str) -> str | None:
    tags = audio.tags
    if family == "id3":
        frame = tags.get(key)
        if frame is None:
            return None
        if key.startswith("UFID"):
            return frame.data.decode("ascii", "replace")
        text = getattr(frame, "text", None)
        return str(text[0]) if text else None
    if family == "vorbis":
        values = tags.get(key)
        return values[0] if values else None
    if family == "mp4":
        values = tags.get(key)
        if not values:
            return None
        value = values[0]
        if key in ("trkn", "disk") and isinstance(value, tuple):
            return str(value[0])
        if isinstance(value, bytes | bytearray):
            return bytes(value).decode("utf-8", "replace")
        return str(value)
    if family == "asf":
        values = tags.get(key)
        return str(values[0].value) if values else None
    return None


def read_tags(path: Path, audio: mutagen.FileType | None) -> TrackTags:
    """Normalised tags of ``audio`` (a mutagen file or None), with name-based fallbacks."""
    result = TrackTags()
    family = _family(audio) if audio is not None else None
    if family is not None:
        for name, keys in _KEYS[family].items():
            for key in keys:
                try:
                    raw = _raw_value(audio, family, key)
                except (ValueError, TypeError, AttributeError, UnicodeError):
                    raw = None
                if raw is None:
                    continue
                if len(raw) > MAX_TAG_CHARS:
                    result.warnings.append(f"tag {name} cut from {len(raw)} characters")
                if name in ("year", "track_no", "disc_no"):
                    value: object = _first_int(clean_text(raw))
                else:
                    value = clean_text(raw)
                if value is not None:
                    setattr(result, name, value)
                    break
    _fallback_from_names(path, result)
    return result


def _fallback_from_names(path: Path, tags: TrackTags) -> None:
    """Players' convention for untagged files: Artist/Album/NN Title.ext."""
    if tags.title is None:
        stem = path.stem
        match = re.match(r"^\s*(\d{1,3})[\s.\-_]+(.+)$", stem)
        if match:
            tags.track_no = tags.track_no or int(match.group(1))
            stem = match.group(2)
        if tags.artist is None and " - " in stem:
            artist, _, stem = stem.partition(" - ")
            tags.artist = clean_text(artist)
        tags.title = clean_text(stem) or clean_text(path.name)
    if tags.artist is None and tags.album_artist is not None:
        tags.artist = tags.album_artist
    if tags.album is None and path.parent.name:
        # Folder names mean Artist/Album only when the file has neither tag of its own.
        tags.album = clean_text(path.parent.name)
        if tags.artist is None:
            tags.artist = clean_text(path.parent.parent.name)


def embedded_pictures(audio: mutagen.FileType | None) -> list[tuple[int, bytes]]:
    """(picture type, bytes) of every embedded picture; type 3 is the front cover."""
    if audio is None:
        return []
    found: list[tuple[int, bytes]] = []
    tags = audio.tags
    for pic in getattr(audio, "pictures", []) or []:  # FLAC
        found.append((pic.type, pic.data))
    if tags is None:
        return found
    family = _family(audio)
    if family == "id3":
        for frame in tags.getall("APIC"):
            found.append((int(frame.type), frame.data))
    elif family == "mp4":
        for cover in tags.get("covr", []) or []:
            found.append((3, bytes(cover)))
    elif family == "vorbis":
        for b64 in tags.get("metadata_block_picture", []) or []:
            try:
                pic = Picture(base64.b64decode(b64))
                found.append((pic.type, pic.data))
            except (ValueError, TypeError, mutagen.MutagenError):
                continue
    elif family == "asf":
        for value in tags.get("WM/Picture", []) or []:
            data = _asf_picture_bytes(bytes(value.value))
            if data:
                found.append((3, data))
    return found


def _asf_picture_bytes(blob: bytes) -> bytes | None:
    # WM/Picture: type (1) + size (4) + UTF-16 mime\0 + UTF-16 description\0 + data.
    try:
        pos = 5
        for _ in range(2):
            end = blob.index(b"\x00\x00", pos)
            while (end - pos) % 2:
                end = blob.index(b"\x00\x00", end + 1)
            pos = end + 2
        return blob[pos:] or None
    except ValueError:
        return None


def load_cover(data: bytes, warnings: list[str] | None = None) -> Cover | None:
    """Validate image bytes with Pillow; None for anything that is not a usable image.

    A cover over :data:`MAX_COVER_BYTES` or :data:`MAX_COVER_PIXELS` (a 24 MB scan, a
    15000-pixel PNG) is not stored as it is: a JPEG is reduced to :data:`REDUCED_COVER_SIDE`
    pixels (cheaply: the decoder scales while it reads) and kept; anything else is left out.
    Either way ``warnings`` (when given) gets one line, so nothing is dropped unsaid.
    """
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            fmt = img.format or ""
            mime = Image.MIME.get(fmt, "application/octet-stream")
            too_big = len(data) > MAX_COVER_BYTES or width * height > MAX_COVER_PIXELS
            if too_big:
                reduced = _reduced_jpeg(img) if fmt == "JPEG" else None
                note = f"cover {len(data) / 1e6:.1f} MB, {width}x{height}"
                if reduced is None:
                    if warnings is not None:
                        warnings.append(f"{note}: over the cover limits "
                                        f"({MAX_COVER_BYTES // 2**20} MB, {MAX_COVER_PIXELS // 10**6} Mpixels), "
                                        "left out")  # fmt: skip
                    return None
                if warnings is not None:
                    warnings.append(f"{note}: reduced to {REDUCED_COVER_SIDE} px for the library")
                return load_cover(reduced)
            img.verify()
    except Image.DecompressionBombError:
        if warnings is not None:
            warnings.append("cover left out: too many pixels to decode safely")
        return None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    if width < 1 or height < 1:
        return None
    return Cover(hashlib.sha256(data).hexdigest(), mime, width, height, data)


def _reduced_jpeg(img: Image.Image) -> bytes | None:
    """A big JPEG decoded at reduced scale (draft mode) and re-encoded, or None."""
    try:
        img.draft("RGB", (REDUCED_COVER_SIDE, REDUCED_COVER_SIDE))
        small = img.convert("RGB")
        small.thumbnail((REDUCED_COVER_SIDE, REDUCED_COVER_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        small.save(out, "JPEG", quality=90)
        return out.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


@functools.lru_cache(maxsize=256)
def folder_cover_path(folder: Path) -> Path | None:
    """cover/folder/front.* (any case) beside the audio file, if there is one.

    Cached per folder: an album folder is listed once, not once per track. A scan clears the
    cache when it starts (see ``library.scan``), so a cover added later is found then.
    """
    try:
        names = {entry.name.lower(): Path(entry.path) for entry in os.scandir(folder)}
    except OSError:
        return None
    for base in FOLDER_COVER_NAMES:
        for ext in IMAGE_EXTENSIONS:
            hit = names.get(base + ext)
            if hit is not None and hit.is_file():
                return hit
    return None


def find_cover(path: Path, audio: mutagen.FileType | None,
               warnings: list[str] | None = None) -> Cover | None:  # fmt: skip
    """The track's cover: embedded front cover, any embedded picture, then a folder image.
    A cover too big to keep is reduced or left out with a line in ``warnings``."""
    pictures = sorted(embedded_pictures(audio), key=lambda p: p[0] != 3)
    for _type, data in pictures:
        cover = load_cover(data, warnings)
        if cover is not None:
            return cover
    image_path = folder_cover_path(path.parent)
    if image_path is not None:
        try:
            size = image_path.stat().st_size
            if size > MAX_FOLDER_IMAGE_BYTES:  # not read at all: say so
                if warnings is not None:
                    warnings.append(f"{image_path.name}: {size / 1e6:.0f} MB, too big to use as a cover")
                return None
            return load_cover(image_path.read_bytes(), warnings)
        except OSError:
            return None
    return None


def open_tags(path: Path) -> tuple[mutagen.FileType | None, str | None]:
    """The mutagen file (or None) and a one-line warning when the tags are unreadable."""
    try:
        return mutagen.File(path), None
    except mutagen.MutagenError as exc:
        return None, f"unreadable tags ({' '.join(str(exc).split())[:200]})"
    except (ValueError, TypeError, IndexError, KeyError, EOFError, struct.error) as exc:
        return None, f"unreadable tags ({type(exc).__name__})"

