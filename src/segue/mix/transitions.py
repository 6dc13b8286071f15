"""How two tracks meet: the kind of transition, where it sits, how long it lasts, and why.

:func:`choose_transition` decides for each neighbouring pair, in this order:

Beat-matched (kind ``beatmatch``)
    When both tempos are confident and :func:`segue.playlist.mixable.tempo_match` finds a speed
    within ``tempo_tolerance`` (at the same tempo, or at half/double time): the incoming track
    plays at that speed (varispeed, at most ``max_stretch`` percent; with ``max_stretch=0``
    only when the drift over the overlap stays under 15 ms) and its downbeats fall on the
    outgoing track's. The overlap is a phrase: 4, 8 or 16 bars, starting on a phrase boundary
    of the outgoing track and on one of the incoming track's (phrase grids from the downbeats
    and the bar-to-bar jumps in level and bass, see :func:`phrase_phase`). Of the overlaps that
    fit (ending at or before the outro's fade end, within 40 % of either track), the planner
    takes the one that best (a) contains the downbeat where the incoming track's bass comes
    in, (b) ends after the incoming track has reached its full level (so the end of the overlap
    does not dip), (c) is near twice ``fade`` seconds long, (d) ends late in the outgoing track.
    The bass swap happens on that downbeat (halfway through when the incoming bass is there
    from the start): the outgoing track's bass plays at full level up to it and the incoming
    one's from it, so the low end never drops out.
Not beat-matched (different tempi, unsure beats: most of a journey)
    * ``blend``, ``fade`` seconds long, when neither track has a beat (nothing can clash);
    * ``cut`` on the downbeat that ends a breakdown of the outgoing track (4 s or more at 6 dB
      or more under its level, then full again) when the incoming track starts at full level:
      the incoming track's start takes the place of the outgoing track's drop;
    * ``filter``: a long filtered blend (6-20 s) over the outgoing track's quiet outro, or
      over the incoming track's quiet intro (when it takes 6 s or more to build);
    * ``echo``: the outgoing track stops on a phrase end and its last beat echoes for two bars
      while the incoming track starts on its first downbeat;
    * otherwise a ``blend`` of half the fade length.

Levels come from :class:`segue.mix.edges.EdgeProfile` when the renderer measured one, else
from the descriptors' 30-s intro/outro energy curves (no bass then: the swap goes halfway).
"""

from __future__ import annotations

import math

import numpy as np

from segue.mix.cue import clock
from segue.mix.plan import (
    DRIFT_LIMIT_S,
    ENERGY_SPAN_S,
    ENERGY_STEP_S,
    INTRO_BUILT_DB,
    MAX_OVERLAP_SHARE,
    MIN_FADE_S,
    MixOptions,
    Segment,
    TrackFacts,
    Transition,
    outro_fade_end,
)
from segue.playlist.mixable import tempo_match

PHRASE_BARS = (4, 8, 16)
#: When no phrase fits (very short tracks, a short fade), a bar or two still beat-matches.
SHORT_BARS = (2, 1)
NOVELTY_CAP_DB = 12.0
PHASE_EVIDENCE_DB = 1.5  # a phrase grid must beat the others by this much mean novelty
BUILT_DB = 4.0  # the incoming track has reached its level when within this
BASS_IN_DB = 6.0  # its bass has come in when within this of its full bass level
NO_BASS_DB = -45.0  # a full bass level under this is no bass to swap
QUIET_DB = 8.0  # a quiet passage: this far under the track's level
BREAKDOWN_DB = 6.0
BREAKDOWN_S = 4.0
SEARCH_S = 45.0  # how far before the fade end a breakdown is looked for
CUT_S = 0.01  # the outgoing track's last 10 ms fade under the incoming track's first beat
FILTER_MIN_S, FILTER_MAX_S = 6.0, 20.0
ECHO_BARS = 2
ECHO_MAX_S = 6.0
STEP = 0.5  # seconds: the resolution of the searches below


