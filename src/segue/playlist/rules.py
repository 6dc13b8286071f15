"""Constraints shared by every generator (radio, journey, reorder).

One :class:`Rules` object carries them all:

- *static filters* (a track is eligible or not, whatever came before): duration, year, tag,
  tempo, key, loudness, folder, excluded ids -> :meth:`Rules.allowed_mask`;
- *sequential constraints* (depend on the playlist so far): never the same track or a member of
  its exact-duplicate group twice, no near-duplicate (same recording, other encoding: vector
  cosine distance < ``near_dup_eps`` AND durations within ``near_dup_seconds``), no artist within
  the last ``artist_gap`` tracks, at most ``max_per_artist`` / ``max_per_album`` per playlist
  -> :meth:`Rules.accepts` over a :class:`History`;
- the *target length*: ``minutes`` (and ``sides`` to split it, :func:`split_sides`).

Unknown values never pass a filter that asks about them (a track with no tempo is not "118-128"),
and unknown artists/albums never collide with each other.  Ranges are inclusive; strings such as
``"118-128"``, ``"118..128"``, ``"-14--8"``, ``"2:00-6:30"`` or ``"1990-"`` are parsed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segue.errors import UserError
from segue.listen.camelot import camelot_steps, parse_camelot_or_key
from segue.playlist.catalog import Catalog
from segue.playlist.history import History, member, track_seconds

Range = tuple[float | None, float | None]

_NUM = r"-?\d+(?:\.\d+)?(?::\d{1,2}(?:\.\d+)?)?"
_RANGE_RE = re.compile(rf"^\s*({_NUM})?\s*(?:\.\.|-|–|to)\s*({_NUM})?\s*$")
_SINGLE_RE = re.compile(rf"^\s*({_NUM})\s*$")


def _num(s: str) -> float:
    if ":" in s:
        neg = s.startswith("-")
        m, sec = s.lstrip("-").split(":", 1)
        v = int(m) * 60 + float(sec)
        return -v if neg else v
    return float(s)


def parse_range(value: Any, name: str, clock: bool = False) -> Range | None:
    """``None``, a ``(lo, hi)`` pair or a string like ``"118-128"`` -> ``(lo, hi)``.

    Either end may be open (``"1990-"``, ``"..-8"``).  A single number means exactly that value.
    ``clock``: numbers may be ``m:ss`` (durations); otherwise ``:`` separates the ends, so
    ``"-16:-6"`` is -16 to -6 (loudness is written that way).
    Raises ``UserError`` naming the quantity when the text is not a range or lo > hi.
    """
    if value is None:
        return None
    if isinstance(value, str) and not clock and value.count(":") == 1:
        lo_text, hi_text = value.split(":")
        value = f"{lo_text.strip()}..{hi_text.strip()}"
    if isinstance(value, str):
        m = _RANGE_RE.match(value)
        if m and (m.group(1) or m.group(2)):
            lo = _num(m.group(1)) if m.group(1) else None
            hi = _num(m.group(2)) if m.group(2) else None
        else:
            m1 = _SINGLE_RE.match(value)
            if not m1:
                raise UserError(f"{name}: cannot read {value!r} as a range like 118-128")
            lo = hi = _num(m1.group(1))
    elif isinstance(value, int | float):
        lo = hi = float(value)
    else:
        try:
            lo, hi = value
        except (TypeError, ValueError):
            raise UserError(f"{name}: expected a (low, high) pair, got {value!r}") from None
        lo = None if lo is None else float(lo)
        hi = None if hi is None else float(hi)
    if lo is not None and hi is not None and lo > hi:
        raise UserError(f"{name}: the low end {lo:g} is above the high end {hi:g}")
    return (lo, hi)


def _in_range(x: np.ndarray, r: Range) -> np.ndarray:
    lo, hi = r
    ok = np.isfinite(x)
    if lo is not None:
        ok &= x >= lo
    if hi is not None:
        ok &= x <= hi
    return ok


@dataclass
class Rules:
    """Playlist constraints; see the module docstring.  All fields are optional."""

    artist_gap: int = 3
    max_per_artist: int | None = None
    max_per_album: int | None = None
    near_dup_eps: float = 0.02
    near_dup_seconds: float = 2.0
    duration: Any = None
    year: Any = None
    tags: Any = None
    tag_threshold: float = 0.5
    tempo: Any = None
    half_double_time: bool = False
    key: str | None = None
    compatible_keys: bool = False
    loudness: Any = None
    folder: str | None = None
    exclude_ids: Any = field(default_factory=frozenset)
    minutes: float | None = None
    sides: int = 1

    def __post_init__(self) -> None:
        self.duration = parse_range(self.duration, "duration", clock=True)
        self.year = parse_range(self.year, "year")
        single_number = (
            isinstance(self.tempo, int | float) and not isinstance(self.tempo, bool)
        ) or (isinstance(self.tempo, str) and _SINGLE_RE.match(self.tempo))
        if single_number:  # "120" means 120 +- 4 %
            t = float(self.tempo)
            self.tempo = (t * 0.96, t * 1.04)
        self.tempo = parse_range(self.tempo, "tempo")
        self.loudness = parse_range(self.loudness, "loudness")
        if self.tags is not None:
            if isinstance(self.tags, str):
                self.tags = {t.strip(): self.tag_threshold for t in self.tags.split(",") if t.strip()}
            elif isinstance(self.tags, Mapping):
                self.tags = {str(k): float(v) for k, v in self.tags.items()}
            else:
                self.tags = {str(t): self.tag_threshold for t in self.tags}
        if self.key is not None:  # "Am", "A minor" and "8A" all mean 8A, as the analyser says
            self.key = parse_camelot_or_key(self.key)
        for name in ("artist_gap",):
            v = getattr(self, name)
            if v is None or int(v) < 0:
                raise UserError(f"{name} must be 0 or more, got {v!r}")
            setattr(self, name, int(v))
        for name in ("max_per_artist", "max_per_album"):
            v = getattr(self, name)
            if v is not None:
                if int(v) < 1:
                    raise UserError(f"{name} must be at least 1, got {v!r}")
                setattr(self, name, int(v))
        if not 0 <= float(self.near_dup_eps) < 2:
            raise UserError(f"near_dup_eps must be in [0, 2), got {self.near_dup_eps!r}")
        if self.minutes is not None and float(self.minutes) <= 0:
            raise UserError(f"minutes must be positive, got {self.minutes!r}")
        if int(self.sides) < 1:
            raise UserError(f"sides must be 1 or more, got {self.sides!r}")
        self.sides = int(self.sides)
        self.exclude_ids = frozenset(int(i) for i in self.exclude_ids)

    # --- static filters -----------------------------------------------------------------------

    def filter_masks(self, catalog: Catalog) -> dict[str, np.ndarray]:
        """One boolean mask (n,) per static filter in use, keyed by what it asks for (in words,
        for messages: "tempo 146-154 BPM")."""
        n = len(catalog)
        masks: dict[str, np.ndarray] = {}

        def span(r: Range, unit: str) -> str:
            lo, hi = r
            text = f"{'' if lo is None else f'{lo:g}'}-{'' if hi is None else f'{hi:g}'}"
            return f"{text} {unit}".rstrip()

        if self.duration is not None:
            masks[f"duration {span(self.duration, 's')}"] = _in_range(catalog.duration, self.duration)
        if self.year is not None:
            masks[f"year {span(self.year, '')}"] = _in_range(catalog.year, self.year)
        if self.loudness is not None:
            masks[f"loudness {span(self.loudness, 'LUFS')}"] = _in_range(catalog.loudness_lufs, self.loudness)
        if self.tempo is not None:
            t_ok = _in_range(catalog.bpm, self.tempo)
            if self.half_double_time:
                t_ok |= _in_range(catalog.bpm * 2, self.tempo)
                t_ok |= _in_range(catalog.bpm / 2, self.tempo)
            masks[f"tempo {span(self.tempo, 'BPM')}"] = t_ok
        if self.tags:
            known = catalog.tags or {}
            for tag, thr in self.tags.items():
                if tag not in known:
                    names = ", ".join(sorted(known)) or "none"
                    raise UserError(f"unknown tag {tag!r}; the library has: {names}")
                probs = known[tag]
                masks[f"tag {tag} >= {thr:g}"] = np.isfinite(probs) & (probs >= thr)
        if self.key is not None:
            what = f"key {self.key}" + (" or a neighbour" if self.compatible_keys else "")
            masks[what] = self._key_mask(catalog)
        if self.folder:
            prefix = os.path.normpath(os.path.abspath(os.path.expanduser(self.folder)))
            prefix = prefix.rstrip(os.sep) + os.sep
            masks[f"folder {self.folder}"] = np.fromiter(
                ((os.path.normpath(p) + os.sep).startswith(prefix) if p else False
                 for p in catalog.path),
                dtype=bool,
                count=n,
            )  # fmt: skip
        if self.exclude_ids:
            masks["not excluded"] = ~np.isin(catalog.ids, np.fromiter(self.exclude_ids, dtype=np.int64))
        return masks

    def allowed_mask(self, catalog: Catalog) -> np.ndarray:
        """Boolean mask (n,) of tracks that pass every static filter."""
        ok = np.ones(len(catalog), dtype=bool)
        for mask in self.filter_masks(catalog).values():
            ok &= mask
        return ok

    def shortfall(self, catalog: Catalog, wanted: int, got: int, seeds: int = 0) -> str:
        """Why a playlist has ``got`` new tracks where ``wanted`` were asked, in one line."""
        n = len(catalog)
        masks = self.filter_masks(catalog)
        head = f"{got} of the {wanted} tracks asked for"
        if masks:
            eligible = int(self.allowed_mask(catalog).sum())
            each = "; ".join(f"{int(m.sum())} with {what}" for what, m in masks.items())
            return f"{head}: {eligible} of {n} analysed tracks pass the filters ({each})"
        if n - seeds < wanted:
            return f"{head}: the library has only {n} analysed tracks"
        rules = [f"no artist within {self.artist_gap} tracks"] if self.artist_gap else []
        if self.max_per_artist:
            rules.append(f"at most {self.max_per_artist} per artist")
        if self.max_per_album:
            rules.append(f"at most {self.max_per_album} per album")
        rules.append("no near-duplicates")
        return f"{head}: the rules ({', '.join(rules)}) left no more"

    def _key_mask(self, catalog: Catalog) -> np.ndarray:
        limit = 1 if self.compatible_keys else 0
        cache: dict[str | None, bool] = {}
        out = np.empty(len(catalog), dtype=bool)
        for i, code in enumerate(catalog.camelot):
            v = cache.get(code)
            if v is None:
                s = camelot_steps(self.key, code)
                v = s is not None and s <= limit
                cache[code] = v
            out[i] = v
        return out

    # --- sequential constraints ---------------------------------------------------------------

    def history(self, catalog: Catalog, indices: Iterable[int] = ()) -> History:
        return History(catalog, indices)

    def why_not(self, candidate: int, history: History) -> str | None:
        """``None`` if ``candidate`` may follow ``history``, else a short reason."""
        c = history.catalog
        i = int(candidate)
        if int(c.group[i]) in history.groups:
            return "already in the playlist (or an exact duplicate of a track in it)"
        a = int(c.artist_codes[i])
        if a >= 0:
            if self.artist_gap > 0:
                recent = history.indices[-self.artist_gap:]
                if any(int(c.artist_codes[j]) == a for j in recent):
                    return f"artist played within the last {self.artist_gap} tracks"
            if self.max_per_artist is not None and history.artists[a] >= self.max_per_artist:
                return f"artist already has {self.max_per_artist} tracks"
        if self.max_per_album is not None:
            al = int(c.album_codes[i])
            if al >= 0 and history.albums[al] >= self.max_per_album:
                return f"album already has {self.max_per_album} tracks"
        if self.near_dup_eps > 0 and len(history):
            dist = 1.0 - history.vectors @ c.vectors[i]
            close = dist < self.near_dup_eps
            if close.any():
                di = c.duration[i]
                for j in np.flatnonzero(close):
                    dj = c.duration[history.indices[j]]
                    if not (np.isfinite(di) and np.isfinite(dj)) or abs(di - dj) <= self.near_dup_seconds:
                        return "near-duplicate of a track in the playlist"
        return None

    def accept_mask(self, candidates: Sequence[int] | np.ndarray, history: History) -> np.ndarray:
        """Vectorised :meth:`accepts`: a boolean per candidate (same rules, same answers)."""
        c = history.catalog
        cand = np.asarray(candidates, dtype=np.int64)
        if len(cand) == 0 or len(history) == 0:
            return np.ones(len(cand), dtype=bool)
        ok = ~history.used(cand)
        a = c.artist_codes[cand]
        if self.artist_gap > 0:
            recent = c.artist_codes[history.indices[-self.artist_gap :]]
            ok &= ~((a >= 0) & member(a, recent[recent >= 0]))
        if self.max_per_artist is not None and history.artists:
            counts = np.fromiter((history.artists.get(int(x), 0) for x in a), dtype=np.int64, count=len(a))
            ok &= (a < 0) | (counts < self.max_per_artist)
        if self.max_per_album is not None and history.albums:
            al = c.album_codes[cand]
            counts = np.fromiter((history.albums.get(int(x), 0) for x in al), dtype=np.int64, count=len(al))
            ok &= (al < 0) | (counts < self.max_per_album)
        if self.near_dup_eps > 0:
            close = (1.0 - c.vectors[cand] @ history.vectors.T) < self.near_dup_eps
            if close.any():
                di = c.duration[cand][:, None]
                dj = c.duration[np.asarray(history.indices)][None, :]
                known = np.isfinite(di) & np.isfinite(dj)
                with np.errstate(invalid="ignore"):
                    same_len = ~known | (np.abs(di - dj) <= self.near_dup_seconds)
                ok &= ~(close & same_len).any(axis=1)
        return ok

    def accepts(self, candidate: int, history: History) -> bool:
        """Whether ``candidate`` may be appended to ``history`` (sequential constraints only;
        combine with :meth:`allowed_mask` for the static filters)."""
        return self.why_not(candidate, history) is None

    # --- length -------------------------------------------------------------------------------

    @property
    def target_seconds(self) -> float | None:
        return None if self.minutes is None else float(self.minutes) * 60.0

    def long_enough(self, history: History) -> bool:
        """True once the playlist reaches the target length (never, without ``minutes``)."""
        t = self.target_seconds
        return t is not None and history.seconds >= t


def fit_to_minutes(catalog: Catalog, indices: Sequence[int], minutes: float) -> list[int]:
    """The prefix of ``indices`` whose total length is closest to ``minutes``."""
    target = minutes * 60.0
    total, best, best_err = 0.0, 0, target
    for n, i in enumerate(indices, 1):
        total += track_seconds(catalog, i)
        err = abs(total - target)
        if err < best_err:
            best, best_err = n, err
        if total > target:
            break
    return list(indices[:best])


def split_sides(catalog: Catalog, indices: Sequence[int], sides: int = 2) -> list[list[int]]:
    """Cut the playlist, in order, into ``sides`` parts of near-equal duration (tape sides)."""
    if sides < 1:
        raise UserError(f"sides must be 1 or more, got {sides}")
    idx = list(indices)
    if sides == 1 or not idx:
        return [idx]
    secs = np.array([track_seconds(catalog, i) for i in idx])
    cum = np.cumsum(secs)
    total = cum[-1]
    cuts = [0]
    for s in range(1, sides):
        goal = total * s / sides
        # boundary after track c: sum of first c tracks; pick the one closest to the goal
        c = int(np.argmin(np.abs(np.r_[0.0, cum] - goal)))
        c = max(c, cuts[-1])
        cuts.append(c)
    cuts.append(len(idx))
    return [idx[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
