"""Planning a mix: which part of each track plays, how loud, how fast, and how tracks meet.

Pure arithmetic on per-track facts (:class:`TrackFacts`, from the descriptors); no audio. The
renderer (:mod:`segue.mix.render`) turns a :class:`MixPlan` into sound.

Per track
    The region is the music (``music_start``..``music_end``, leading and trailing silence
    trimmed), shortened at the end where the outro's energy has fallen away (below). The gain
    brings the track's integrated loudness to the target (EBU R128), boosts capped at +20 dB.

Where a transition sits (from the energy curves, 2 points/s over the last/first 30 s)
    The outgoing track's *fade end* is where its outro energy has fallen for good: the end of the
    last 0.5 s window within 10 dB of the outro's level (its 90th percentile). A long fade-out
    tail in the recording is skipped; a track that plays full to its end is kept to its end.
    The incoming track's *build* is how long its intro takes to come within 6 dB of the intro's
    level; the overlap stretches to cover a quiet build (up to twice the fade length), so a
    slow intro rises under the outgoing track instead of after it.

How tracks meet
    * Beat-matched, when both tempos are confident (``bpm_confidence`` >= ``min_confidence``,
      downbeats known) and within ``tempo_tolerance`` percent: the incoming track is played at
      a speed ratio (varispeed, as a DJ's pitch fader: the pitch moves with the tempo; at most
      ``max_stretch`` percent) that gives it the outgoing track's tempo. The outgoing track's
      last whole bars (ending on the downbeat at or before its fade end) overlap the incoming
      track's first bars, which start on its first downbeat: the downbeats coincide. The
      overlap is the fade length rounded to whole bars. With ``max_stretch=0`` tempos are
      matched only when the drift over the overlap stays under 15 ms.
    * Otherwise an equal-power crossfade: the configured length when neither track has a
      confident beat to clash (ambient to ambient), half of it (at least 2 s) when beats are
      present but unsure or far apart in tempo.
    * Every overlap is capped at 40 % of either track's region, so a track's fade-in and fade-out
      never meet and no more than two tracks ever sound at once.
    * ``bass_swap``: the renderer high-passes the incoming track until the overlap's midpoint
      and the outgoing track after it, so two basslines never play together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

NAN = float("nan")
ENERGY_STEP_S = 0.5  # the descriptors' energy curves: 2 points per second
ENERGY_SPAN_S = 30.0
OUTRO_FALL_DB = 10.0  # the outro has "fallen away" this far below its level
INTRO_BUILT_DB = 6.0  # the intro has "built" when within this of its level
MAX_BOOST_DB = 20.0
MAX_OVERLAP_SHARE = 0.4
MIN_FADE_S = 2.0
DRIFT_LIMIT_S = 0.015


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
    seconds (output time): the region plays from ``mix_start`` for ``length`` seconds."""

    index: int  # position in the list the plan was made from
    start: float
    end: float
    speed: float  # playback speed (1.0 = as recorded; tempo and pitch scale with it)
    gain_db: float
    mix_start: float = 0.0

    @property
    def length(self) -> float:
        return (self.end - self.start) / self.speed

    @property
    def mix_end(self) -> float:
        return self.mix_start + self.length


@dataclass
class Transition:
    """How segment ``i`` hands over to segment ``i + 1``."""

    overlap: float  # mix seconds both tracks sound
    beatmatched: bool
    reason: str
    bars: int = 0
    bass_swap: bool = True


@dataclass
class MixPlan:
    segments: list[Segment]
    transitions: list[Transition]

    @property
    def duration(self) -> float:
        return self.segments[-1].mix_end if self.segments else 0.0


def _outro_fade_end(f: TrackFacts) -> float:
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


def _intro_build(f: TrackFacts) -> float:
    """File seconds after ``music_start`` until the intro is within 6 dB of its level."""
    curve = np.asarray(f.intro_energy, dtype=float)
    if curve.size < 4:
        return 0.0
    level = float(np.percentile(curve, 90))
    built = np.flatnonzero(curve >= level - INTRO_BUILT_DB)
    return ENERGY_STEP_S * int(built[0]) if built.size else 0.0


def _gain_db(f: TrackFacts, target: float) -> float:
    if not math.isfinite(f.loudness_lufs) or f.loudness_lufs < -70:
        return 0.0
    return min(MAX_BOOST_DB, target - f.loudness_lufs)


