"""Render a playlist as one continuous mix file, streaming.

``render_mix(tracks, "mix.mp3")`` gathers each track's facts (stored descriptors, or computed
now from the decoded audio), plans the mix (:mod:`segue.mix.plan`), then renders it block by
block (one second at a time):

* each playing track is decoded by a :class:`~segue.audio.stream.StreamReader` opened when its
  region starts and closed when it ends, so at most two tracks are open and memory stays flat
  however long the mix is;
* before planning, each track's first and last minute is measured (level and bass every 50 ms,
  :mod:`segue.mix.edges`, two tracks at a time) so the planner can find phrases, breakdowns,
  quiet passages and where the bass comes in;
* gain to the target loudness (capped by the track's headroom); equal-power curves over each
  overlap (``sin``/``cos`` of the same position, on the same integer sample span, so the two
  gains always add to unit power);
* bass swap (:class:`~segue.mix.effects.BandSplit` at ``bass_cutoff_hz``): inside an overlap the
  band below the cutoff does not follow the fade; the outgoing track's bass stays at full level
  until the swap and the incoming one's comes in at full level there, over 20 ms ending on the
  swap's downbeat, so the low end is continuous and two basslines never play together;
* filtered blends (:class:`~segue.mix.effects.Sweep`: the outgoing track through a high-pass
  rising from 20 Hz to 2 kHz, the incoming one through a low-pass opening from 250 Hz) and
  echo-outs (:func:`~segue.mix.effects.echo_tail`) where the plan has them;
* a two-stage look-ahead limiter (:class:`~segue.mix.limiter.MixLimiter`) on the sum, whose
  gain reduction is kept per 10-ms window for the report, and a loudness meter
  (:mod:`segue.mix.meter`) on what comes out of it;
* a streaming encoder (:mod:`segue.audio.encode`, on its own thread) that writes to a temporary
  file and renames it only when the whole mix is done.

Beside the audio: ``<name>.cue`` (CUE sheet) and ``<name>.txt`` (tracklist: each transition
described, each track's measured loudness, and why when it is off the target, and how much the
limiter worked on it); chapters and tags in the file where its format has them. A missing or undecodable track is skipped with a warning;
a track that fails part-way through the render is padded with silence (the plan, and so the
times in the CUE sheet and chapters, stay right) and reported.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segue.audio.decode import decode
from segue.audio.encode import AudioWriter, Chapter, Tags, output_format, output_rate
from segue.audio.stream import StreamReader
from segue.errors import DecodeError, UserError
from segue.interrupts import interrupts_at_checks
from segue.mix.cue import CueTrack, cue_sheet, tracklist
from segue.mix.edges import analyse_edges
from segue.mix.effects import BandSplit, Sweep, echo_snippet, echo_tail
from segue.mix.limiter import MixLimiter, ReductionStats, reduction_stats
from segue.mix.meter import LoudnessMeter
from segue.mix.plan import (
    ON_TARGET_LU,
    MixOptions,
    MixPlan,
    Segment,
    TrackFacts,
    Transition,
    plan_mix,
)

BLOCK_S = 1.0
EDGE_RAMP_S = 0.01  # a click-free start and end for the mix's first and last sample
SWAP_RAMP_S = 0.02  # the bass swap: over this long, ending on the swap's downbeat
CUT_RAMP = 64  # samples: the incoming track's click-free start in a cut or an echo-out
ANALYSIS_RATE = 44100
ANALYSIS_THREADS = 2
MIN_SOLO_S = 3.0  # a track's loudness is measured where it plays alone, if that is this long
FILTER_IN_HZ = (250.0, 20000.0)  # the incoming low-pass opens
FILTER_OUT_HZ = (20.0, 2000.0)  # the outgoing high-pass rises

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
    lufs: float = float("nan")  # measured on the output, where the track plays alone
    planned_lufs: float = float("nan")
    loudness_note: str = ""  # why the track is off the target, when it is
    limiter: ReductionStats | None = None  # over the track's chapter of the output
    bass_limiter: ReductionStats | None = None  # the bass stage's (low band only)
    tail: float = 0.0  # seconds its echo sounds on after its own audio (an echo-out)


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
    limiter: ReductionStats | None = None  # over the whole mix

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
            "limiter": None if self.limiter is None else self.limiter.to_json(),
            "tracks": [
                {
                    "path": t.path, "title": t.title, "artist": t.artist,
                    "start": round(t.start, 3), "end": round(t.end, 3),
                    "file_start": round(t.file_start, 3), "file_end": round(t.file_end, 3),
                    "gain_db": round(t.gain_db, 2), "speed": round(t.speed, 5),
                    "lufs": _num(t.lufs, 2), "planned_lufs": _num(t.planned_lufs, 2),
                    "loudness_note": t.loudness_note or None,
                    "limiter": None if t.limiter is None else t.limiter.to_json(),
                    "bass_limiter": None if t.bass_limiter is None else t.bass_limiter.to_json(),
                    "tail": round(t.tail, 3),
                    "transition": None if t.transition_in is None else {
                        "kind": t.transition_in.kind,
                        "overlap": round(t.transition_in.overlap, 3),
                        "beatmatched": t.transition_in.beatmatched,
                        "bars": t.transition_in.bars,
                        "swap": _num(t.transition_in.swap, 3),
                        "reason": t.transition_in.reason,
                        "description": t.transition_in.describe(),
                    },
                }
                for t in self.tracks
            ],  # fmt: skip
            "skipped": [{"path": s.path, "reason": s.reason} for s in self.skipped],
            "warnings": list(self.warnings),
        }


def _num(v: float | None, digits: int) -> float | None:
    return None if v is None or not math.isfinite(v) else round(v, digits)


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


def measure_edges(tracks: Sequence[MixTrack], facts: Sequence[TrackFacts | None],
                  warn: Warn = _stderr_warn, progress: bool = False) -> None:  # fmt: skip
    """Fill each track's ``facts.edges`` (level and bass over its first and last minute), two
    tracks at a time; a track that fails to decode keeps None (the planner falls back to its
    descriptors)."""
    from segue.progress import Progress

    def one(k: int) -> None:
        f = facts[k]
        assert f is not None
        try:
            f.edges = analyse_edges(tracks[k].path, f.start, f.end, f.duration)
        except DecodeError as exc:
            warn(f"{tracks[k].path}: cannot measure its edges ({exc}); planning from descriptors")

    todo = [k for k, f in enumerate(facts) if f is not None]
    bar = Progress(len(todo), "mix: listening to the tracks' edges", unit="tracks",
                   enabled=progress)  # fmt: skip
    try:
        with ThreadPoolExecutor(max_workers=ANALYSIS_THREADS) as pool:
            for _ in pool.map(one, todo):
                bar.advance(1)
    finally:
        bar.close()


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
    measure_edges(tracks, facts, warn, progress)
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
            gain_db=s.gain_db, speed=s.speed, tail=s.tail,
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
    limiter = MixLimiter(rate, options.true_peak_db, bass_first=options.bass_limiter)
    meter = LoudnessMeter(rate)
    block = int(BLOCK_S * rate)

    def out(y: np.ndarray) -> None:
        meter.process(y)
        writer.write(y)

    try:
        with interrupts_at_checks() as ctrl_c, AudioWriter(output, tags=tags, chapters=chapters) as writer:
            for t0 in range(0, total, block):
                ctrl_c.check()  # leaves no output: the writer removes its temporary file
                t1 = min(total, t0 + block)
                out(limiter.process(renderer.block(t0, t1)))
                bar.advance(1)
                if on_progress is not None:
                    on_progress(t1 / total)
            out(limiter.flush())
            ctrl_c.check()
            writer.finish()
    finally:
        renderer.close()
        bar.close()

    windows = limiter.window_db
    _measure_tracks(placed, plan, meter, windows, limiter.bass_window_db, options)
    cue_path, txt_path = _outputs_beside(output)
    cue_tracks = [CueTrack(p.start, p.title, p.artist, _notes(p)) for p in placed]
    atomic_write_text(cue_path, cue_sheet(output, cue_tracks, title=name,
                                          performer=", ".join(artists) or None))  # fmt: skip
    whole = reduction_stats(windows)
    atomic_write_text(txt_path, tracklist(cue_tracks, title=name,
                                          footer=f"whole mix: {whole.describe()}"))  # fmt: skip
    return MixResult(
        output=output, cue=cue_path, tracklist=txt_path, duration=total / rate, tracks=placed,
        skipped=skipped, render_seconds=time.perf_counter() - began,
        limited_seconds=limiter.reduced / rate, warnings=warnings, limiter=whole,
    )  # fmt: skip


def _measure_tracks(placed: list[PlacedTrack], plan: MixPlan, meter: LoudnessMeter,
                    windows: np.ndarray, bass_windows: np.ndarray, o: MixOptions) -> None:  # fmt: skip
    """Each track's loudness (where it plays alone) and the limiter's work on its chapter."""
    from segue.mix.limiter import STATS_WINDOW_S

    for k, p in enumerate(placed):
        seg = plan.segments[k]
        solo0 = placed[k - 1].end if k else p.start
        solo1 = placed[k + 1].start if k + 1 < len(placed) else p.end
        if solo1 - solo0 < MIN_SOLO_S:
            solo0, solo1 = p.start, p.end
        p.lufs = meter.lufs(solo0, solo1)
        p.planned_lufs = seg.planned_lufs
        chapter_end = placed[k + 1].start if k + 1 < len(placed) else p.end
        a, b = int(p.start / STATS_WINDOW_S), int(chapter_end / STATS_WINDOW_S)
        p.limiter = reduction_stats(windows[a:b])
        p.bass_limiter = reduction_stats(bass_windows[a:b]) if bass_windows.size else None
        if math.isfinite(p.lufs) and abs(p.lufs - o.target_lufs) > ON_TARGET_LU:
            bass = p.bass_limiter.mean_db if p.bass_limiter is not None else 0.0
            limited = p.limiter.mean_db > 0.05 or bass > 0.1
            if seg.gain_note:
                why = seg.gain_note
            elif limited and p.lufs < seg.planned_lufs - 0.5:
                why = "held down by the limiter" + (" (mostly its bass)" if bass > p.limiter.mean_db
                                                    else "")  # fmt: skip
            elif p.lufs > o.target_lufs:
                why = "the part played is louder than the track as a whole"
            else:
                why = "the part played is quieter than the track as a whole"
            p.loudness_note = f"{p.lufs:.1f} LUFS: {why}"


def _notes(p: PlacedTrack) -> list[str]:
    """The tracklist's lines under a track: how it came in, how loud, how limited."""
    lines = []
    if p.transition_in is not None:
        lines.append(f"in: {p.transition_in.describe()}")
    loud = p.loudness_note or (f"{p.lufs:.1f} LUFS" if math.isfinite(p.lufs) else "")
    limited = p.limiter.describe() if p.limiter is not None else ""
    if p.bass_limiter is not None and p.bass_limiter.max_db >= 0.05:
        b = p.bass_limiter
        limited += (f" (bass: {b.share_over_1db * 100:.0f} % of the time > 1 dB, "
                    f"max {b.max_db:.1f} dB)")  # fmt: skip
    lines.append("; ".join(x for x in (loud, limited) if x))
    return [x for x in lines if x]