class Levels:
    """A track's level (and bass) over time, from what is known (module docstring)."""

    def __init__(self, f: TrackFacts) -> None:
        self.f = f
        self.edges = f.edges

    def mean(self, t0: float, t1: float, band: str = "level") -> float:
        """Power mean in dB over [t0, t1) (file seconds); NaN when unknown."""
        if self.edges is not None:
            return self.edges.mean_db(t0, t1, band) if self.edges.analysed(t0, t1) else math.nan
        if band != "level":
            return math.nan
        f = self.f
        for curve, origin in ((f.intro_energy, f.start),
                              (f.outro_energy, max(f.start, f.end - ENERGY_SPAN_S))):  # fmt: skip
            a, b = (t0 - origin) / ENERGY_STEP_S, (t1 - origin) / ENERGY_STEP_S
            if a >= -0.01 and b <= len(curve) + 0.01 and b > a:
                v = np.asarray(curve[int(a) : max(int(a) + 1, int(math.ceil(b)))], dtype=float)
                return float(10 * np.log10(np.mean(10 ** (v / 10)) + 1e-30))
        return math.nan

    def body(self, band: str = "level") -> float:
        """The track's full level: the 90th percentile over what is known."""
        if self.edges is not None:
            return self.edges.body(band)
        if band != "level":
            return math.nan
        v = np.asarray(list(self.f.intro_energy) + list(self.f.outro_energy), dtype=float)
        return float(np.percentile(v, 90)) if v.size else math.nan


def phrase_phase(lv: Levels, downbeats: np.ndarray, t0: float, t1: float, default: int,
                 period: int = 4) -> int:  # fmt: skip
    """Which downbeats start phrases, as an index modulo ``period`` bars.

    Each bar's level and bass are compared with the bar before (the novelty, dB); the grid
    whose downbeats carry clearly the most novelty wins (phrases change on their first bar).
    Without such evidence the phrases are counted from ``default`` (the first downbeat)."""
    idx = [i for i in range(1, len(downbeats) - 1)
           if downbeats[i - 1] >= t0 and downbeats[i + 1] <= t1]  # fmt: skip
    nov: dict[int, float] = {}
    for i in idx:
        a = (downbeats[i - 1], downbeats[i]), (downbeats[i], downbeats[i + 1])
        lv0, lv1 = lv.mean(*a[0]), lv.mean(*a[1])
        if not (math.isfinite(lv0) and math.isfinite(lv1)):
            continue
        n = min(abs(lv1 - lv0), NOVELTY_CAP_DB)
        b0, b1 = lv.mean(*a[0], band="bass"), lv.mean(*a[1], band="bass")
        if math.isfinite(b0) and math.isfinite(b1):
            n += 0.5 * min(abs(b1 - b0), NOVELTY_CAP_DB)
        nov[i] = n
    if len(nov) >= 1.5 * period:
        means = np.array([np.mean([v for i, v in nov.items() if i % period == p] or [0.0])
                          for p in range(period)])  # fmt: skip
        best = int(np.argmax(means))
        if means[best] - np.median(np.delete(means, best)) >= PHASE_EVIDENCE_DB:
            return best
    return default % period


def _first_at_or_after(times: np.ndarray, t: float) -> int | None:
    i = int(np.searchsorted(times, t - 0.01))
    return i if i < len(times) else None


def _bass_entry(lv: Levels, db: np.ndarray, i0: int, speed: float) -> tuple[float | None, bool]:
    """(mix seconds after downbeat ``i0`` when the bass comes in: 0 from the first bar, inf
    not within 24 bars, None unknown; whether the track has bass to swap at all)."""
    body = lv.body("bass")
    if not math.isfinite(body):
        return None, True
    if body < NO_BASS_DB or body < lv.body() - 30.0:
        return None, False
    for j in range(i0, min(len(db) - 1, i0 + 24)):
        v = lv.mean(db[j], db[j + 1], "bass")
        if math.isfinite(v) and v >= body - BASS_IN_DB:
            return (db[j] - db[i0]) / speed, True
    return math.inf, True


