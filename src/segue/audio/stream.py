"""Streaming decode: read a file block by block, from a start time, at any output rate.

:func:`segue.audio.decode.decode` returns a whole window at once; a mix needs tracks that can be
minutes long while holding only a block of each, so :class:`StreamReader` keeps the container
open and decodes packets only as samples are asked for. Resampling happens in FFmpeg
(swresample) to a stereo float32 stream at ``rate``; asking for a rate other than the output's
is how a mix plays a track faster or slower (varispeed).

After a seek FFmpeg lands on a packet at or before the start; the difference is cut exactly
(from that packet's timestamp), as :func:`~segue.audio.decode.decode` does. Decoding from the
start of the file (no seek) is used for starts under a few seconds, where a seek would save
nothing and some decoders (MP3's bit reservoir) need the packets before the first one played.
"""

from __future__ import annotations

import collections
import os

import av
import numpy as np

from segue.audio.decode import MAX_BAD_PACKETS, _one_line
from segue.errors import DecodeError

SEEK_MIN_S = 5.0  # seek only when starting later than this
SEEK_PREROLL_S = 1.0  # land this much before the start, so the decoder is warm at the start


class StreamReader:
    """Stereo float32 samples of ``path`` from ``start`` seconds, at ``rate``, on demand.

    :meth:`read` returns exactly ``n`` samples (zeros once the file has ended; :attr:`ended`
    says so and :attr:`error` holds a decode failure met on the way, if any).
    """

    def __init__(self, path: str | os.PathLike[str], rate: int, start: float = 0.0) -> None:
        try:
            self.container = av.open(os.fspath(path), metadata_errors="replace")
        except (av.error.FFmpegError, OSError, UnicodeError) as exc:
            raise DecodeError(_one_line(exc)) from exc
        try:
            streams = self.container.streams.audio
            if not streams:
                raise DecodeError("no audio stream")
            self.stream = streams[0]
            self.rate = rate
            self.start = max(0.0, start)
            tb = self.stream.time_base
            if self.start > SEEK_MIN_S and tb is not None:
                target = self.start - SEEK_PREROLL_S
                self.container.seek(int(target / tb), stream=self.stream, backward=True)
            self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate)
            self.packets = self.container.demux(self.stream)
        except BaseException:
            self.container.close()
            raise
        self.queue: collections.deque[np.ndarray] = collections.deque()
        self.queued = 0
        self.skip: int | None = None  # samples before ``start`` still to drop
        self.ended = False
        self.error: str | None = None
        self.bad_in_a_row = 0

    def read(self, n: int) -> np.ndarray:
        """The next ``n`` samples, shaped (2, n)."""
        while self.queued < n and not self.ended:
            self._pull()
        out = np.zeros((2, n), dtype=np.float32)
        filled = 0
        while filled < n and self.queue:
            chunk = self.queue[0]
            take = min(n - filled, chunk.shape[1])
            out[:, filled : filled + take] = chunk[:, :take]
            filled += take
            if take == chunk.shape[1]:
                self.queue.popleft()
            else:
                self.queue[0] = chunk[:, take:]
        self.queued -= filled
        return out

    def _pull(self) -> None:
        try:
            packet = next(self.packets)
        except StopIteration:
            self._flush()
            return
        except av.error.FFmpegError as exc:  # a damaged tail: stop there, as players do
            self.error = self.error or _one_line(exc)
            self._flush()
            return
        if self.skip is None:
            if packet.pts is not None and self.stream.time_base is not None:
                here = float(packet.pts * self.stream.time_base)
                self.skip = max(0, int(round((self.start - here) * self.rate)))
            elif packet.size:
                self.skip = int(round(self.start * self.rate))
        try:
            frames = packet.decode()
            self.bad_in_a_row = 0
        except av.error.FFmpegError as exc:
            self.bad_in_a_row += 1
            self.error = self.error or _one_line(exc)
            if self.bad_in_a_row >= MAX_BAD_PACKETS:
                self._flush()
            return
        for frame in frames:
            frame.pts = None
            self._add(self.resampler.resample(frame))

    def _flush(self) -> None:
        if not self.ended:
            self.ended = True
            try:
                self._add(self.resampler.resample(None))
            except av.error.FFmpegError as exc:
                self.error = self.error or _one_line(exc)

    def _add(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            a = frame.to_ndarray().astype(np.float32, copy=False)
            if self.skip:
                drop = min(self.skip, a.shape[1])
                self.skip -= drop
                a = a[:, drop:]
            if a.shape[1]:
                self.queue.append(a)
                self.queued += a.shape[1]

    def close(self) -> None:
        self.container.close()

    def __enter__(self) -> StreamReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
