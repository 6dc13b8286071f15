"""The playlist engine's in-memory view of a library.

A :class:`Catalog` holds one row per track: the track id, an L2-normalised embedding, optional
intro/outro embeddings (start and end of the track, used for transitions), the tags people see
(path, title, artist, album, genre) and the DJ facts the descriptors produced (tempo, key,
loudness).  Everything in ``segue.playlist`` works on *row indices* into a catalogue; ids are only
for the outside world (``catalog.ids[i]``, :meth:`Catalog.index_of`).

The catalogue is immutable in spirit: build a new one when the library changes.  Derived data
(artist codes, the search index) is computed lazily and cached on the object.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import InitVar, dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from segue.errors import UserError
from segue.text import fold_text  # noqa: F401 - part of the catalogue's vocabulary

if TYPE_CHECKING:
    from segue.index import Index


T = TypeVar("T")
_MISSING = object()


def normalise_rows(x: np.ndarray, in_place: bool = False) -> np.ndarray:
    """Rows scaled to unit L2 norm, as contiguous float32; all-zero rows stay zero.

    ``in_place``: scale ``x`` itself where it already is contiguous float32 (the caller's own
    matrix, which it no longer needs raw: a million-track catalogue then never holds both)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D array of vectors, got shape {x.shape}")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out = np.divide(x, norms, out=x if in_place and x.flags.writeable else None)
    out[~np.isfinite(out).all(axis=1)] = 0.0
    return out


def _float_array(x: Any, n: int, name: str) -> np.ndarray:
    if x is None:
        return np.full(n, np.nan, dtype=np.float64)
    a = np.asarray(x, dtype=np.float64).reshape(-1)
    if a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} rows, expected {n}")
    return a


def _str_list(x: Any, n: int, name: str) -> list[str]:
    if x is None:
        return [""] * n
    out = ["" if v is None else str(v) for v in x]
    if len(out) != n:
        raise ValueError(f"{name} has {len(out)} rows, expected {n}")
    return out


def _codes(keys: Sequence[str]) -> np.ndarray:
    """Integer code per distinct non-empty key; -1 for empty (unknown never matches anything)."""
    table: dict[str, int] = {}
    out = np.empty(len(keys), dtype=np.int64)
    for i, k in enumerate(keys):
        out[i] = -1 if not k else table.setdefault(k, len(table))
    return out


