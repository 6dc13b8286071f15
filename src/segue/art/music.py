"""What the art knows of a track's sound: tags, tempo, key, loudness, brightness; and titles.

One place reads the store for it (:func:`sound_facts`), so the pictures made without covers
(:mod:`segue.art.soundprint`), the mixtape's title and the colour keys of the comparison all
speak of the same facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TAG_DIM = 50
#: Tags that name who sings or a vague mood make poor titles; they still colour pictures.
UNTITLED_TAGS = {"female vocalists", "female vocalist", "male vocalists", "beautiful", "sexy", "catchy"}
CENTROID = 40  # the timbre vector's spectral-centroid mean (kHz), see segue.listen.timbre


def tag_names() -> tuple[str, ...]:
    from segue.listen.models.musicnn_tags import MUSICNN_TAGS

    return tuple(MUSICNN_TAGS["MSD_musicnn"])


@dataclass
class SoundFacts:
    """One track's sound as the art uses it (None where the track was not analysed)."""

    tags: np.ndarray | None  # MusiCNN MSD tag probabilities (50)
    bpm: float | None = None
    beat_strength: float | None = None  # the tempo's confidence, 0..1
    camelot: str | None = None  # "8A"
    loudness: float | None = None  # integrated LUFS
    brightness: float | None = None  # spectral centroid, kHz


def sound_facts(store, track_ids: Sequence[int]) -> list[SoundFacts]:
    """The facts of each track in ``track_ids`` (in that order) from the store."""
    tracks = {t.id: t for t in store.tracks()}
    tags = store.vectors("musicnn", "tags_msd")
    timbre = store.vectors("musicnn", "timbre")
    desc = store.descriptors()
    out = []
    for tid in track_ids:
        h = tracks[tid].audio_hash if tid in tracks else None
        d = desc.get(h, {}) if h else {}
        tv = timbre.get(h) if h else None

        def num(key: str, d: dict = d) -> float | None:
            v = d.get(key)
            return float(v) if isinstance(v, int | float) and np.isfinite(v) else None

        out.append(SoundFacts(
            tags=None if h not in tags else np.asarray(tags[h], np.float32),
            bpm=num("bpm"), beat_strength=num("bpm_confidence"),
            camelot=d.get("camelot") if isinstance(d.get("camelot"), str) else None,
            loudness=num("loudness_lufs"),
            brightness=None if tv is None or len(tv) <= CENTROID else float(tv[CENTROID]),
        ))  # fmt: skip
    return out


def library_tags(store) -> np.ndarray:
    """Every analysed track's tag vector, ``(n, 50)`` (empty when nothing is analysed)."""
    tags = store.vectors("musicnn", "tags_msd")
    if not tags:
        return np.zeros((0, TAG_DIM), np.float32)
    return np.stack([np.asarray(v, np.float32) for v in tags.values()])


def pretty_tag(tag: str) -> str:
    """``Progressive rock`` -> ``Progressive Rock``; ``00s`` and ``Hip-Hop`` stay as they are."""
    return " ".join(w if (w[:1].isdigit() or w[:1].isupper()) else w.capitalize() for w in tag.split())


def distinctive_tags(tags: np.ndarray, reference: np.ndarray | None = None, k: int = 2) -> list[str]:
    """The ``k`` tags that describe a set of tracks best: strong in the set (its mean), and
    stronger than in ``reference`` (the library), so a library of rock does not call every
    mixtape "Rock"."""
    names = tag_names()
    mean = np.asarray(tags, np.float64).reshape(-1, len(names)).mean(0)
    score = mean.copy()
    if reference is not None and len(reference):
        ref = np.asarray(reference, np.float64).mean(0)
        score = mean * np.sqrt(np.maximum(mean, 1e-6) / np.maximum(ref, 1e-6))
    order = [i for i in np.argsort(-score, kind="stable") if names[i] not in UNTITLED_TAGS]
    out: list[str] = []
    for i in order:
        # "electronic" after "electronica" (or "indie" after "indie rock") says nothing new
        if any(names[i] in o or o in names[i] for o in out):
            continue
        out.append(names[i])
        if len(out) == k:
            break
    return out


def _label(t: dict) -> str:
    return f"{t.get('artist') or '?'} – {t.get('title') or '?'}"


def mixtape_title(tracks: Sequence[dict], facts: Sequence[SoundFacts], reference: np.ndarray | None = None) -> tuple[str, str]:
    """A title and a subtitle for a mixtape from its seed and its music.

    Title: the playlist's two most distinctive tags (``Electronic & Ambient``), with its pace
    when the tempi agree (``Fast Electronic & Ambient``); without analysis, the seed's title.
    Subtitle: where it starts and who else plays (``from Kenta Cho – Gr1 · with elysis,
    Maxstack and 9 more``).
    """
    seed = tracks[0] if tracks else {}
    tag_rows = [f.tags for f in facts if f.tags is not None]
    if tag_rows:
        words = [pretty_tag(t) for t in distinctive_tags(np.stack(tag_rows), reference)]
        title = " & ".join(words)
        bpms = [f.bpm for f in facts if f.bpm]
        if len(bpms) >= 3:
            mid = float(np.median(bpms))
            spread = float(np.subtract(*np.percentile(bpms, [75, 25])))
            if spread < 25 and (mid >= 140 or mid < 85):
                title = ("Fast " if mid >= 140 else "Slow ") + title
    else:
        title = seed.get("title") or seed.get("artist") or "segue mixtape"
    artists = [a for a, _ in Counter(t.get("artist") for t in tracks[1:] if t.get("artist")).most_common()]
    artists = [a for a in artists if a != seed.get("artist")]
    sub = f"from {_label(seed)}"
    if artists:
        named = artists[:3]
        more = len(artists) - len(named)
        sub += " · with " + ", ".join(named) + (f" and {more} more" if more else "")
    return title, sub
