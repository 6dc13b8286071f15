"""Contexts: groups of tracks that a library says belong together, read from the store.

A context is an ordered list of tracks (by audio hash, so duplicate files are one track) with a
source and a weight. Four sources:

- ``album``: each album in running order (disc, track number, path). An album is its
  MusicBrainz album id when tagged; otherwise the album tag with the album artist, or, without
  an album artist, with the folder (a compilation tagged per track artist is still one album
  when its files share a folder). Files with no album tag make no album.
- ``folder``: each folder of two to :data:`FOLDER_MAX_TRACKS` tracks, in path order, unless it
  holds exactly the tracks of one album (then it says nothing the album did not). A bigger
  folder is a dump of loose files, not a grouping: as a context it would say only "these are
  all music" and water down every other context its tracks are in.
- ``playlist``: each playlist file found by the scan (M3U/M3U8/XSPF/PLS), its library entries
  in order.
- ``session``: listening sessions from the ``plays`` table. Events less than
  :data:`SESSION_GAP` apart are one sitting; the tracks played to the end in a sitting are a
  context, and a track skipped within :data:`SKIP_SECONDS` of its start makes a *negative pair*
  with the track played before it.

Style labels (genre tags, a manifest's ``genre`` column) are never read here: what is learned
comes from how the music is organised and played, so an evaluation against style labels stays
honest. ``tests/test_learn_*.py`` checks that changing every genre tag changes nothing.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from segue.library.store import Store, TrackRow

SOURCES = ("album", "folder", "playlist", "session")
#: Default weight of each source's co-occurrences (a folder is weaker evidence than an album).
DEFAULT_WEIGHTS: dict[str, float] = {"album": 1.0, "folder": 0.5, "playlist": 1.0, "session": 1.0}
#: Events further apart than this (seconds) start a new listening session.
SESSION_GAP = 30 * 60
#: Folders with more tracks than this are not contexts (see the module docstring).
FOLDER_MAX_TRACKS = 100
#: A skip this early (seconds into the track) says "not after that one".
SKIP_SECONDS = 30.0


@dataclass
class Context:
    source: str
    tracks: list[int]  # indices into Contexts.hashes, in order, no repeats
    weight: float = 1.0


@dataclass
class Contexts:
    """The contexts of a library over a universe of tracks (audio hashes)."""

    hashes: list[str]
    contexts: list[Context] = field(default_factory=list)
    #: (skipped track, track played before it) index pairs, with their weight.
    negatives: list[tuple[int, int, float]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Contexts per source (and ``skip_pairs``): what the summary reports."""
        out = {s: 0 for s in SOURCES}
        for c in self.contexts:
            out[c.source] += 1
        out["skip_pairs"] = len(self.negatives)
        return out

    def covered(self) -> set[int]:
        """Tracks that appear in at least one context or negative pair."""
        seen = {t for c in self.contexts for t in c.tracks}
        seen.update(t for a, b, _ in self.negatives for t in (a, b))
        return seen

    def only(self, sources: Iterable[str]) -> Contexts:
        """The same universe with only the given sources (negatives count as ``session``)."""
        keep = set(sources)
        return Contexts(
            self.hashes,
            [c for c in self.contexts if c.source in keep],
            self.negatives if "session" in keep else [],
        )


def album_key(track: TrackRow) -> tuple[str, ...] | None:
    """The album a track belongs to (see the module docstring), or None."""
    if track.mb_album_id:
        return ("mb", track.mb_album_id)
    if not track.album:
        return None
    album = " ".join(track.album.casefold().split())
    if track.album_artist:
        return ("tag", " ".join(track.album_artist.casefold().split()), album)
    return ("folder", os.path.dirname(track.path), album)


def _ordered_unique(items: Iterable[int]) -> list[int]:
    return list(dict.fromkeys(items))


def build_contexts(
    store: Store,
    hashes: list[str],
    weights: Mapping[str, float] | None = None,
    sources: Iterable[str] = SOURCES,
) -> Contexts:
    """The contexts of the library in ``store`` over the tracks ``hashes`` (those the learning
    can place: analysed ones). Tracks outside ``hashes`` are left out of every context."""
    w = {**DEFAULT_WEIGHTS, **(weights or {})}
    wanted = set(sources)
    index = {h: i for i, h in enumerate(hashes)}
    tracks = [t for t in store.tracks() if t.audio_hash in index]
    out = Contexts(list(hashes))

    albums: dict[tuple[str, ...], list[TrackRow]] = defaultdict(list)
    for t in tracks:
        key = album_key(t)
        if key is not None:
            albums[key].append(t)
    album_sets: set[frozenset[int]] = set()
    for members in albums.values():
        members.sort(key=lambda t: (t.disc_no or 0, t.track_no or 0, t.path))
        ids = _ordered_unique(index[t.audio_hash] for t in members)
        if len(ids) >= 2:
            album_sets.add(frozenset(ids))
            if "album" in wanted:
                out.contexts.append(Context("album", ids, w["album"]))

    if "folder" in wanted:
        folders: dict[str, list[TrackRow]] = defaultdict(list)
        for t in tracks:
            folders[os.path.dirname(t.path)].append(t)
        for members in folders.values():
            members.sort(key=lambda t: t.path)
            ids = _ordered_unique(index[t.audio_hash] for t in members)
            if 2 <= len(ids) <= FOLDER_MAX_TRACKS and frozenset(ids) not in album_sets:
                out.contexts.append(Context("folder", ids, w["folder"]))

    if "playlist" in wanted:
        by_list: dict[int, list[int]] = defaultdict(list)
        for e in store.playlist_entries():
            if e.audio_hash is not None and e.audio_hash in index:
                by_list[e.playlist_id].append(index[e.audio_hash])
        for ids in by_list.values():
            ids = _ordered_unique(ids)
            if len(ids) >= 2:
                out.contexts.append(Context("playlist", ids, w["playlist"]))

    if "session" in wanted:
        sessions, negatives = listening_sessions(store, index)
        out.contexts.extend(Context("session", ids, w["session"]) for ids in sessions)
        out.negatives.extend((a, b, w["session"]) for a, b in negatives)
    return out


def listening_sessions(
    store: Store, index: Mapping[str, int]
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """(sessions: tracks played to the end in one sitting, skip pairs: (skipped, previous))."""
    events = sorted(store.plays(), key=lambda e: e.at)
    sessions: list[list[int]] = []
    negatives: list[tuple[int, int]] = []
    played: list[int] = []
    previous: int | None = None  # the track played before the current one, in this sitting
    current: int | None = None
    last_at: float | None = None

    def close() -> None:
        ids = _ordered_unique(played)
        if len(ids) >= 2:
            sessions.append(ids)

    for e in events:
        if last_at is not None and e.at - last_at > SESSION_GAP:
            close()
            played, previous, current = [], None, None
        last_at = e.at
        track = index.get(e.audio_hash)
        if track is None:
            continue
        if e.event == "start":
            if track != current:
                previous, current = current, track
        elif e.event == "complete":
            played.append(track)
        elif e.event == "skip" and (e.position_s or 0.0) < SKIP_SECONDS:
            before = previous if track == current else current
            if before is not None and before != track:
                negatives.append((track, before))
    close()
    return sessions, negatives