@dataclass(eq=False)
class Catalog:
    """Tracks as parallel arrays; see the module docstring.

    Required: ``ids`` (int64) and ``vectors`` (n, d).  Everything else is optional and filled
    with "unknown" (empty string, NaN, None) when missing; ``group`` defaults to one group per
    track (no exact duplicates known).  Vectors (and intro/outro) are L2-normalised on
    construction, so callers may pass raw embeddings.
    """

    ids: np.ndarray
    vectors: np.ndarray
    intro: np.ndarray | None = None
    outro: np.ndarray | None = None
    path: list[str] = field(default=None)  # type: ignore[assignment]
    title: list[str] = field(default=None)  # type: ignore[assignment]
    artist: list[str] = field(default=None)  # type: ignore[assignment]
    album: list[str] = field(default=None)  # type: ignore[assignment]
    genre: list[str] = field(default=None)  # type: ignore[assignment]
    cover: list[str | None] = field(default=None)  # type: ignore[assignment]  # content hashes
    duration: np.ndarray = field(default=None)  # type: ignore[assignment]
    year: np.ndarray = field(default=None)  # type: ignore[assignment]
    group: np.ndarray = field(default=None)  # type: ignore[assignment]
    bpm: np.ndarray = field(default=None)  # type: ignore[assignment]
    bpm_confidence: np.ndarray = field(default=None)  # type: ignore[assignment]
    loudness_lufs: np.ndarray = field(default=None)  # type: ignore[assignment]
    camelot: list[str | None] = field(default=None)  # type: ignore[assignment]
    tags: dict[str, np.ndarray] | None = None
    #: Where the default index is kept between processes (a saved catalogue sets it; see
    #: :mod:`segue.playlist.snapshot`); None: built in memory each time.
    index_file: str | None = field(default=None, repr=False)
    #: The vectors are unit rows already (a saved catalogue): used as they are, bit for bit, so
    #: an index saved for them still matches their fingerprint.
    normalised: InitVar[bool] = False
    _derived: dict[Hashable, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self, normalised: bool = False) -> None:
        unit = (lambda x: np.ascontiguousarray(x, dtype=np.float32)) if normalised else normalise_rows
        self.vectors = unit(self.vectors)
        n = self.vectors.shape[0]
        self.ids = np.asarray(self.ids, dtype=np.int64).reshape(-1)
        if self.ids.shape[0] != n:
            raise ValueError(f"ids has {self.ids.shape[0]} rows, vectors has {n}")
        if len(np.unique(self.ids)) != n:
            raise ValueError("track ids must be unique")
        for name in ("intro", "outro"):
            v = getattr(self, name)
            if v is not None:
                v = unit(v)
                if v.shape != self.vectors.shape:
                    raise ValueError(f"{name} has shape {v.shape}, expected {self.vectors.shape}")
                setattr(self, name, v)
        for name in ("path", "title", "artist", "album", "genre"):
            setattr(self, name, _str_list(getattr(self, name), n, name))
        for name in ("duration", "year", "bpm", "bpm_confidence", "loudness_lufs"):
            setattr(self, name, _float_array(getattr(self, name), n, name))
        if self.group is None:
            self.group = np.arange(n, dtype=np.int64)
        else:
            self.group = np.asarray(self.group, dtype=np.int64).reshape(-1)
            if self.group.shape[0] != n:
                raise ValueError(f"group has {self.group.shape[0]} rows, expected {n}")
        self.cover = [None] * n if self.cover is None else [c or None for c in self.cover]
        if len(self.cover) != n:
            raise ValueError(f"cover has {len(self.cover)} rows, expected {n}")
        if self.camelot is None:
            self.camelot = [None] * n
        else:
            self.camelot = [c or None for c in self.camelot]
            if len(self.camelot) != n:
                raise ValueError(f"camelot has {len(self.camelot)} rows, expected {n}")
        if self.tags is not None:
            tags = {}
            for k, v in self.tags.items():
                tags[k] = _float_array(v, n, f"tags[{k!r}]")
            self.tags = tags

    # --- sizes and lookups -------------------------------------------------------------------

    def __len__(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def n(self) -> int:
        return len(self)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def cached(self, key: Hashable, build: Callable[[], T]) -> T:
        """Data derived from this catalogue (an index, a search table, a layout), built by
        ``build()`` on first use and kept as long as the catalogue lives.

        Safe to call from several threads: each value is stored in one assignment, so a reader
        sees it whole or not at all (two threads may both build it once; the first stored wins).
        """
        got = self._derived.get(key, _MISSING)
        if got is _MISSING:
            got = self._derived.setdefault(key, build())
        return got  # type: ignore[return-value]

    def is_cached(self, key: Hashable) -> bool:
        """Whether :meth:`cached` already holds ``key`` (answering it would cost nothing)."""
        return key in self._derived

    def index_of(self, track_id: int) -> int:
        """Row index of a track id; ``KeyError`` if unknown."""
        table = self.cached("id_to_row", lambda: {int(t): i for i, t in enumerate(self.ids)})
        return table[int(track_id)]

    def label(self, i: int) -> str:
        """``Artist - Title`` (falling back to the file name) for messages."""
        a, t = self.artist[i], self.title[i]
        if a and t:
            return f"{a} - {t}"
        if t:
            return t
        p = self.path[i]
        return p.rsplit("/", 1)[-1] if p else f"track {int(self.ids[i])}"

    @property
    def artist_codes(self) -> np.ndarray:
        """Int code per track for its (folded) artist; -1 when the artist is unknown."""
        return self.cached("artist_codes", lambda: _codes([fold_text(a) for a in self.artist]))

    @property
    def album_codes(self) -> np.ndarray:
        """Int code per (artist, album); -1 when the album is unknown."""
        def build() -> np.ndarray:
            keys = [
                (fold_text(ar) + "\x00" + fold_text(al)) if al else ""
                for ar, al in zip(self.artist, self.album, strict=True)
            ]
            return _codes(keys)

        return self.cached("album_codes", build)

    def top_tags(self) -> list[str]:
        """Each track's strongest tag (MusiCNN MSD), or "" where the track has none."""

        def build() -> list[str]:
            tags = self.tags or {}
            if not tags:
                return [""] * len(self)
            names = list(tags)
            m = np.column_stack([tags[k] for k in names])
            m = np.where(np.isfinite(m), m, -1.0)
            best = m.argmax(axis=1)
            return [names[b] if m[i, b] >= 0 else "" for i, b in enumerate(best)]

        return self.cached("top_tags", build)

    def transition_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(outro, intro) matrices, falling back to the whole-track vectors."""
        out = self.outro if self.outro is not None else self.vectors
        inn = self.intro if self.intro is not None else self.vectors
        return out, inn

    def get_index(self, hub_reduction: str = "none", **kwargs: Any) -> Index:
        """The cosine search index over ``vectors``, built on first use and cached.

        Keyword arguments go to :class:`segue.index.Index`; a different configuration builds
        (and caches) a different index.
        """
        from segue.index import Index

        key = ("index", hub_reduction, tuple(sorted(kwargs.items())))
        if self.index_file and hub_reduction == "none" and not kwargs:
            return self.cached(key, self._saved_index)
        return self.cached(key, lambda: Index(self.vectors, hub_reduction=hub_reduction, **kwargs))

    def _saved_index(self) -> Index:
        """The default index from :attr:`index_file`, or built and saved there. Only an ANN
        index is worth keeping (it trains for minutes at 1M tracks); exact search is not."""
        from segue.index import EXACT_THRESHOLD, Index

        path = self.index_file
        if path is None or len(self) <= EXACT_THRESHOLD:
            return Index(self.vectors)
        try:
            return Index.load(path, self.vectors)
        except UserError:
            pass
        index = Index(self.vectors)
        with contextlib.suppress(OSError):
            index.save(path)
        return index

    def subset(self, rows: Sequence[int] | np.ndarray) -> Catalog:
        """A new catalogue with only ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)

        def pick(seq: Any) -> Any:
            if seq is None:
                return None
            if isinstance(seq, np.ndarray):
                return seq[rows]
            return [seq[i] for i in rows]

        return Catalog(
            ids=self.ids[rows],
            vectors=self.vectors[rows],
            intro=pick(self.intro),
            outro=pick(self.outro),
            path=pick(self.path),
            title=pick(self.title),
            artist=pick(self.artist),
            album=pick(self.album),
            genre=pick(self.genre),
            cover=pick(self.cover),
            duration=pick(self.duration),
            year=pick(self.year),
            group=pick(self.group),
            bpm=pick(self.bpm),
            bpm_confidence=pick(self.bpm_confidence),
            loudness_lufs=pick(self.loudness_lufs),
            camelot=pick(self.camelot),
            tags=None if self.tags is None else {k: v[rows] for k, v in self.tags.items()},
        )

    # --- synthetic libraries for tests and benchmarks -----------------------------------------

    @classmethod
    def synthetic(
        cls,
        n: int,
        d: int = 32,
        seed: int = 0,
        *,
        n_genres: int = 8,
        artists_per_genre: int = 10,
        albums_per_artist: int = 2,
        genre_spread: float = 0.6,
        artist_spread: float = 0.5,
        track_spread: float = 0.5,
        transitions: bool = True,
        random: bool = False,
    ) -> Catalog:
        """A library whose structure is known: genres > artists > albums > tracks.

        Each genre has a random unit centre; artists scatter around their genre, albums around
        their artist, tracks around their album (Gaussian offsets of the given relative norms),
        so nearest neighbours are mostly same genre.  ``random=True`` draws every track vector
        independently (no structure at all): the null model for evaluation.

        Also filled: paths ``/music/<genre>/<artist>/<album>/NNN.flac``, durations 2-7 min,
        years, tempo 70-170 BPM with confidence, Camelot keys, loudness -16..-6 LUFS, two tags,
        and (``transitions=True``) intro/outro vectors near the track vector.  Generation is
        chunked so 1M x 200 fits comfortably in memory.
        """
        if n < 1 or d < 2:
            raise ValueError("need n >= 1 and d >= 2")
        rng = np.random.default_rng(seed)
        n_artists = n_genres * artists_per_genre
        n_albums = n_artists * albums_per_artist

        def unit(m: int) -> np.ndarray:
            x = rng.standard_normal((m, d)).astype(np.float32)
            return normalise_rows(x)

        def jitter(centres: np.ndarray, spread: float) -> np.ndarray:
            noise = rng.standard_normal(centres.shape).astype(np.float32)
            noise *= spread / np.sqrt(d)
            return normalise_rows(centres + noise)

        g_c = unit(n_genres)
        artist_genre = np.arange(n_artists) // artists_per_genre
        a_c = jitter(g_c[artist_genre], genre_spread)
        album_artist = np.arange(n_albums) // albums_per_artist
        al_c = jitter(a_c[album_artist], artist_spread)

        album = rng.integers(0, n_albums, size=n)
        album.sort(kind="stable")
        vectors = np.empty((n, d), dtype=np.float32)
        chunk = 65536
        for s in range(0, n, chunk):
            e = min(n, s + chunk)
            if random:
                vectors[s:e] = unit(e - s)
            else:
                vectors[s:e] = jitter(al_c[album[s:e]], track_spread)
        intro = outro = None
        if transitions:
            intro = np.empty_like(vectors)
            outro = np.empty_like(vectors)
            for s in range(0, n, chunk):
                e = min(n, s + chunk)
                intro[s:e] = jitter(vectors[s:e], 0.4)
                outro[s:e] = jitter(vectors[s:e], 0.4)
        artist = album_artist[album]
        genre = artist_genre[artist]
        keys = [f"{k}{m}" for k in range(1, 13) for m in "AB"]
        track_no = np.zeros(n, dtype=np.int64)
        if n > 1:
            same = np.r_[False, album[1:] == album[:-1]]
            # running count within each album
            starts = np.flatnonzero(~same)
            track_no = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        paths = [
            f"/music/genre{genre[i]:02d}/artist{artist[i]:04d}/album{album[i]:05d}/"
            f"{track_no[i] + 1:03d}.flac"
            for i in range(n)
        ]
        bpm = rng.uniform(70, 170, size=n)
        return cls(
            ids=np.arange(1, n + 1, dtype=np.int64),
            vectors=vectors,
            intro=intro,
            outro=outro,
            path=paths,
            title=[f"Track {i + 1}" for i in range(n)],
            artist=[f"Artist {a}" for a in artist],
            album=[f"Album {a}" for a in album],
            genre=[f"genre{g}" for g in genre],
            duration=rng.uniform(120, 420, size=n),
            year=rng.integers(1960, 2025, size=n).astype(np.float64),
            group=np.arange(n, dtype=np.int64),
            bpm=bpm,
            bpm_confidence=rng.uniform(0.3, 1.0, size=n),
            loudness_lufs=rng.uniform(-16, -6, size=n),
            camelot=[keys[k] for k in rng.integers(0, 24, size=n)],
            tags={
                "rock": (genre % 2 == 0) * 0.6 + rng.uniform(0, 0.4, size=n),
                "calm": rng.uniform(0, 1, size=n),
            },
        )


def require_index(catalog: Catalog, i: Any, what: str = "track") -> int:
    """``i`` as a valid row index of ``catalog`` or a ``UserError``."""
    try:
        j = int(i)
    except (TypeError, ValueError):
        raise UserError(f"{what} must be a track index, got {i!r}") from None
    if not 0 <= j < len(catalog):
        raise UserError(f"{what} index {j} is outside the library (0..{len(catalog) - 1})")
    return j
