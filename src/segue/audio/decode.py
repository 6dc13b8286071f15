"""Sound in: any supported file to float32 samples with PyAV (FFmpeg inside the wheel).

Two entry points:

- :func:`read_audio` walks a file's compressed packets once. It always measures the real duration
  and can hash the audio payload (the track's identity, blind to tags) and, in the same pass,
  decode to one sample rate for analysis: a file is read from disk once per scan.
- :func:`decode` decodes a whole file or only a window (start, duration) without decoding what
  comes before it, for on-the-fly uses (a dropped-in seed file, a mix render).

Channels are kept (mono stays mono, anything wider becomes stereo) and callers average them for
mono, as librosa does. FFmpeg's own stereo-to-mono downmix is (L+R)/√2, 3 dB louder than what the
MusiCNN models were trained on (see the MusiCNN fixtures' README).

Every failure raises :class:`~segue.errors.DecodeError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from segue.audio.formats import NotAudioError, sniff_format
from segue.errors import DecodeError

#: Give up on a file when this many packets in a row fail to decode.
MAX_BAD_PACKETS = 50
#: No real audio packet lasts longer than this; longer durations in a file are corrupt.
MAX_PACKET_SECONDS = 30.0


@dataclass
class AudioInfo:
    """What one pass over a file's packets tells."""

    format: str
    codec: str
    sample_rate: int
    channels: int
    duration: float
    bitrate: int | None
    declared_duration: float | None
    payload_hash: str | None


def _open(path: str | Path) -> av.container.InputContainer:
    try:
        return av.open(str(path), metadata_errors="replace")
    except av.error.FFmpegError as exc:
        raise DecodeError(_one_line(exc)) from exc
    except (OSError, UnicodeError) as exc:
        raise DecodeError(_one_line(exc)) from exc


def _audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream:
    streams = container.streams.audio
    if not streams:
        raise DecodeError("no audio stream")
    return streams[0]


def _one_line(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())


class _Decoder:
    """Decodes packets of one stream once, resampled to each requested rate (float32 planar)."""

    def __init__(self, stream: av.audio.stream.AudioStream, rates: Sequence[int]) -> None:
        channels = stream.codec_context.channels or 2
        self.layout = "mono" if channels == 1 else "stereo"
        self.resamplers = {
            rate: av.AudioResampler(format="fltp", layout=self.layout, rate=rate) for rate in rates
        }
        self.chunks: dict[int, list[np.ndarray]] = {rate: [] for rate in rates}
        # kept as chunks arrive: summing the chunks per packet made a long decode quadratic
        self.counts: dict[int, int] = dict.fromkeys(rates, 0)
        self.bad_in_a_row = 0
        self.first_error: str | None = None

    def feed(self, packet: av.Packet) -> None:
        try:
            frames = packet.decode()
            self.bad_in_a_row = 0
        except av.error.FFmpegError as exc:
            # A corrupt frame is skipped, as players do; a file of nothing but is an error.
            self.bad_in_a_row += 1
            self.first_error = self.first_error or _one_line(exc)
            if self.bad_in_a_row >= MAX_BAD_PACKETS:
                raise DecodeError(f"undecodable audio: {self.first_error}") from exc
            return
        for frame in frames:
            frame.pts = None  # timestamps from damaged files upset the resampler
            for rate, resampler in self.resamplers.items():
                self._add(rate, resampler.resample(frame))

    def samples(self, rate: int) -> int:
        """Samples decoded so far at ``rate``."""
        return self.counts[rate]

    def finish(self) -> dict[int, np.ndarray]:
        out = {}
        for rate, resampler in self.resamplers.items():
            self._add(rate, resampler.resample(None))
            chunks = self.chunks[rate]
            n = 1 if self.layout == "mono" else 2
            out[rate] = np.concatenate(chunks, axis=1) if chunks else np.zeros((n, 0), np.float32)
        return out

    def _add(self, rate: int, frames: list[av.AudioFrame]) -> None:
        for out in frames:
            chunk = out.to_ndarray().astype(np.float32, copy=False)
            self.chunks[rate].append(chunk)
            self.counts[rate] += chunk.shape[1]