class _Renderer:
    """Produces the pre-limiter mix, one block of output samples at a time, in order."""

    def __init__(self, tracks: Sequence[MixTrack], plan: MixPlan, starts: list[int],
                 ends: list[int], rate: int, options: MixOptions, warn: Warn,
                 warnings: list[str]) -> None:  # fmt: skip
        self.tracks = tracks
        self.segments: list[Segment] = plan.segments
        self.transitions = plan.transitions
        self.starts, self.ends = starts, ends
        # where each track's own audio stops (an echo tail may sound on after it)
        self.dry_ends = [min(e, st + int(round(s.region_length * rate)))
                         for s, st, e in zip(plan.segments, starts, ends, strict=True)]  # fmt: skip
        self.rate = rate
        self.cutoff = options.bass_cutoff_hz
        self.warn, self.warnings = warn, warnings
        self.readers: dict[int, StreamReader | None] = {}
        self.splits: dict[tuple[int, str], BandSplit] = {}
        self.sweeps: dict[tuple[int, str], Sweep] = {}
        self.last_beat: dict[int, np.ndarray] = {}  # echo-out segments: their latest output
        self.snippets: dict[int, np.ndarray] = {}
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
        for key in [key for key in (*self.splits, *self.sweeps) if key[0] == k]:
            self.splits.pop(key, None)
            self.sweeps.pop(key, None)

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
        n = hi - lo
        idx = np.arange(lo, hi, dtype=np.int64)
        dry_end = self.dry_ends[k]
        x = np.zeros((2, n), np.float32)
        m = max(0, min(hi, dry_end) - lo)  # samples of the track's own audio in this block
        if m:
            reader = self._reader(k)
            if reader is not None:
                x[:, :m] = reader.read(m)
        x *= np.float32(10 ** (self.segments[k].gain_db / 20))
        env = np.ones(n)  # the whole signal's gain (the band above the cutoff when split)
        low = np.ones(n)  # the gain of the band below the cutoff
        splits: list[tuple[str, np.ndarray]] = []
        last = len(self.segments) - 1
        if k > 0:
            x = self._incoming(k, x, idx, env, low, splits)
        else:
            ramp = np.clip((idx - self.starts[k] + 0.5) / self.edge, 0.0, 1.0)
            env *= ramp
            low *= ramp
        if k < last:
            x = self._outgoing(k, x, idx, env, low, splits, dry_end)
        else:
            ramp = np.clip((self.ends[k] - idx - 0.5) / self.edge, 0.0, 1.0)
            env *= ramp
            low *= ramp
        y = x * env.astype(np.float32)
        for side, sel in splits:  # the bass swap: the low band gets its own gain
            lo_band, hi_band = self._split(k, side).split(x[:, sel])
            y[:, sel] = lo_band * low[sel].astype(np.float32) + hi_band * env[sel].astype(np.float32)
        if k < last and self.transitions[k].kind == "echo":
            y = self._echo(k, y, idx, m, dry_end)
        return y

    def _split(self, k: int, side: str) -> BandSplit:
        if (k, side) not in self.splits:
            self.splits[(k, side)] = BandSplit(self.cutoff, self.rate)
        return self.splits[(k, side)]

    def _sweep(self, k: int, side: str, kind: str, f0: float, f1: float) -> Sweep:
        if (k, side) not in self.sweeps:
            self.sweeps[(k, side)] = Sweep(kind, f0, f1, self.rate)
        return self.sweeps[(k, side)]

    def _swap_weight(self, t: Transition, a: int, b: int, idx: np.ndarray) -> np.ndarray:
        """0 before the swap, 1 from the swap's downbeat on (a short ramp ending on it)."""
        assert t.swap is not None
        at = a + t.swap * self.rate
        ramp = max(1.0, min(SWAP_RAMP_S * self.rate, 0.25 * (b - a)))
        return np.clip((idx - (at - ramp)) / ramp, 0.0, 1.0)

    def _incoming(self, k: int, x: np.ndarray, idx: np.ndarray, env: np.ndarray, low: np.ndarray,
                  splits: list[tuple[str, np.ndarray]]) -> np.ndarray:  # fmt: skip
        """Shape segment ``k``'s entry over the overlap [start_k, end_(k-1))."""
        t = self.transitions[k - 1]
        a, b = self.starts[k], self.ends[k - 1]
        sel = (idx >= a) & (idx < b)
        if not sel.any():
            return x
        u = (idx[sel] - a + 0.5) / max(1, b - a)
        g = np.sin(0.5 * np.pi * np.clip(u, 0.0, 1.0))
        if t.kind in ("echo", "cut"):  # straight in on the downbeat, its first beat whole
            g = np.clip((idx[sel] - a + 0.5) / CUT_RAMP, 0.0, 1.0)
        env[sel] *= g
        if t.kind == "filter":
            x = x.copy()
            x[:, sel] = self._sweep(k, "in", "lowpass", *FILTER_IN_HZ).process(x[:, sel], u)
        if t.swap is not None:
            low[sel] *= np.sin(0.5 * np.pi * self._swap_weight(t, a, b, idx[sel]))
            splits.append(("in", sel))
        else:
            low[sel] *= g
        return x

    def _outgoing(self, k: int, x: np.ndarray, idx: np.ndarray, env: np.ndarray, low: np.ndarray,
                  splits: list[tuple[str, np.ndarray]], dry_end: int) -> np.ndarray:  # fmt: skip
        """Shape segment ``k``'s exit over the overlap [start_(k+1), end_k)."""
        t = self.transitions[k]
        a, b = self.starts[k + 1], self.ends[k]
        if t.kind == "echo":  # the dry signal stops on the downbeat; the echo follows
            ramp = np.clip((dry_end - idx - 0.5) / self.edge, 0.0, 1.0)
            env *= ramp
            low *= ramp
            return x
        sel = (idx >= a) & (idx < b)
        if not sel.any():
            return x
        u = (idx[sel] - a + 0.5) / max(1, b - a)
        g = np.cos(0.5 * np.pi * np.clip(u, 0.0, 1.0))
        env[sel] *= g
        if t.kind == "filter":
            x = x.copy()
            x[:, sel] = self._sweep(k, "out", "highpass", *FILTER_OUT_HZ).process(x[:, sel], u)
        if t.swap is not None:
            low[sel] *= np.cos(0.5 * np.pi * self._swap_weight(t, a, b, idx[sel]))
            splits.append(("out", sel))
        else:
            low[sel] *= g
        return x

    def _echo(self, k: int, y: np.ndarray, idx: np.ndarray, m: int, dry_end: int) -> np.ndarray:
        """Keep the latest beat of the dry output; after the dry end, its echoes."""
        t = self.transitions[k]
        d = max(1, int(round(t.echo_delay * self.rate)))
        if m:
            kept = self.last_beat.get(k, np.zeros((2, 0), np.float32))
            self.last_beat[k] = np.concatenate([kept, y[:, :m]], axis=1)[:, -d:]
        tail = idx >= dry_end
        if tail.any():
            if k not in self.snippets:
                self.snippets[k] = echo_snippet(self.last_beat.pop(k, np.zeros((2, 0))), self.rate)
            y = y.copy()
            y[:, tail] += echo_tail(self.snippets[k], idx[tail] - dry_end, self.ends[k] - dry_end)
        return y
