"""Sound out: a streaming PyAV encoder that writes a file atomically, with tags, chapters, cover.

:class:`AudioWriter` takes float32 blocks shaped (channels, samples) and encodes them as they
come, so a three-hour mix never sits in memory. The format comes from the extension:

=========  ==========================  ===========  =========================================
extension  codec                       sample rate  chapters
=========  ==========================  ===========  =========================================
.mp3       libmp3lame 256 kb/s CBR, q5  44.1 kHz     ID3v2 CHAP/CTOC (written by FFmpeg's muxer)
.ogg       vorbis (FFmpeg's native)    44.1 kHz     Vorbis comments CHAPTERnnn (mutagen)
.opus      libopus, 160 kb/s           48 kHz       Vorbis comments CHAPTERnnn (mutagen)
.flac      flac, 16 bit                44.1 kHz     Vorbis comments CHAPTERnnn (mutagen)
.wav       pcm_s16le                   44.1 kHz     none: RIFF WAVE has no chapter list that
                                                    FFmpeg or common players read
=========  ==========================  ===========  =========================================

PyAV 18's ``OutputContainer.set_chapters`` is used where FFmpeg's muxer writes chapters well
(mp3); FFmpeg's ogg-vorbis and flac muxers ignore them, and its ogg-opus muxer shifted every
chapter after the first by a second in our tests, so those get the Vorbis-comment chapter
convention (``CHAPTER001=00:01:02.500``, ``CHAPTER001NAME=...``), which FFmpeg reads back.
FFmpeg's wheel has no libvorbis; its native vorbis encoder is marked experimental but works.

Tags (title, album, an artist list, a front cover) are written with mutagen after encoding,
before the rename: ID3 (TIT2/TALB/TPE1 with one value per artist, APIC) for mp3 and wav,
Vorbis comments (repeated ARTIST, METADATA_BLOCK_PICTURE) for ogg/opus, FLAC picture blocks.

Encoding runs on a thread of its own (``threaded=True``, the default): :meth:`AudioWriter.write`
hands the block to a bounded queue and returns, and the encoder thread turns blocks into frames,
encodes and muxes them. FFmpeg's encoders run without Python's GIL (PyAV calls
``avcodec_send_frame`` in a ``nogil`` block), so a mix renders on one core while LAME encodes on
the other, and a two-core machine reaches the encoder's own speed instead of render + encode
one after the other. The queue holds at most :data:`QUEUE_BLOCKS` blocks, so memory stays flat
when the encoder is the slower side. An error on the encoder thread is raised by the next
``write`` or by ``finish``.

The file is written to a temporary name in the destination folder and renamed with
:func:`os.replace` only once it is complete; any exception, KeyboardInterrupt included, removes
the temporary file, so an interrupted render never leaves a half-written mix behind.
"""

from __future__ import annotations

import base64
import contextlib
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from segue.errors import UserError
from segue.files import AtomicFile

#: extension -> (container format, codec, sample rate, bit rate or None, muxer writes chapters)
FORMATS: dict[str, tuple[str, str, int, int | None, bool]] = {
    ".mp3": ("mp3", "libmp3lame", 44100, 256_000, True),
    ".ogg": ("ogg", "vorbis", 44100, 192_000, False),
    ".opus": ("ogg", "libopus", 48000, 160_000, False),
    ".flac": ("flac", "flac", 44100, None, False),
    ".wav": ("wav", "pcm_s16le", 44100, None, False),
}


#: LAME at quality 5 ("-q 5") encodes about twice as fast as FFmpeg's default (LAME's -q 3),
#: with no difference one hears at 256 kb/s; FFmpeg's native vorbis encoder is "experimental".
CODEC_OPTIONS = {"libmp3lame": {"compression_level": "5"}, "vorbis": {"strict": "experimental"}}

QUEUE_BLOCKS = 8  # blocks waiting for the encoder thread (8 one-second blocks: 2.8 MB)
_END = None  # the queue's "no more blocks" marker


@dataclass
class Chapter:
    """A named span of the output, in seconds."""

    start: float
    end: float
    title: str


@dataclass
class Tags:
    """What the output file says about itself."""

    title: str | None = None
    album: str | None = None
    artists: list[str] = field(default_factory=list)
    cover: bytes | None = None  # PNG or JPEG bytes
    comment: str | None = None


