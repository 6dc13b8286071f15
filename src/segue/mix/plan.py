"""Planning a mix: which part of each track plays, how loud, how fast, and how tracks meet.

Pure arithmetic on per-track facts (:class:`TrackFacts`: the descriptors, and where the
renderer measured them, the level and bass over each track's first and last minute, see
:mod:`segue.mix.edges`); no audio. The renderer (:mod:`segue.mix.render`) turns a
:class:`MixPlan` into sound. How each transition is chosen is in :mod:`segue.mix.transitions`.

Per track
    The region is the music (``music_start``..``music_end``, leading and trailing silence
    trimmed), shortened at the end where the outro's energy has fallen away (below), or where
    the transition says (a phrase end, the downbeat after a breakdown).
Loudness
    The gain brings the track's integrated loudness to the target (EBU R128), boosts capped at
    +20 dB, and capped by the track's headroom: the stored true peak plus the gain may exceed
    the ceiling by at most ``max_limiting_db``, so no track leans on the limiter for more than
    that, or by up to twice that where its loud peaks are rare (:func:`headroom`). Where the renderer measured the track (its edges, :mod:`segue.mix.edges`) and the
    part that plays alone is louder or quieter than the whole track (a quiet intro left under
    the previous track, a loud finale cut by an echo-out), the gain follows the part played
    (at most 6 dB either way): that is what a listener hears at the target. A track that the
    caps hold off the target by more than 1 LU says so (:attr:`Segment.gain_note`, shown in
    the tracklist).
Where a transition sits (from the energy curves, 2 points/s over the last/first 30 s)
    The outgoing track's *fade end* is where its outro energy has fallen for good: the end of the
    last 0.5 s window within 10 dB of the outro's level (its 90th percentile). A long fade-out
    tail in the recording is skipped; a track that plays full to its end is kept to its end.
Overlaps
    Every overlap is capped at 40 % of either track's region, so a track's fade-in and fade-out
    never meet and no more than two tracks ever sound at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from segue.mix.edges import EdgeProfile

NAN = float("nan")
ENERGY_STEP_S = 0.5  # the descriptors' energy curves: 2 points per second
ENERGY_SPAN_S = 30.0
OUTRO_FALL_DB = 10.0  # the outro has "fallen away" this far below its level
INTRO_BUILT_DB = 6.0  # the intro has "built" when within this of its level
MAX_BOOST_DB = 20.0
MAX_OVERLAP_SHARE = 0.4
MIN_FADE_S = 2.0
DRIFT_LIMIT_S = 0.015  # unstretched tempos beat-match only when they drift less over the overlap
ON_TARGET_LU = 1.0  # a track further than this from the target says why
MAX_PART_OFFSET_DB = 6.0
RARE_PEAKS = 0.03  # share of 50-ms frames the headroom cap lets go 1 dB over the ceiling


@dataclass
class MixOptions:
    """Everything a user can choose about a mix."""

    target_lufs: float = -14.0
    true_peak_db: float = -1.0
    fade: float = 8.0  # seconds
    beatmatch: bool = True
    tempo_tolerance: float = 4.0  # percent
    max_stretch: float = 4.0  # percent of varispeed allowed to match tempos; 0 = never
    min_confidence: float = 0.35
    bass_swap: bool = True
    bass_cutoff_hz: float = 180.0
    half_double: bool = True  # beat-match at half or double time too (70 under 140 bpm)
    max_limiting_db: float = 3.0  # headroom cap: the loudest peak meets at most this limiting
    bass_limiter: bool = True  # take bass-heavy peaks out of the bass before limiting it all
    effects: bool = True  # echo-outs, filtered blends and cuts where tracks cannot beat-match


@dataclass
class TrackFacts:
    """What the planner needs to know about one track (seconds from the file's start)."""

    duration: float
    music_start: float = NAN
    music_end: float = NAN
    bpm: float = NAN
    bpm_confidence: float = 0.0
    downbeats: list[float] = field(default_factory=list)
    loudness_lufs: float = NAN
    intro_energy: list[float] = field(default_factory=list)
    outro_energy: list[float] = field(default_factory=list)
    true_peak_dbtp: float = NAN
    edges: EdgeProfile | None = None  # measured by the renderer; None in pure planning

    @classmethod
    def from_descriptors(cls, d: dict[str, Any], duration: float | None = None) -> TrackFacts:
        """Facts from a descriptors dict (``Descriptors.to_dict()`` or the store's JSON)."""

        def num(key: str, default: float = NAN) -> float:
            v = d.get(key)
            try:
                v = float(v)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return default
            return v if math.isfinite(v) else default

        def floats(key: str) -> list[float]:
            return [float(x) for x in (d.get(key) or []) if x is not None and math.isfinite(x)]

        dur = num("duration", NAN)
        if not math.isfinite(dur):
            dur = float(duration) if duration is not None else NAN
        return cls(
            duration=dur,
            music_start=num("music_start"),
            music_end=num("music_end"),
            bpm=num("bpm"),
            bpm_confidence=num("bpm_confidence", 0.0),
            downbeats=floats("downbeats"),
            loudness_lufs=num("loudness_lufs"),
            intro_energy=floats("intro_energy"),
            outro_energy=floats("outro_energy"),
            true_peak_dbtp=num("true_peak_dbtp"),
        )

    @property
    def start(self) -> float:
        return self.music_start if math.isfinite(self.music_start) else 0.0

    @property
    def end(self) -> float:
        if math.isfinite(self.music_end):
            return self.music_end
        return self.duration if math.isfinite(self.duration) else 0.0

    @property
    def confident(self) -> bool:
        return math.isfinite(self.bpm) and self.bpm > 0 and len(self.downbeats) >= 2


@dataclass
class Segment:
    """One track's part in the mix. ``start``/``end`` in the file's seconds; the rest in mix
    seconds (output time): the region plays from ``mix_start``, then ``tail`` seconds of its
    echo (an echo-out) sound on after it."""

    index: int  # position in the list the plan was made from
    start: float
    end: float
    speed: float  # playback speed (1.0 = as recorded; tempo and pitch scale with it)
    gain_db: float
    mix_start: float = 0.0
    tail: float = 0.0
    planned_lufs: float = NAN  # the track's loudness after the gain (NaN: unknown)
    gain_note: str = ""  # why the track sits off the target, when it does

    @property
    def region_length(self) -> float:
        """Mix seconds of the track's own audio."""
        return (self.end - self.start) / self.speed

    @property
    def length(self) -> float:
        """Mix seconds the track sounds, its echo tail included."""
        return self.region_length + self.tail

    @property
    def mix_end(self) -> float:
        return self.mix_start + self.length


#: how tracks can meet (``Transition.kind``)
KINDS = ("beatmatch", "blend", "filter", "echo", "cut")


@dataclass
class Transition:
    """How segment ``i`` hands over to segment ``i + 1``.

    kinds: ``beatmatch`` (tempos matched, downbeats aligned, phrase-long), ``blend`` (an
    equal-power crossfade), ``filter`` (a long blend with the outgoing track thinning out
    through a rising high-pass and the incoming one opening through a low-pass), ``echo`` (the
    outgoing track stops on a downbeat and its last beat echoes on under the incoming one),
    ``cut`` (straight from one to the other on a downbeat).
    """

    overlap: float  # mix seconds both tracks sound
    beatmatched: bool
    reason: str
    bars: int = 0
    bass_swap: bool = True
    kind: str = "blend"
    swap: float | None = None  # mix seconds into the overlap where the basses swap
    echo_delay: float = 0.0  # mix seconds between echoes (kind "echo")

    def describe(self) -> str:
        """One line for the tracklist: kind, length, bars or seconds, and why."""
        names = {"beatmatch": "beat-matched blend", "blend": "crossfade",
                 "filter": "filtered blend", "echo": "echo out", "cut": "cut"}  # fmt: skip
        length = f"{self.bars} bars ({self.overlap:.1f} s)" if self.bars else f"{self.overlap:.1f} s"
        if self.kind == "cut":
            length = "on the downbeat" if self.bars else "straight"
        return f"{names.get(self.kind, self.kind)}, {length}: {self.reason}"


@dataclass
class MixPlan:
    segments: list[Segment]
    transitions: list[Transition]

    @property
    def duration(self) -> float:
        return self.segments[-1].mix_end if self.segments else 0.0


def outro_fade_end(f: TrackFacts) -> float:
    """File time where the outro has fallen away for good (see module docstring)."""
    curve = np.asarray(f.outro_energy, dtype=float)
    if curve.size < 4:
        return f.end
    t0 = max(f.start, f.end - ENERGY_SPAN_S)
    level = float(np.percentile(curve, 90))
    loud = np.flatnonzero(curve >= level - OUTRO_FALL_DB)
    k = int(loud[-1]) if loud.size else curve.size - 1
    if k >= curve.size - 1:
        return f.end  # loud to the last window: play to the end of the music
    return min(f.end, t0 + ENERGY_STEP_S * (k + 1))


def headroom(f: TrackFacts, o: MixOptions, part: tuple[float, float] | None = None
             ) -> tuple[float, str]:  # fmt: skip
    """The most gain the track's peaks allow, and how to say so when it holds the track back.

    Always ``max_limiting_db`` at the loudest peak. Where the edges' frame peaks show that
    the track only rarely comes near that peak (anchored on the stored true peak: the loudest
    frame is the true peak), more, up to twice ``max_limiting_db`` at the loudest peak, as long
    as no more than :data:`RARE_PEAKS` of the frames of the part played go more than 1 dB over
    the ceiling: a few loud hits may be limited hard, a dense track not at all much."""
    tp = f.true_peak_dbtp
    if not math.isfinite(tp):
        return math.inf, ""
    allow = max(o.max_limiting_db, 0.0)
    room = o.true_peak_db + allow - tp
    if f.edges is not None:
        frames = f.edges.peaks(*part) if part is not None else np.zeros(0)
        if frames.size < 100:
            frames = f.edges.peaks(f.start, f.end)
        loudest = f.edges.peaks(f.start, f.end)
        if frames.size >= 100 and loudest.size:
            busy = float(np.percentile(frames, 100 * (1 - RARE_PEAKS))) + tp - float(loudest.max())
            room = max(room, min(o.true_peak_db + 1.0 - busy, o.true_peak_db + 2 * allow - tp))
    return room, (f"capped by headroom (peaks at {tp:+.1f} dBTP; "
                  f"{o.max_limiting_db:g} dB of limiting at most, more for rare peaks)")  # fmt: skip


def gain_for(f: TrackFacts, o: MixOptions, part: tuple[float, float] | None = None
             ) -> tuple[float, float, str]:  # fmt: skip
    """(gain dB, loudness of the part played after it, why it is off the target or "") for one
    track; ``part`` is the stretch (file seconds) that plays alone, when known."""
    if not math.isfinite(f.loudness_lufs) or f.loudness_lufs < -70:
        return 0.0, NAN, "loudness unknown: played as recorded"
    offset = 0.0  # how much louder the part played is than the whole track
    if part is not None and f.edges is not None:
        whole, played = f.edges.loudness(f.start, f.end), f.edges.loudness(*part)
        if math.isfinite(whole) and math.isfinite(played):
            offset = min(max(played - whole, -MAX_PART_OFFSET_DB), MAX_PART_OFFSET_DB)
    loudness = f.loudness_lufs + offset
    want = o.target_lufs - loudness
    gain, note = want, ""
    if gain > MAX_BOOST_DB:
        gain, note = MAX_BOOST_DB, f"boost capped at +{MAX_BOOST_DB:.0f} dB"
    room, why = headroom(f, o, part)
    if gain > room:
        gain, note = room, why
    lufs = loudness + gain
    if abs(lufs - o.target_lufs) <= ON_TARGET_LU:
        note = ""
    return gain, lufs, note


def plan_mix(facts: Sequence[TrackFacts], options: MixOptions | None = None) -> MixPlan:
    """Plan a mix of ``facts`` in order (tracks with under a second of music are left out)."""
    from segue.mix.transitions import choose_transition

    o = options or MixOptions()
    segs: list[Segment] = []
    kept: list[TrackFacts] = []
    for i, f in enumerate(facts):
        if f.end - f.start < 1.0:
            continue
        segs.append(Segment(i, f.start, f.end, 1.0, 0.0))
        kept.append(f)
    transitions: list[Transition] = []
    fade_in_len = [0.0] * len(segs)  # mix seconds of each segment already used by its fade-in
    for k in range(len(segs) - 1):
        t = choose_transition(segs[k], segs[k + 1], kept[k], kept[k + 1], fade_in_len[k], o)
        transitions.append(t)
        fade_in_len[k + 1] = t.overlap
    for k, (s, f) in enumerate(zip(segs, kept, strict=True)):
        fade_out = transitions[k].overlap - s.tail if k < len(transitions) else 0.0
        part = (s.start + fade_in_len[k] * s.speed, s.end - max(fade_out, 0.0) * s.speed)
        s.gain_db, s.planned_lufs, s.gain_note = gain_for(f, o, part if part[1] > part[0] else None)
    # place the segments end to end, minus the overlaps
    pos = 0.0
    for k, s in enumerate(segs):
        s.mix_start = pos
        pos = s.mix_end - (transitions[k].overlap if k < len(transitions) else 0.0)
    return MixPlan(segs, transitions)
