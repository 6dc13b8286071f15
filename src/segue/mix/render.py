"""Render a playlist as one continuous mix file, streaming.

``render_mix(tracks, "mix.mp3")`` gathers each track's facts (stored descriptors, or computed
now from the decoded audio), plans the mix (:mod:`segue.mix.plan`), then renders it block by
block (one second at a time):

* each playing track is decoded by a :class:`~segue.audio.stream.StreamReader` opened when its
  region starts and closed when it ends, so at most two tracks are open and memory stays flat
  however long the mix is;
* gain to the target loudness; equal-power curves over each overlap (``sin``/``cos`` of the
  same position, on the same integer sample span, so the two gains always add to unit power);
* bass swap: a 4th-order Butterworth high-pass (``scipy.signal.sosfilt``, state carried from
  block to block) on the incoming track until the overlap's midpoint and on the outgoing track
  after it, cross-faded over 0.25 s around the midpoint so the swap does not click;
* a look-ahead true-peak limiter (:mod:`segue.mix.limiter`) on the sum;
* a streaming encoder (:mod:`segue.audio.encode`) that writes to a temporary file and renames it
  only when the whole mix is done.

Beside the audio: ``<name>.cue`` (CUE sheet) and ``<name>.txt`` (tracklist); chapters and tags in
the file where its format has them. A missing or undecodable track is skipped with a warning;
a track that fails part-way through the render is padded with silence (the plan, and so the
times in the CUE sheet and chapters, stay right) and reported.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import signal

from segue.audio.decode import decode
from segue.audio.encode import AudioWriter, Chapter, Tags, output_format, output_rate
from segue.audio.stream import StreamReader
from segue.errors import DecodeError, UserError
from segue.interrupts import interrupts_at_checks
from segue.mix.cue import CueTrack, cue_sheet, tracklist
from segue.mix.limiter import TruePeakLimiter
from segue.mix.plan import MixOptions, MixPlan, Segment, TrackFacts, Transition, plan_mix

BLOCK_S = 1.0
EDGE_RAMP_S = 0.01  # a click-free start and end for the mix's first and last sample
SWAP_RAMP_S = 0.25
ANALYSIS_RATE = 44100

Warn = Callable[[str], None]


@dataclass
class MixTrack:
    """One track to mix: a file, what to call it, and its descriptors if they are known."""

    path: str
    title: str | None = None
    artist: str | None = None
    descriptors: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        title = self.title or Path(self.path).stem
        return f"{self.artist} - {title}" if self.artist else title


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class PlacedTrack:
    """Where a track landed in the mix (mix seconds) and how it was played."""

    path: str
    title: str
    artist: str | None
    start: float
    end: float
    file_start: float
    file_end: float
    gain_db: float
    speed: float
    transition_in: Transition | None = None


@dataclass
class MixResult:
    output: Path
    cue: Path
    tracklist: Path
    duration: float
    tracks: list[PlacedTrack]
    skipped: list[Skipped]
    render_seconds: float
    limited_seconds: float
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready summary (what ``segue mix --json`` prints)."""
        return {
            "output": str(self.output),
            "cue": str(self.cue),
            "tracklist": str(self.tracklist),
            "duration": round(self.duration, 3),
            "render_seconds": round(self.render_seconds, 3),
            "speed_x_realtime": round(self.duration / max(self.render_seconds, 1e-9), 1),
            "limited_seconds": round(self.limited_seconds, 3),
            "tracks": [
                {
                    "path": t.path, "title": t.title, "artist": t.artist,
                    "start": round(t.start, 3), "end": round(t.end, 3),
                    "file_start": round(t.file_start, 3), "file_end": round(t.file_end, 3),
                    "gain_db": round(t.gain_db, 2), "speed": round(t.speed, 5),
                    "transition": None if t.transition_in is None else {
                        "overlap": round(t.transition_in.overlap, 3),
                        "beatmatched": t.transition_in.beatmatched,
                        "bars": t.transition_in.bars,
                        "reason": t.transition_in.reason,
                    },
                }
                for t in self.tracks
            ],  # fmt: skip
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
        }


def _stderr_warn(text: str) -> None:
    print(f"segue: warning: {text}", file=sys.stderr, flush=True)


def gather_facts(tracks: Sequence[MixTrack], warn: Warn = _stderr_warn
                 ) -> tuple[list[TrackFacts | None], list[Skipped]]:  # fmt: skip
    """Each track's facts, or None (and a Skipped entry) when it cannot be played."""
    from segue.listen.descriptors import compute_descriptors

    facts: list[TrackFacts | None] = []
    skipped: list[Skipped] = []

    def skip(t: MixTrack, reason: str) -> None:
        facts.append(None)
        skipped.append(Skipped(t.path, reason))
        warn(f"skipping {t.path}: {reason}")

    for t in tracks:
        if not os.path.isfile(t.path):
            skip(t, "no such file")
            continue
        try:
            if t.descriptors is None:
                audio = decode(t.path, ANALYSIS_RATE, mono=False)
                d = compute_descriptors(audio, ANALYSIS_RATE).to_dict()
                del audio
            else:
                d = t.descriptors
                # a cheap check that the file still decodes where the mix will start it
                start = d.get("music_start") or 0.0
                decode(t.path, ANALYSIS_RATE, start=float(start), duration=0.5, mono=False)
        except DecodeError as exc:
            skip(t, f"cannot decode: {exc}")
            continue
        f = TrackFacts.from_descriptors(d)
        if f.end - f.start < 1.0:
            skip(t, "no music in it (silent or under a second)")
            continue
        facts.append(f)
    return facts, skipped


