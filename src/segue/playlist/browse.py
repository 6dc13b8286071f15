"""Browsing a library the way people think of it: albums, artists, genres, tags, what is new.

A :class:`BrowseIndex` groups catalogue rows once (it is kept on the catalogue) and answers
"every album", "the tracks of this album in order", "radio seeds for this artist". Groups have
stable keys (a short hash of what identifies them), so a page can link to an album and find it
again after the server restarts.

- **album** and **artist**: as every player face groups them (:mod:`segue.library.browse`:
  album artist + album title, or one folder's album title without an album-artist tag; the
  same stable keys the Subsonic API gives phone apps). Albums in play order: disc, track
  number, then file name; an artist's tracks album by album (by year, then name).
- **genre**: the genre tag as written (folded); tracks by artist, album, play order.
- **tag**: the strongest MusiCNN tag of each track (every analysed track has one, so a library
  without genre tags can still be browsed by sound); strongest first.
- **recently added**: albums by the time their newest track was added.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from segue.library.browse import VARIOUS_ARTISTS, group_key
from segue.playlist.catalog import Catalog
from segue.text import fold_text

KINDS = ("album", "artist", "genre", "tag")


@dataclass(frozen=True)
class BrowseFacts:
    """What the catalogue does not hold and browsing needs, per track id."""

    album_artist: str | None = None
    track_no: int | None = None
    disc_no: int | None = None
    added_at: float = 0.0
    album_key: str | None = None  # segue.library.browse.album_key of the track
    album_name: str | None = None


@dataclass
class Group:
    """An album, artist, genre or tag: its rows in play order and what a card shows."""

    kind: str
    key: str
    name: str
    rows: list[int]
    artist: str | None = None  # albums: the album artist (or the one artist, or "Various Artists")
    year: int | None = None
    cover: str | None = None
    added: float = 0.0
    albums: int = field(default=0)

    def card(self) -> dict[str, Any]:
        """The group as JSON for a list of cards."""
        return {
            "kind": self.kind, "key": self.key, "name": self.name, "artist": self.artist,
            "tracks": len(self.rows), "albums": self.albums or None, "year": self.year,
            "cover": self.cover, "added": round(self.added, 3),
        }  # fmt: skip


def _key(kind: str, material: str) -> str:
    return hashlib.sha1(f"{kind}\x1f{material}".encode()).hexdigest()[:16]


class BrowseIndex:
    """Albums, artists, genres and tags of a catalogue (see the module docstring)."""

    def __init__(self, catalog: Catalog, facts: Mapping[int, BrowseFacts]) -> None:
        self.catalog = catalog
        n = len(catalog)
        self._facts = [facts.get(int(catalog.ids[r]), BrowseFacts()) for r in range(n)]
        self._groups: dict[str, dict[str, Group]] = {}
        self._build_albums()
        self._build_artists()
        self._build_genres()
        self._build_tags()

    # -- building ---------------------------------------------------------------------------
    def _play_key(self, r: int) -> tuple:
        f = self._facts[r]
        return (f.disc_no or 0, f.track_no if f.track_no is not None else 1 << 30,
                os.path.basename(self.catalog.path[r]).casefold(), r)  # fmt: skip

    def _cover(self, rows: Sequence[int]) -> str | None:
        return next((self.catalog.cover[r] for r in rows if self.catalog.cover[r]), None)

    def _year(self, rows: Sequence[int]) -> int | None:
        years = [int(y) for y in self.catalog.year[list(rows)] if np.isfinite(y)] if rows else []
        return min(years) if years else None

    def _add(self, kind: str, group: Group) -> None:
        self._groups.setdefault(kind, {})[group.key] = group

    def _build_albums(self) -> None:
        cat = self.catalog
        members: dict[str, list[int]] = {}
        for r in range(len(cat)):
            key = self._facts[r].album_key
            if key:
                members.setdefault(key, []).append(r)
        for key, rows in members.items():
            rows.sort(key=self._play_key)
            artists = {fold_text(cat.artist[r]): cat.artist[r] for r in rows if cat.artist[r]}
            album_artist = next((self._facts[r].album_artist for r in rows if self._facts[r].album_artist), None)
            if album_artist is None and artists:
                album_artist = next(iter(artists.values())) if len(artists) == 1 else VARIOUS_ARTISTS
            self._add("album", Group(
                "album", key, self._facts[rows[0]].album_name or cat.album[rows[0]], rows,
                artist=album_artist, year=self._year(rows), cover=self._cover(rows),
                added=max(self._facts[r].added_at for r in rows),
            ))  # fmt: skip

    def _album_of(self) -> dict[int, Group]:
        return {r: g for g in self._groups.get("album", {}).values() for r in g.rows}

    def _build_artists(self) -> None:
        cat = self.catalog
        album_of = self._album_of()
        members: dict[str, list[int]] = {}
        for r in range(len(cat)):
            folded = fold_text(cat.artist[r])
            if folded:
                members.setdefault(folded, []).append(r)

        def order(r: int) -> tuple:
            g = album_of.get(r)
            return (g.year or 0, fold_text(g.name), g.key) if g else (1 << 30, "", ""), self._play_key(r)

        for rows in members.values():
            rows.sort(key=order)
            name = Counter(cat.artist[r] for r in rows).most_common(1)[0][0]
            albums = {album_of[r].key for r in rows if r in album_of}
            self._add("artist", Group(
                "artist", group_key(name), name, rows, year=self._year(rows),
                cover=self._cover(rows), added=max(self._facts[r].added_at for r in rows),
                albums=len(albums),
            ))  # fmt: skip

    def _by_artist_album(self, rows: list[int]) -> list[int]:
        cat = self.catalog
        return sorted(rows, key=lambda r: (fold_text(cat.artist[r]), fold_text(cat.album[r]), self._play_key(r)))

    def _build_genres(self) -> None:
        cat = self.catalog
        members: dict[str, list[int]] = {}
        for r in range(len(cat)):
            folded = fold_text(cat.genre[r])
            if folded:
                members.setdefault(folded, []).append(r)
        for folded, rows in members.items():
            rows = self._by_artist_album(rows)
            name = Counter(cat.genre[r] for r in rows).most_common(1)[0][0]
            self._add("genre", Group("genre", _key("genre", folded), name, rows,
                                     cover=self._cover(rows), added=max(self._facts[r].added_at for r in rows)))  # fmt: skip

    def _build_tags(self) -> None:
        cat = self.catalog
        tops = cat.top_tags()
        members: dict[str, list[int]] = {}
        for r, tag in enumerate(tops):
            if tag:
                members.setdefault(tag, []).append(r)
        for tag, rows in members.items():
            strength = (cat.tags or {}).get(tag)
            if strength is not None:
                rows.sort(key=lambda r, s=strength: (-float(np.nan_to_num(s[r], nan=-1.0)), r))
            self._add("tag", Group("tag", _key("tag", tag), tag, rows, cover=self._cover(rows),
                                   added=max(self._facts[r].added_at for r in rows)))  # fmt: skip

    # -- answers ----------------------------------------------------------------------------
    def groups(self, kind: str, sort: str = "name") -> list[Group]:
        """Every group of a kind: by name (``name``), by size (``tracks``), newest first
        (``recent``)."""
        found = list(self._groups.get(kind, {}).values())
        if sort == "recent":
            return sorted(found, key=lambda g: (-g.added, fold_text(g.name)))
        if sort == "tracks":
            return sorted(found, key=lambda g: (-len(g.rows), fold_text(g.name)))
        return sorted(found, key=lambda g: (fold_text(g.name), fold_text(g.artist), g.key))

    def group(self, kind: str, key: str) -> Group | None:
        """One group by its key, or None."""
        return self._groups.get(kind, {}).get(key)

    def albums_of(self, rows: Sequence[int]) -> list[Group]:
        """The albums these rows belong to, in the order they first appear."""
        album_of = self._album_of()
        seen: dict[str, Group] = {}
        for r in rows:
            g = album_of.get(r)
            if g is not None:
                seen.setdefault(g.key, g)
        return list(seen.values())

    def recent_rows(self, limit: int) -> list[int]:
        """The most recently added tracks, newest first (albums kept in play order)."""
        order = sorted(range(len(self.catalog)), key=lambda r: (-self._facts[r].added_at, self._play_key(r)))
        return order[:limit]


def spread_rows(catalog: Catalog, rows: Sequence[int], k: int) -> list[int]:
    """Up to ``k`` of ``rows`` that cover their sound: the one nearest their centre first, then
    each time the row farthest from those chosen (farthest-point sampling on the unit vectors).
    Seeds for a radio "from this album / artist" that stands for all of it, not its first k."""
    rows = list(dict.fromkeys(int(r) for r in rows))
    if len(rows) <= k:
        return rows
    v = catalog.vectors[rows]
    centre = v.mean(axis=0)
    chosen = [int(np.argmax(v @ centre))]
    best_sim = v @ v[chosen[0]]
    while len(chosen) < k:
        nxt = int(np.argmin(best_sim))
        chosen.append(nxt)
        best_sim = np.maximum(best_sim, v @ v[nxt])
    return [rows[i] for i in chosen]