def _built(lv: Levels, db: np.ndarray, i0: int, speed: float) -> float | None:
    """Mix seconds after downbeat ``i0`` when the track's bars reach its level."""
    body = lv.body()
    if not math.isfinite(body):
        return None
    for j in range(i0, min(len(db) - 1, i0 + 24)):
        v = lv.mean(db[j], db[j + 1])
        if math.isfinite(v) and v >= body - BUILT_DB:
            return (db[j] - db[i0]) / speed
    return None


def choose_transition(a: Segment, b: Segment, fa: TrackFacts, fb: TrackFacts, a_fade_in: float,
                      o: MixOptions) -> Transition:  # fmt: skip
    """Decide the hand-over from ``a`` to ``b``; sets a.end, a.tail, b.start and b.speed."""
    fade_end = outro_fade_end(fa)
    # the outgoing track must keep its fade-in and a second of its own before fading out
    earliest = a.start + (a_fade_in + 1.0) * a.speed
    if fade_end < earliest + MIN_FADE_S * a.speed:
        fade_end = fa.end
    a.end = fade_end
    len_a = (a.end - a.start) / a.speed - a_fade_in
    len_b = b.end - b.start
    cap = min(MAX_OVERLAP_SHARE * min(len_a + a_fade_in, len_b), len_a - 1.0)
    cap = max(cap, 0.0)
    matched = _beatmatched(a, b, fa, fb, o, cap, earliest, fade_end)
    if matched is not None:
        return matched
    return _unmatched(a, b, fa, fb, o, cap, earliest, fade_end)


# --- beat-matched ---------------------------------------------------------------------------