def output_format(path: str | os.PathLike[str]) -> str:
    """The extension of ``path`` if segue can write it, else a UserError naming the choices."""
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        choices = ", ".join(sorted(FORMATS))
        raise UserError(f"cannot write {Path(path).name}: the mix format must be one of {choices}")
    return ext


def output_rate(path: str | os.PathLike[str]) -> int:
    """The sample rate segue writes for ``path``'s format (48 kHz for Opus, else 44.1 kHz)."""
    return FORMATS[output_format(path)][2]


def _mime(data: bytes) -> str:
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    return "image/png" if data[:4] != b"GIF8" else "image/gif"


def _clock(seconds: float) -> str:
    ms = int(round(max(0.0, seconds) * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    return f"{h:02d}:{m:02d}:{rest // 1000:02d}.{rest % 1000:03d}"


class AudioWriter:
    """Streaming encoder for one output file; use as a context manager.

    ``write(block)`` takes float32 (channels, samples) at :attr:`rate`; ``finish()`` flushes the
    encoder, writes tags and renames the temporary file into place. Leaving the ``with`` block
    without ``finish()`` (an exception, Ctrl-C) removes the temporary file.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        channels: int = 2,
        tags: Tags | None = None,
        chapters: Sequence[Chapter] = (),
        threaded: bool = True,
    ) -> None:
        self.path = Path(path)
        ext = output_format(self.path)
        fmt, codec, rate, bit_rate, muxer_chapters = FORMATS[ext]
        self.ext = ext
        self.rate = rate
        self.channels = channels
        self.tags = tags or Tags()
        self.chapters = list(chapters)
        self.samples_written = 0
        self._pts = 0  # samples handed to the encoder (on the encoder thread when threaded)
        folder = self.path.parent
        if not folder.is_dir():
            raise UserError(f"cannot write {self.path}: no such folder {folder}")
        self._file = AtomicFile(self.path, make_parents=False, suffix=f".part{ext}")
        self.tmp = self._file.tmp
        self._done = False
        try:
            self.container = av.open(str(self.tmp), "w", format=fmt)
            options = dict(CODEC_OPTIONS.get(codec, {}))
            layout = "stereo" if channels == 2 else "mono"
            self.stream = self.container.add_stream(codec, rate=rate, layout=layout, options=options)
            if bit_rate:
                self.stream.bit_rate = bit_rate
            if muxer_chapters and self.chapters:
                tb = Fraction(1, 1000)
                self.container.set_chapters([
                    {"id": i + 1, "start": int(round(c.start * 1000)),
                     "end": int(round(c.end * 1000)), "time_base": tb,
                     "metadata": {"title": c.title}}
                    for i, c in enumerate(self.chapters)
                ])  # fmt: skip
            self._muxer_chapters = muxer_chapters
            self._layout = layout
        except BaseException:
            self._remove_tmp()
            raise
        self._queue: queue.Queue[np.ndarray | None] | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._stop = threading.Event()
        if threaded:
            self._queue = queue.Queue(maxsize=QUEUE_BLOCKS)
            self._thread = threading.Thread(target=self._encode_queued, name="segue-encoder",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def __enter__(self) -> AudioWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if not self._done:
            self.abort()

    def write(self, block: np.ndarray) -> None:
        """Encode float32 samples shaped (channels, n) at :attr:`rate` (on the encoder thread
        when threaded: this returns once the block is queued)."""
        if block.shape[1] == 0:
            return
        data = np.ascontiguousarray(np.clip(block, -1.0, 1.0), dtype=np.float32)
        self.samples_written += data.shape[1]
        if self._queue is None:
            self._encode(data)
            return
        while True:  # wait for room, but notice an encoder that has died meanwhile
            self._raise_encoder_error()
            try:
                self._queue.put(data, timeout=0.1)
                return
            except queue.Full:
                continue

    def _encode(self, data: np.ndarray | None) -> None:
        if data is None:
            packets = self.stream.encode(None)
        else:
            frame = av.AudioFrame.from_ndarray(data, format="fltp", layout=self._layout)
            frame.sample_rate = self.rate
            frame.pts = self._pts
            frame.time_base = Fraction(1, self.rate)
            self._pts += data.shape[1]
            packets = self.stream.encode(frame)
        for packet in packets:
            self.container.mux(packet)

    def _encode_queued(self) -> None:
        """The encoder thread: encode queued blocks until the end marker, then flush."""
        assert self._queue is not None
        try:
            while not self._stop.is_set():
                data = self._queue.get()
                if data is _END:
                    if not self._stop.is_set():
                        self._encode(None)
                    return
                self._encode(data)
        except BaseException as exc:  # raised again on the caller's thread
            self._error = exc

    def _raise_encoder_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _join_encoder(self) -> None:
        """Send the end marker and wait for the encoder thread to finish its queue."""
        if self._thread is None or self._queue is None:
            return
        while self._thread.is_alive():
            try:
                self._queue.put(_END, timeout=0.1)
                break
            except queue.Full:
                continue
        self._thread.join()
        self._thread = None

    def finish(self) -> Path:
        """Flush, close, tag, and move the file into place; returns the final path."""
        try:
            if self._thread is None:
                self._encode(None)
            else:
                self._join_encoder()
                self._raise_encoder_error()
            self.container.close()
            write_tags(self.tmp, self.ext, self.tags, [] if self._muxer_chapters else self.chapters)
            self._file.commit()
        except BaseException:
            self.abort()
            raise
        self._done = True
        return self.path

    def abort(self) -> None:
        """Stop without output: close the encoder and remove the temporary file."""
        self._done = True
        if self._thread is not None and self._queue is not None:
            self._stop.set()
            with contextlib.suppress(queue.Empty):  # drop what waits: nothing will be kept
                while True:
                    self._queue.get_nowait()
            self._join_encoder()
        with contextlib.suppress(Exception):
            self.container.close()
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        self._file.discard()


def write_tags(path: Path, ext: str, tags: Tags, chapters: Sequence[Chapter] = ()) -> None:
    """Write ``tags`` (and Vorbis-comment ``chapters``) into the encoded file at ``path``."""
    if ext in (".mp3", ".wav"):
        _write_id3(path, ext, tags)
        return
    from mutagen.flac import FLAC, Picture
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis

    audio = {".flac": FLAC, ".ogg": OggVorbis, ".opus": OggOpus}[ext](path)
    if audio.tags is None:
        audio.add_tags()
    t = audio.tags
    if tags.title:
        t["TITLE"] = [tags.title]
    if tags.album:
        t["ALBUM"] = [tags.album]
    if tags.artists:
        t["ARTIST"] = list(tags.artists)
    if tags.comment:
        t["COMMENT"] = [tags.comment]
    for i, c in enumerate(chapters, 1):
        t[f"CHAPTER{i:03d}"] = [_clock(c.start)]
        t[f"CHAPTER{i:03d}NAME"] = [c.title]
    if tags.cover:
        pic = Picture()
        pic.type, pic.mime, pic.data, pic.desc = 3, _mime(tags.cover), tags.cover, "Front cover"
        if isinstance(audio, FLAC):
            audio.clear_pictures()
            audio.add_picture(pic)
        else:
            t["METADATA_BLOCK_PICTURE"] = [base64.b64encode(pic.write()).decode("ascii")]
    audio.save()


def _write_id3(path: Path, ext: str, tags: Tags) -> None:
    from mutagen.id3 import APIC, COMM, ID3, TALB, TIT2, TPE1
    from mutagen.mp3 import MP3
    from mutagen.wave import WAVE

    audio = MP3(path) if ext == ".mp3" else WAVE(path)
    if audio.tags is None:
        audio.add_tags()
    t: ID3 = audio.tags
    if tags.title:
        t.setall("TIT2", [TIT2(encoding=3, text=tags.title)])
    if tags.album:
        t.setall("TALB", [TALB(encoding=3, text=tags.album)])
    if tags.artists:
        t.setall("TPE1", [TPE1(encoding=3, text=list(tags.artists))])
    if tags.comment:
        t.setall("COMM", [COMM(encoding=3, lang="eng", desc="", text=tags.comment)])
    if tags.cover:
        t.setall("APIC", [APIC(encoding=3, mime=_mime(tags.cover), type=3, desc="Front cover",
                               data=tags.cover)])  # fmt: skip
    audio.save()