def _outputs_beside(output: Path) -> tuple[Path, Path]:
    return output.with_suffix(".cue"), output.with_suffix(".txt")


def render_mix(
    tracks: Sequence[MixTrack],
    output: str | os.PathLike[str],
    options: MixOptions | None = None,
    *,
    title: str | None = None,
    cover: bytes | None = None,
    progress: bool = True,
    warn: Warn = _stderr_warn,
    on_progress: Callable[[float], None] | None = None,
) -> MixResult:
    """Render ``tracks`` in order as one mix at ``output`` (format from the extension).

    ``on_progress`` is called with the share rendered so far (0..1) after every block, for
    callers that show their own progress (the web app).
    """
    from segue.files import atomic_write_text
    from segue.progress import Progress

    options = options or MixOptions()
    output = Path(output).expanduser().absolute()
    output_format(output)  # a bad extension fails before any decoding
    if not output.parent.is_dir():
        raise UserError(f"cannot write {output}: no such folder {output.parent}")
    began = time.perf_counter()
    facts, skipped = gather_facts(tracks, warn)
    usable = [i for i, f in enumerate(facts) if f is not None]
    if not usable:
        raise UserError("nothing to mix: none of the tracks could be read")
    plan = plan_mix([facts[i] for i in usable], options)
    for s in plan.segments:
        s.index = usable[s.index]
    rate = output_rate(output)
    starts = [int(round(s.mix_start * rate)) for s in plan.segments]
    ends = [int(round(s.mix_end * rate)) for s in plan.segments]
    total = ends[-1]

    placed = []
    for k, s in enumerate(plan.segments):
        t = tracks[s.index]
        placed.append(PlacedTrack(
            path=t.path, title=t.title or Path(t.path).stem, artist=t.artist,
            start=starts[k] / rate, end=ends[k] / rate, file_start=s.start, file_end=s.end,
            gain_db=s.gain_db, speed=s.speed,
            transition_in=plan.transitions[k - 1] if k else None,
        ))  # fmt: skip
    chapters = [
        Chapter(p.start, placed[k + 1].start if k + 1 < len(placed) else total / rate,
                tracks[plan.segments[k].index].name)
        for k, p in enumerate(placed)
    ]  # fmt: skip
    name = title or "segue mix"
    artists = list(dict.fromkeys(p.artist for p in placed if p.artist))
    tags = Tags(title=name, album=name, artists=artists, cover=cover,
                comment="mixed by segue")  # fmt: skip

    bar = Progress(math.ceil(total / rate), "mix", unit="s", enabled=progress)
    warnings: list[str] = []
    renderer = _Renderer(tracks, plan, starts, ends, rate, options, warn, warnings)
    limiter = TruePeakLimiter(rate, options.true_peak_db)
    block = int(BLOCK_S * rate)
    try:
        with interrupts_at_checks() as ctrl_c, AudioWriter(output, tags=tags, chapters=chapters) as writer:
            for t0 in range(0, total, block):
                ctrl_c.check()  # leaves no output: the writer removes its temporary file
                t1 = min(total, t0 + block)
                writer.write(limiter.process(renderer.block(t0, t1)))
                bar.advance(1)
                if on_progress is not None:
                    on_progress(t1 / total)
            writer.write(limiter.flush())
            ctrl_c.check()
            writer.finish()
    finally:
        renderer.close()
        bar.close()

    cue_path, txt_path = _outputs_beside(output)
    cue_tracks = [CueTrack(p.start, p.title, p.artist) for p in placed]
    atomic_write_text(cue_path, cue_sheet(output, cue_tracks, title=name,
                                          performer=", ".join(artists) or None))  # fmt: skip
    atomic_write_text(txt_path, tracklist(cue_tracks, title=name))
    return MixResult(
        output=output, cue=cue_path, tracklist=txt_path, duration=total / rate, tracks=placed,
        skipped=skipped, render_seconds=time.perf_counter() - began,
        limited_seconds=limiter.reduced / rate, warnings=warnings,
    )  # fmt: skip