def _beatmatched(a: Segment, b: Segment, fa: TrackFacts, fb: TrackFacts, o: MixOptions,
                 cap: float, earliest: float, fade_end: float) -> Transition | None:  # fmt: skip
    if not (o.beatmatch and fa.confident and fb.confident):
        return None
    if min(fa.bpm_confidence, fb.bpm_confidence) < o.min_confidence:
        return None
    eff_a = fa.bpm * a.speed  # the tempo the outgoing track is heard at
    m = tempo_match(eff_a, fb.bpm, o.tempo_tolerance, o.half_double)
    if m is None:
        return None
    stretch = m.deviation <= o.max_stretch + 1e-9
    speed = m.speed if stretch else 1.0
    bar = 240.0 / eff_a  # mix seconds per bar of the outgoing track
    a_db = np.asarray(fa.downbeats, dtype=float)
    b_db = np.asarray(fb.downbeats, dtype=float)
    lva, lvb = Levels(fa), Levels(fb)

    # incoming: start on its first downbeat, or the first that starts a phrase, near its start
    i_first = _first_at_or_after(b_db, fb.start)
    bar_b_file = 240.0 / fb.bpm
    if i_first is None or b_db[i_first] - fb.start > 4 * bar_b_file + 1.0:
        return None
    pb = phrase_phase(lvb, b_db, fb.start, fb.start + 64.0, i_first)
    i_b = next((i for i in range(i_first, min(len(b_db), i_first + 4)) if (i - pb) % 4 == 0),
               i_first)  # fmt: skip
    b_start = float(b_db[i_b])
    entry, has_bass = _bass_entry(lvb, b_db, i_b, speed)
    built = _built(lvb, b_db, i_b, speed)

    # outgoing: phrase-long overlaps ending on a downbeat at or before the fade end
    i_a0 = _first_at_or_after(a_db, fa.start)
    if i_a0 is None:
        return None
    pa = phrase_phase(lva, a_db, fade_end - 64.0, fade_end + 0.01, i_a0)
    pa8 = phrase_phase(lva, a_db, fade_end - 64.0, fade_end + 0.01, i_a0, period=8)
    if pa8 % 4 != pa:
        pa8 = pa
    ends = np.flatnonzero((a_db > a.start) & (a_db <= fade_end + 0.01))
    if ends.size == 0:
        return None
    last = int(ends[-1])
    pref = min(PHRASE_BARS, key=lambda n: abs(math.log2(n * bar / max(2 * o.fade, bar))))
    best: tuple[float, int, int, float] | None = None  # cost, bars, first downbeat, overlap
    for n in (*PHRASE_BARS, *SHORT_BARS):
        if n in SHORT_BARS and best is not None:
            break  # a phrase fits: never fewer bars than a phrase
        tried = 0
        for e in range(last, max(n - 1, last - 12), -1):
            s = e - n
            if n in PHRASE_BARS and (s - pa) % 4:
                continue
            if a_db[s] < earliest or tried == 2:
                break
            overlap = float(a_db[e] - a_db[s]) / a.speed
            if overlap > cap + 1e-6 or overlap < 0.5:
                break
            if not stretch and abs(m.speed - 1.0) * overlap > DRIFT_LIMIT_S:
                break
            if b_start + overlap * speed > fb.end - 1.0:
                break
            tried += 1
            cost = 0.5 * abs(math.log2(n / pref)) + 0.05 * (last - e)
            if n >= 8 and (s - pa8) % 8:
                cost += 0.5  # a long overlap should start an 8-bar phrase, not the middle of one
            if has_bass and entry is not None and entry > 0.25 * bar and entry >= overlap - 0.5 * bar:
                cost += 2.0  # the incoming bass would come in after the overlap: a hole
            if built is not None and built > overlap - min(3.0, overlap / 4):
                cost += 1.0  # the overlap would end before the incoming track is up: a dip
            if best is None or cost < best[0] - 1e-9:
                best = (cost, n, s, overlap)
    if best is None:
        return None
    _, n, s, overlap = best
    a.end = float(a_db[s + n])
    b.start = b_start
    b.speed = speed

    # where the basses swap
    swap: float | None = None
    where = ""
    if o.bass_swap and has_bass:
        if entry is None or entry <= 0.25 * bar:
            j = n // 2
            where = f"bass swap halfway, on bar {j + 1}"
        elif entry < overlap - 0.5 * bar:
            j = min(n - 1, max(1, int(math.ceil(entry / bar - 0.05))))
            where = f"bass swap on bar {j + 1}, where its bass comes in"
        else:
            j = -1
            where = "no bass swap: its bass comes in after the overlap"
        if j >= 0:
            swap = float(a_db[s + j] - a_db[s]) / a.speed
    elif o.bass_swap:
        where = "no bass swap: the incoming track has no bass to speak of"
    phrase = "from a phrase start" if len(fa.downbeats) > 8 else "from a downbeat"
    why = f"{phrase}; {where}" if where else phrase
    if m.factor != 1.0:
        why += f"; at {'half' if m.factor == 0.5 else 'double'} time"
    if abs(speed - 1) > 1e-6:
        why += f"; incoming at {100 * (speed - 1):+.1f} % speed"
    return Transition(overlap=overlap, beatmatched=True, reason=why, bars=n,
                      bass_swap=swap is not None, kind="beatmatch", swap=swap)  # fmt: skip


# --- not beat-matched -----------------------------------------------------------------------


def _why_not_matched(fa: TrackFacts, fb: TrackFacts, o: MixOptions) -> str:
    if not o.beatmatch:
        return "beat-matching off"
    if not (fa.confident and fb.confident) or min(fa.bpm_confidence,
                                                  fb.bpm_confidence) < o.min_confidence:
        return "beats too unsure to match"
    return f"tempos {fa.bpm:.0f} and {fb.bpm:.0f} bpm too far apart to match"


def _beat_sure(f: TrackFacts, o: MixOptions) -> bool:
    return f.confident and f.bpm_confidence >= o.min_confidence


def _scan(lv: Levels, t0: float, t1: float) -> tuple[np.ndarray, np.ndarray]:
    """(times, level dB) every STEP seconds over [t0, t1)."""
    times = np.arange(t0, t1 - STEP / 2, STEP)
    return times, np.array([lv.mean(t, t + STEP) for t in times])


def _on_downbeat(f: TrackFacts, t: float, o: MixOptions, within: float = 0.3) -> float:
    """``t`` moved to the nearest downbeat within ``within`` seconds, when the beat is sure."""
    if not _beat_sure(f, o):
        return t
    db = np.asarray(f.downbeats, dtype=float)
    k = int(np.argmin(np.abs(db - t)))
    return float(db[k]) if abs(db[k] - t) <= within else t