def read_audio(
    path: str | Path, *, hash_payload: bool = True, decode_rates: Sequence[int] = ()
) -> tuple[AudioInfo, dict[int, np.ndarray] | None]:
    """One pass over the file's packets: info, payload hash and, optionally, decoded audio.

    The payload hash covers the compressed audio packets only, so re-tagging a file (ID3, Vorbis
    comments, MP4 atoms) keeps it. With ``decode_rates`` the audio is decoded once and comes back
    resampled to each rate: ``{rate: float32 (channels, samples)}``, one or two channels.
    """
    try:
        fmt = sniff_format(path)
    except NotAudioError as exc:
        raise DecodeError(str(exc)) from exc
    except OSError as exc:
        raise DecodeError(_one_line(exc)) from exc
    container = _open(path)
    try:
        stream = _audio_stream(container)
        ctx = stream.codec_context
        digest = hashlib.blake2b(digest_size=16) if hash_payload else None
        if digest is not None:
            digest.update((ctx.name or "").encode())
        decoder = _Decoder(stream, decode_rates) if decode_rates else None
        time_base = stream.time_base
        first_pts: int | None = None
        end_pts = 0
        summed = 0
        n_packets = 0
        max_packet_ticks = int(MAX_PACKET_SECONDS / time_base) if time_base else 1 << 62
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                n_packets += 1
                if digest is not None:
                    digest.update(memoryview(packet))
                # Some muxers write a wrapped negative duration on the last packet.
                length = packet.duration or 0
                if length < 0 or length > max_packet_ticks:
                    length = 0
                pts = packet.pts
                if pts is not None:
                    if first_pts is None:
                        first_pts = pts
                    if pts + length > end_pts:
                        end_pts = pts + length
                summed += length
                if decoder is not None:
                    decoder.feed(packet)
        except av.error.FFmpegError as exc:
            if n_packets == 0:
                raise DecodeError(_one_line(exc)) from exc
            # A damaged tail: keep what came before it, as players do.
        if n_packets == 0:
            raise DecodeError("no audio data")
        audio = decoder.finish() if decoder is not None else None
        if first_pts is not None and time_base is not None:
            duration = float((end_pts - first_pts) * time_base)
        elif summed and time_base is not None:
            duration = float(summed * time_base)
        elif audio is not None:
            rate = max(audio)
            duration = audio[rate].shape[1] / rate
        else:
            duration = float(container.duration or 0) / av.time_base
        if audio is not None and any(a.shape[1] == 0 for a in audio.values()):
            raise DecodeError("no decodable audio")
        declared = None
        if stream.duration is not None and time_base is not None:
            declared = float(stream.duration * time_base)
        elif container.duration is not None:
            declared = float(container.duration) / av.time_base
        info = AudioInfo(
            format=fmt,
            codec=ctx.name,
            sample_rate=int(ctx.sample_rate or 0),
            channels=int(ctx.channels or 0),
            duration=duration,
            bitrate=int(ctx.bit_rate or container.bit_rate or 0) or None,
            declared_duration=declared,
            payload_hash=digest.hexdigest() if digest is not None else None,
        )
        return info, audio
    finally:
        container.close()


def declared_duration(path: str | Path) -> float | None:
    """The length the file's headers declare, in seconds (nothing is decoded), or None."""
    container = _open(path)
    try:
        stream = _audio_stream(container)
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return float(container.duration) / av.time_base
        return None
    finally:
        container.close()


def decode(
    path: str | Path,
    rate: int,
    *,
    start: float = 0.0,
    duration: float | None = None,
    mono: bool = True,
) -> np.ndarray:
    """Decode ``path`` to float32 at ``rate``: mono ``(samples,)`` or ``(channels, samples)``.

    With ``start`` the decoder seeks there first, so a window near the end of a long file costs
    about as much as one at its start.
    """
    container = _open(path)
    try:
        stream = _audio_stream(container)
        if start > 0 and stream.time_base is not None:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        decoder = _Decoder(stream, [rate])
        want = None if duration is None else int(round(duration * rate))
        skip: int | None = None
        have = 0
        try:
            for packet in container.demux(stream):
                if skip is None and packet.pts is not None and stream.time_base is not None:
                    # The seek lands on or before ``start``; trim the difference exactly.
                    skip = max(0, int(round((start - float(packet.pts * stream.time_base)) * rate)))
                decoder.feed(packet)
                have = decoder.samples(rate) - (skip or 0)
                if want is not None and have >= want:
                    break
        except av.error.FFmpegError as exc:
            if not decoder.samples(rate):
                raise DecodeError(_one_line(exc)) from exc
        audio = decoder.finish()[rate]
    finally:
        container.close()
    audio = audio[:, skip or 0 :]
    if want is not None:
        audio = audio[:, :want]
    if audio.shape[1] == 0:
        raise DecodeError("no decodable audio in the requested window")
    return audio.mean(axis=0) if mono else audio