class _Renderer:
    """Produces the pre-limiter mix, one block of output samples at a time, in order."""

    def __init__(self, tracks: Sequence[MixTrack], plan: MixPlan, starts: list[int],
                 ends: list[int], rate: int, options: MixOptions, warn: Warn,
                 warnings: list[str]) -> None:  # fmt: skip
        self.tracks = tracks
        self.segments: list[Segment] = plan.segments
        self.transitions = plan.transitions
        self.starts, self.ends = starts, ends
        self.rate = rate
        self.warn, self.warnings = warn, warnings
        self.readers: dict[int, StreamReader | None] = {}
        self.sos = signal.butter(4, options.bass_cutoff_hz, "highpass", fs=rate, output="sos")
        self.zi: dict[tuple[int, str], np.ndarray] = {}
        self.edge = max(1, int(EDGE_RAMP_S * rate))
        self.first_active = 0

    def block(self, t0: int, t1: int) -> np.ndarray:
        out = np.zeros((2, t1 - t0), dtype=np.float32)
        k = self.first_active
        while k < len(self.segments) and self.starts[k] < t1:
            if self.ends[k] <= t0:
                self._close(k)
                self.first_active = k + 1
            else:
                lo, hi = max(t0, self.starts[k]), min(t1, self.ends[k])
                out[:, lo - t0 : hi - t0] += self._segment(k, lo, hi)
                if hi >= self.ends[k]:
                    self._close(k)
            k += 1
        return out

    def _reader(self, k: int) -> StreamReader | None:
        if k not in self.readers:
            seg, path = self.segments[k], self.tracks[self.segments[k].index].path
            try:
                self.readers[k] = StreamReader(path, int(round(self.rate / seg.speed)), seg.start)
            except DecodeError as exc:
                self._problem(path, f"cannot decode ({exc}); silence in its place")
                self.readers[k] = None
        return self.readers[k]

    def _close(self, k: int) -> None:
        r = self.readers.pop(k, None)
        if r is not None:
            if r.error:
                self._problem(self.tracks[self.segments[k].index].path,
                              f"decode error part-way ({r.error}); the rest is silence")
            r.close()
        self.readers[k] = None  # closed for good: never reopened

    def close(self) -> None:
        for k in list(self.readers):
            r = self.readers.pop(k)
            if r is not None:
                r.close()

    def _problem(self, path: str, text: str) -> None:
        message = f"{path}: {text}"
        self.warnings.append(message)
        self.warn(message)

    def _segment(self, k: int, lo: int, hi: int) -> np.ndarray:
        reader = self._reader(k)
        n = hi - lo
        x = reader.read(n) if reader is not None else np.zeros((2, n), np.float32)
        idx = np.arange(lo, hi, dtype=np.int64)
        env = np.full(n, 10 ** (self.segments[k].gain_db / 20), dtype=np.float64)
        last = len(self.segments) - 1
        # fade-in: the span [start_k, end_{k-1}) is the overlap with the previous track
        if k > 0:
            a, b = self.starts[k], self.ends[k - 1]
            inside = idx < b
            if inside.any():
                u = (idx[inside] - a + 0.5) / max(1, b - a)
                env[inside] *= np.sin(0.5 * np.pi * np.clip(u, 0.0, 1.0))
                if self.transitions[k - 1].bass_swap:
                    x = self._swap(x, k, "in", idx, a, b)
        else:
            env *= np.clip((idx - self.starts[k] + 0.5) / self.edge, 0.0, 1.0)
        if k < last:
            a, b = self.starts[k + 1], self.ends[k]
            inside = idx >= a
            if inside.any():
                u = (idx[inside] - a + 0.5) / max(1, b - a)
                env[inside] *= np.cos(0.5 * np.pi * np.clip(u, 0.0, 1.0))
                if self.transitions[k].bass_swap:
                    x = self._swap(x, k, "out", idx, a, b)
        else:
            env *= np.clip((self.ends[k] - idx - 0.5) / self.edge, 0.0, 1.0)
        return x * env.astype(np.float32)

    def _swap(self, x: np.ndarray, k: int, side: str, idx: np.ndarray, a: int,
              b: int) -> np.ndarray:  # fmt: skip
        """High-pass the part of ``x`` inside [a, b) on the incoming side before the midpoint
        and on the outgoing side after it (cross-faded over SWAP_RAMP_S)."""
        sel = (idx >= a) & (idx < b)
        if not sel.any():
            return x
        i0, i1 = int(np.argmax(sel)), int(len(sel) - np.argmax(sel[::-1]))
        part = x[:, i0:i1]
        zi = self.zi.get((k, side))
        if zi is None:
            zi = np.zeros((self.sos.shape[0], 2, 2))
        hp, self.zi[(k, side)] = signal.sosfilt(self.sos, part, axis=1, zi=zi)
        mid = 0.5 * (a + b)
        ramp = max(1.0, min(SWAP_RAMP_S * self.rate, 0.25 * (b - a)))
        w = np.clip((idx[i0:i1] - (mid - ramp / 2)) / ramp, 0.0, 1.0)  # 0 before mid, 1 after
        full = w if side == "in" else 1.0 - w  # weight of the unfiltered signal
        mixed = hp + (part - hp) * full.astype(np.float32)
        x = x.copy()
        x[:, i0:i1] = mixed
        return x