def _entry_point(f: TrackFacts, o: MixOptions) -> float:
    """Where an incoming track starts for a cut or an echo: its first downbeat if that is
    within 2 s of its music (so its first beat lands on the hand-over), else its music."""
    if _beat_sure(f, o):
        i = _first_at_or_after(np.asarray(f.downbeats, dtype=float), f.start)
        if i is not None and f.downbeats[i] - f.start <= 2.0:
            return float(f.downbeats[i])
    return f.start


def _after_breakdown(fa: TrackFacts, lv: Levels, o: MixOptions, earliest: float,
                     fade_end: float, region: float) -> float | None:  # fmt: skip
    """File time where the latest breakdown near the end of ``fa`` gives way to full level."""
    body = lv.body()
    if not math.isfinite(body):
        return None
    t0 = max(earliest + BREAKDOWN_S, fade_end - SEARCH_S)
    times, level = _scan(lv, t0 - BREAKDOWN_S, fade_end)
    need = int(round(BREAKDOWN_S / STEP))
    loud_after = int(round(2.0 / STEP))
    for k in range(len(times) - loud_after, need - 1, -1):
        before, after = level[k - need : k], level[k : k + loud_after]
        if not (np.isfinite(before).all() and np.isfinite(after).all()):
            continue
        quiet = before <= body - BREAKDOWN_DB
        if quiet[-1] and quiet.mean() >= 0.85 and (after >= body - 3.0).all():
            # the drop lies in the first loud window: on its downbeat
            r = _on_downbeat(fa, float(times[k]) + STEP / 2, o, within=STEP)
            if fa.end - r <= 0.35 * region and r >= earliest + BREAKDOWN_S:
                return r
            return None
    return None


def _quiet_tail(fa: TrackFacts, lv: Levels, earliest: float) -> float | None:
    """File time from which ``fa`` stays quiet to its end (4 s or more), else None."""
    body = lv.body()
    if not math.isfinite(body):
        return None
    times, level = _scan(lv, max(earliest, fa.end - SEARCH_S), fa.end)
    if level.size == 0 or not np.isfinite(level[-1]):
        return None
    quiet = np.isfinite(level) & (level <= body - QUIET_DB)
    k = len(quiet)
    while k > 0 and quiet[k - 1]:
        k -= 1
    if k == len(quiet):
        return None
    q = float(times[k])
    return q if fa.end - q >= 4.0 and q >= earliest + 1.0 else None


def _intro_build(fb: TrackFacts, lv: Levels) -> float:
    """File seconds after the music starts until the incoming track is within 6 dB of its
    level (0 when unknown)."""
    body = lv.body()
    if not math.isfinite(body):
        return 0.0
    times, level = _scan(lv, fb.start, min(fb.end, fb.start + ENERGY_SPAN_S))
    built = np.flatnonzero(np.isfinite(level) & (level >= body - INTRO_BUILT_DB))
    return float(times[built[0]] - fb.start) if built.size else 0.0


def _phrase_end(fa: TrackFacts, lv: Levels, o: MixOptions, earliest: float,
                fade_end: float) -> float | None:  # fmt: skip
    """The last downbeat at or before the fade end that ends a phrase (else the last one)."""
    db = np.asarray(fa.downbeats, dtype=float)
    ok = np.flatnonzero((db <= fade_end + 0.01) & (db >= earliest + 2.0))
    if ok.size == 0:
        return None
    i0 = _first_at_or_after(db, fa.start) or 0
    pa = phrase_phase(lv, db, fade_end - 64.0, fade_end + 0.01, i0)
    for i in ok[::-1][:16]:
        if (i - pa) % 4 == 0:
            return float(db[i])
    return float(db[ok[-1]])