def plan_mix(facts: Sequence[TrackFacts], options: MixOptions | None = None) -> MixPlan:
    """Plan a mix of ``facts`` in order (tracks with under a second of music are left out)."""
    o = options or MixOptions()
    segs: list[Segment] = []
    kept: list[TrackFacts] = []
    for i, f in enumerate(facts):
        if f.end - f.start < 1.0:
            continue
        segs.append(Segment(i, f.start, f.end, 1.0, _gain_db(f, o.target_lufs)))
        kept.append(f)
    transitions: list[Transition] = []
    fade_in_len = [0.0] * len(segs)  # mix seconds of each segment already used by its fade-in
    for k in range(len(segs) - 1):
        a, b = segs[k], segs[k + 1]
        fa, fb = kept[k], kept[k + 1]
        t = _transition(a, b, fa, fb, fade_in_len[k], o)
        transitions.append(t)
        fade_in_len[k + 1] = t.overlap
    # place the segments end to end, minus the overlaps
    pos = 0.0
    for k, s in enumerate(segs):
        s.mix_start = pos
        pos = s.mix_end - (transitions[k].overlap if k < len(transitions) else 0.0)
    return MixPlan(segs, transitions)


def _transition(a: Segment, b: Segment, fa: TrackFacts, fb: TrackFacts, a_fade_in: float,
                o: MixOptions) -> Transition:  # fmt: skip
    """Decide the hand-over from ``a`` to ``b``; sets a.end, b.start and b.speed."""
    fade_end = _outro_fade_end(fa)
    # the outgoing track must keep its fade-in and a second of its own before fading out
    earliest_end = a.start + (a_fade_in + 1.0) * a.speed
    if fade_end < earliest_end + MIN_FADE_S * a.speed:
        fade_end = fa.end
    a.end = fade_end
    len_a = (a.end - a.start) / a.speed - a_fade_in
    len_b = b.end - b.start
    cap = MAX_OVERLAP_SHARE * min(len_a + a_fade_in, len_b)
    cap = min(cap, len_a - 1.0)
    build = _intro_build(fb)

    matched = _beatmatch(a, b, fa, fb, o, cap, a_fade_in)
    if matched is not None:
        return matched

    both_beatless = fa.bpm_confidence < o.min_confidence and fb.bpm_confidence < o.min_confidence
    if both_beatless:
        base, why = o.fade, "equal-power fade (no beats to clash)"
    else:
        base, why = max(MIN_FADE_S, o.fade / 2), "shorter equal-power fade (beats unsure or tempos apart)"
    if not o.beatmatch and not both_beatless:
        base, why = o.fade, "equal-power fade (beat-matching off)"
    overlap = min(max(base, min(build, 2 * o.fade)), 2 * max(o.fade, MIN_FADE_S), cap)
    overlap = max(0.0, overlap)
    return Transition(overlap=overlap, beatmatched=False, reason=why,
                      bass_swap=o.bass_swap and overlap >= 1.0)  # fmt: skip


def _beatmatch(a: Segment, b: Segment, fa: TrackFacts, fb: TrackFacts, o: MixOptions,
               cap: float, a_fade_in: float) -> Transition | None:  # fmt: skip
    """A beat-matched transition, or None when the beats do not allow one."""
    if not (o.beatmatch and fa.confident and fb.confident):
        return None
    if min(fa.bpm_confidence, fb.bpm_confidence) < o.min_confidence:
        return None
    eff_a = fa.bpm * a.speed  # the tempo the outgoing track is heard at
    ratio = eff_a / fb.bpm  # speed that gives the incoming track that tempo
    if abs(ratio - 1.0) * 100 > o.tempo_tolerance:
        return None
    bar = 240.0 / eff_a  # mix seconds per bar
    bars = max(1, int(round(max(o.fade, MIN_FADE_S) / bar)))
    bars = min(bars, int(cap // bar))
    if bars < 1:
        return None
    if abs(ratio - 1.0) * 100 <= o.max_stretch:
        speed = ratio
    elif abs(ratio - 1.0) * bars * bar <= DRIFT_LIMIT_S:
        speed = 1.0
    else:
        return None
    # incoming: start on its first downbeat, if that is within its first few bars
    in_db = [t for t in fb.downbeats if t >= fb.start - 0.01]
    if not in_db or in_db[0] - fb.start > 4 * bar * speed + 1.0:
        return None
    # outgoing: whole bars ending on the last downbeat at or before the fade end
    out_db = [t for t in fa.downbeats if a.start < t <= a.end + 0.01]
    if len(out_db) < 2:
        return None
    last = len(out_db) - 1
    bars = min(bars, last)
    first = last - bars
    if out_db[first] < a.start + (a_fade_in + 1.0) * a.speed:
        return None  # the outgoing track must have a second to itself after its own fade-in
    overlap = (out_db[last] - out_db[first]) / a.speed
    if overlap > cap or overlap < 0.5:
        return None
    a.end = out_db[last]
    b.start = in_db[0]
    b.speed = speed
    # keep the incoming region's end in the file after the speed change
    why = f"beat-matched over {bars} bar{'s' if bars > 1 else ''}"
    if abs(speed - 1) > 1e-6:
        why += f" (incoming at {100 * (speed - 1):+.1f} % speed)"
    return Transition(overlap=overlap, beatmatched=True, reason=why, bars=bars,
                      bass_swap=o.bass_swap)  # fmt: skip