def _unmatched(a: Segment, b: Segment, fa: TrackFacts, fb: TrackFacts, o: MixOptions,
               cap: float, earliest: float, fade_end: float) -> Transition:  # fmt: skip
    why_not = _why_not_matched(fa, fb, o)
    both_beatless = fa.bpm_confidence < o.min_confidence and fb.bpm_confidence < o.min_confidence
    lva, lvb = Levels(fa), Levels(fb)
    if both_beatless or not o.effects or not o.beatmatch:
        return _blend(a, b, fa, fb, o, cap, lvb, both_beatless)
    region = (fa.end - a.start) / a.speed

    # a cut on the downbeat after a breakdown, when the incoming track starts at full level
    body_b = lvb.body()
    entry = _entry_point(fb, o)
    head = lvb.mean(entry, entry + 2.0)
    strong = math.isfinite(head) and math.isfinite(body_b) and head >= body_b - BUILT_DB
    r = _after_breakdown(fa, lva, o, earliest, fade_end, region) if strong else None
    if r is not None:
        a.end, b.start = r, entry
        on = "downbeat" if _beat_sure(fa, o) else "moment"
        return Transition(overlap=min(CUT_S, cap), beatmatched=False, bass_swap=False, kind="cut",
                          bars=1 if on == "downbeat" else 0,
                          reason=f"{why_not}; on the {on} that ends its breakdown "
                                 f"({clock(r)} into it), the next track starts at full level")  # fmt: skip

    # a long filtered blend over a quiet passage
    q = _quiet_tail(fa, lva, earliest)
    if q is not None:
        a.end = min(fa.end, q + FILTER_MAX_S * a.speed)
        overlap = min(max((a.end - q) / a.speed, FILTER_MIN_S), FILTER_MAX_S, cap)
        if overlap >= FILTER_MIN_S / 2:
            return Transition(overlap=overlap, beatmatched=False, bass_swap=False, kind="filter",
                              reason=f"{why_not}; over its quiet outro")  # fmt: skip
        a.end = fade_end
    build = _intro_build(fb, lvb)
    if build >= FILTER_MIN_S:
        overlap = min(build, 16.0, cap)
        if overlap >= FILTER_MIN_S / 2:
            return Transition(overlap=overlap, beatmatched=False, bass_swap=False, kind="filter",
                              reason=f"{why_not}; over the next track's quiet intro "
                                     f"({build:.0f} s to build)")  # fmt: skip

    # an echo out on a phrase end
    if _beat_sure(fa, o):
        c = _phrase_end(fa, lva, o, earliest, fade_end)
        beat = 60.0 / (fa.bpm * a.speed)
        tail = min(ECHO_BARS * 4 * beat, ECHO_MAX_S, cap)
        if c is not None and tail >= 1.0:
            a.end, b.start = c, entry
            a.tail = tail
            return Transition(overlap=tail, beatmatched=False, bass_swap=False, kind="echo",
                              echo_delay=beat,
                              reason=f"{why_not}; out on the phrase end {clock(c)} into it, "
                                     f"its last beat echoing for {tail:.1f} s")  # fmt: skip
    return _blend(a, b, fa, fb, o, cap, lvb, False)


def _blend(a: Segment, b: Segment, fa: TrackFacts, fb: TrackFacts, o: MixOptions, cap: float,
           lvb: Levels, both_beatless: bool) -> Transition:  # fmt: skip
    """An equal-power crossfade at the outro's fade end (the fallback, and for ambient)."""
    if both_beatless:
        base, why = o.fade, "neither track has a beat to clash"
    elif not o.beatmatch:
        base, why = o.fade, "beat-matching off"
    else:
        base, why = max(MIN_FADE_S, o.fade / 2), _why_not_matched(fa, fb, o)
    build = _intro_build(fb, lvb)
    overlap = min(max(base, min(build, 2 * o.fade)), 2 * max(o.fade, MIN_FADE_S), cap)
    overlap = max(0.0, overlap)
    swap = overlap / 2 if o.bass_swap and overlap >= 1.0 else None
    return Transition(overlap=overlap, beatmatched=False, reason=why, bass_swap=swap is not None,
                      kind="blend", swap=swap)  # fmt: skip

