"""The library API: the one door into segue's core.

The CLI (``cli.py`` + ``commands/``), the web app (``web/``) and the integrations
(``integrations/``) only parse input, call one :class:`Library` method and format its answer;
none of them imports anything below this module (``tests/test_architecture.py`` holds them to
it). So every method comes in the forms the faces need:

- *text* forms take what a person types (a track id, a path, ``"artist - title"``, an audio
  file outside the library, a playlist file): :meth:`Library.similar`, :meth:`Library.playlist`,
  :meth:`Library.journey`, :meth:`Library.mixtape`;
- *row* forms take catalogue rows (indices into :meth:`Library.catalog`, found from track ids
  with :meth:`Library.row`), for faces that already hold tracks (the web app, MPD): an id is
  never read as seed text, so it can never fuzzily match another track or a file in the cwd.

Errors a person can fix are :class:`~segue.errors.UserError` (one line, no option names: the
faces add those); :class:`TrackNotFound` and :class:`NotReady` are the ones a web face maps to
404 and 409.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from segue.audio.formats import media_type
from segue.config import default_db_path
from segue.errors import DecodeError, NotReady, TrackNotFound, UnsupportedAudio, UserError
from segue.library.browse import Album, Artist
from segue.library.scan import AnalysisHook, ScanInterrupted, Scanner, ScanReport
from segue.library.store import (
    PLAY_EVENTS,
    SCHEMA_VERSION,
    STAR_KINDS,
    LibraryDamaged,
    PlayEvent,
    SavedPlaylist,
    Store,
    TrackRow,
    damaged_library,
    database_problem,
    read_only_library,
)
from segue.listen.feature_sets import NEURAL, STORED
from segue.playlist.order import ENERGY_ARCS
from segue.playlist.rules import Rules
from segue.progress import warn
from segue.text import fold_text

__all__ = [
    "media_type",
    "STAR_KINDS", "Album", "Artist", "Collection", "SavedPlaylist", "LibraryDamaged", "Neighbours",
    "fold_text", "user_error_for", "ENERGY_ARCS", "FEATURE_SETS", "HUB_REDUCTIONS", "IMAGE_SOURCES", "MAP_METHODS",
    "NEURAL_FEATURES",
    "PLAYLIST_EXTENSIONS", "PLAY_EVENTS", "POOLINGS", "PRECISIONS", "Library", "NotReady",
    "Playlist", "Rules", "ScanInterrupted", "ScanReport", "TrackNotFound", "UnsupportedAudio",
    "UserError",
]  # fmt: skip

#: Vector sources for similarity: the space learned from this library (the default; the
#: pretrained MusiCNN space until a model is trained), neural embeddings, then the mixtape
#: ancestor's feature sets.
LEARNED = "learned"
NEURAL_FEATURES = NEURAL
FEATURE_SETS = (LEARNED, *STORED)
POOLINGS = ("mean", "tfidf")
HUB_REDUCTIONS = ("none", "csls", "mp")
#: MusiCNN front-end precisions (``auto``: int8 where the CPU has it); see listen.models.musicnn.
PRECISIONS = ("auto", "fp32", "int8")
MAP_METHODS = ("tsne", "umap")
#: A scan lays out the map at its end from this many analysed tracks on (below, the web
#: player's first view of the map does it in seconds).
MAP_AT_SCAN_MIN = 200
#: At most this many sound clusters colour the map (about sqrt(n / 4) below that).
BROWSE_KINDS = ("album", "artist", "genre", "tag")
BROWSE_SORTS = ("name", "tracks", "recent")
IMAGE_SOURCES = ("auto", "gan", "covers")

#: TF-IDF "same term" threshold (cosine distance); chosen on the dev corpus, see BENCHMARKS.md.
TFIDF_EPS = 1e-3
PLAYLIST_EXTENSIONS = (".m3u", ".m3u8", ".xspf", ".pls")
#: Libraries with at least this many tracks keep their catalogue (and ANN index) in a snapshot
#: beside the database, so a fresh process does not rebuild it (see playlist.snapshot).
SNAPSHOT_MIN_TRACKS = 10_000


def standardise(matrix: np.ndarray) -> np.ndarray:
    """Z-score each dimension across the library (a flat dimension stays 0), as float32.

    Classic feature sets mix units and scales (rhythm-pattern energies next to spectral
    moments); without this, cosine similarity would be decided by the largest few dimensions.
    """
    centred = matrix - matrix.mean(axis=0)
    std = matrix.std(axis=0)
    return (centred / np.where(std > 1e-12, std, 1.0)).astype(np.float32)


def track_json(track: TrackRow, analysis_error: str | None, analysed: bool) -> dict[str, object]:
    """The public JSON shape of a library track (``segue tracks --json``, see ARCHITECTURE.md);
    new keys may be added, never removed. Playlist tracks are :meth:`Library.rows_json`, whose
    keys are a subset of these plus ``file`` and ``similarity``."""
    return {
        "id": track.id,
        "path": track.path,
        "title": track.title,
        "artist": track.artist,
        "album": track.album,
        "album_artist": track.album_artist,
        "genre": track.genre,
        "year": track.year,
        "track_no": track.track_no,
        "disc_no": track.disc_no,
        "duration": track.duration,
        "format": track.format,
        "codec": track.codec,
        "audio_hash": track.audio_hash,
        "cover": track.cover_hash,
        "mb_track_id": track.mb_track_id,
        "mb_album_id": track.mb_album_id,
        "mb_artist_id": track.mb_artist_id,
        "analysed": analysed,
        "error": analysis_error,
    }


def user_error_for(exc: BaseException, library: str | Path) -> UserError | None:
    """The one line a person needs for a failure that is not a bug (a damaged, read-only or
    busy library database), or None when ``exc`` is a bug. Faces call this in their last-resort
    handler, so a corrupt library never shows as a traceback."""
    import sqlite3

    if isinstance(exc, sqlite3.DatabaseError):
        return database_problem(exc, library)
    return None


def _named(names: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {name: round(float(v), 4) for name, v in zip(names, values, strict=True)}


@dataclass
class Playlist:
    """A generated playlist: catalogue rows (seeds first) and, when it came out shorter than
    asked, the reason in one line (``note``)."""

    rows: list[int]
    note: str | None = None
    #: The seeds as they were understood: (row, "Artist - Title"), in order.
    seeds: list[tuple[int, str]] = field(default_factory=list)


class Neighbours(list):
    """:meth:`Library.similar`'s answer: the tracks (a plain list of dicts) and ``seed``, the
    seed as it was understood ("Artist - Title", or the outside file's name)."""

    seed: str = ""


@dataclass
class Collection:
    """The whole library as players browse it (analysed or not): tracks by id (their
    :func:`track_json` plus ``size``, ``bitrate``, ``added_at``, ``album_key``, ``artist_key``),
    albums and artists by key (see :mod:`segue.library.browse`), all in name order."""

    tracks: dict[int, dict[str, Any]]
    albums: dict[str, Album]
    artists: dict[str, Artist]
    by_hash: dict[str, int]  # audio hash -> the lowest track id with it


@dataclass
class Journey:
    """A journey through waypoints: rows in order, and the engine's per-step numbers."""

    rows: list[int]
    steps: list[dict[str, Any]]
    seeds: list[tuple[int, str]] = field(default_factory=list)


class Library:
    """A music library: its database and everything computed from it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._catalogs: dict[tuple[str, str], Any] = {}
        #: The vector source that ``catalog()`` (and so every playlist call) uses; see :meth:`use`.
        self.features = LEARNED
        self.pooling = "mean"
        self._collection: tuple[tuple, Collection] | None = None

    @classmethod
    def open(cls, path: str | Path | None = None) -> Library:
        """Open the library at ``path`` (default: ``$SEGUE_DB`` or the platform data dir)."""
        return cls(Store(Path(path).expanduser() if path else default_db_path()))

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self.store.path

    # -- the collection -----------------------------------------------------------------------
    def scan(
        self,
        folders: Iterable[str | Path],
        *,
        full: bool = False,
        workers: int | None = None,
        analyse: bool = True,
        hook: AnalysisHook | None = None,
        progress: bool = True,
        precision: str = "auto",
        model: str = "musicnn",
        weights: str | None = None,
        files: Iterable[str | Path] = (),
        executor: str = "local",
        ray_address: str = "auto",
    ) -> ScanReport:
        """Add or refresh folders, listening to new audio in the same pass (``analyse``).

        ``files``: single audio files to add or refresh too (a beets query's matches); nothing
        else in their folders is touched.

        ``executor``: where files are read and analysed: ``local`` (worker processes on this
        machine, ``workers`` of them) or ``ray``: the actors of the Ray cluster at
        ``ray_address`` (``auto``: this machine's instance, started if there is none; or a
        cluster's address), one per CPU unless ``workers`` says; the files must be at the same
        path on every node. Needs the ``ray`` extra. Everything but where the work runs is the
        same (see :mod:`segue.library.ray_executor`).

        See :mod:`segue.library.scan`; raises ScanInterrupted on Ctrl-C with the work so far saved.
        ``model`` ``musicnn`` (default; front end at ``precision``, see models.musicnn) or
        ``deejai`` (needs ``weights``, a user-supplied checkpoint). ``hook`` replaces either.
        Models load in the worker processes, and only when there is audio to analyse.
        """
        if self.store.read_only:
            raise read_only_library(self.path)
        problem = self.store.integrity_problem()
        if problem is not None:  # never write a scan into a damaged file
            raise damaged_library(self.path, problem)
        if hook is None and analyse:
            hook = self._listening_hook(model, precision, weights)
        elif weights and model != "deejai":
            raise UserError("weights are for the deejai model; MusiCNN's weights are fetched by segue")
        scanner = Scanner(self.store, workers=workers, full=full, hook=hook, progress=progress,
                          executor=self._scan_executor(executor, ray_address))  # fmt: skip
        self._catalogs.clear()
        playlists_before = self.store.playlist_file_states()
        report = scanner.scan(folders, files=files)
        changed = (report.added + report.updated + report.moved + report.removed + report.analysed
                   or self.store.playlist_file_states() != playlists_before)  # fmt: skip
        if analyse and changed and self._hears_with_musicnn(hook):
            report.learned = self.learn().as_dict()
        if hook is not None and (report.analysed or report.removed or report.learned):
            self._prepare_map(progress)  # after learning: the map shows the space playlists use
        return report

    @staticmethod
    def _scan_executor(executor: str, ray_address: str) -> Any:
        """The scan's executor factory (None: the local worker processes); Ray only when asked,
        so a plain scan never imports it."""
        if executor == "local":
            return None
        if executor != "ray":
            raise UserError(f"unknown executor {executor!r}; use local or ray")
        from segue.library.ray_executor import RayExecutor

        return RayExecutor(ray_address)

    def _prepare_map(self, progress: bool) -> None:
        """Lay out the map now, at the end of a scan that changed what is analysed, so the web
        player's first view of it does not wait (the layout is cached on disk and shared).
        Below :data:`MAP_AT_SCAN_MIN` analysed tracks the first view lays it out in seconds
        (showing its progress), and the scan does not spend them."""
        import sys
        import time

        if self.store.count_vectors(self.default_model(), "track") < MAP_AT_SCAN_MIN:
            return

        started = time.perf_counter()
        try:
            points = self.map_points()
        except NotReady:
            return
        except Exception as exc:  # noqa: BLE001 - the scan is done; the map can be made later
            warn(f"the map layout could not be made now ({exc}); the web player will try again")
            return
        seconds = time.perf_counter() - started
        if progress and seconds >= 1.0:
            print(f"map: {len(points['ids'])} tracks laid out ({points['method']}) in {seconds:.1f} s",
                  file=sys.stderr)  # fmt: skip

    @staticmethod
    def _hears_with_musicnn(hook: AnalysisHook | None) -> bool:
        """Whether a scan's analysis feeds the learned space (it reads MusiCNN's vectors)."""
        return hook is None or getattr(hook, "model", None) == "musicnn"

    # -- learning from the library --------------------------------------------------------------
    def learn(self, *, method: str = "cooccurrence", sources: Sequence[str] | None = None,
              step: Callable[[str], None] | None = None) -> Any:  # fmt: skip
        """Train the learned space from the library's albums, folders, playlist files and plays
        (see :mod:`segue.learn`) and store it; the next catalogue uses it. Returns the
        :class:`~segue.learn.LearnSummary` (``space`` says whether a model is now in use);
        ``step`` hears the name of each stage as it starts."""
        from segue.learn import learn
        from segue.learn.contexts import SOURCES

        if self.store.read_only:
            raise read_only_library(self.path)
        summary, _ = learn(self.store, method=method, sources=sources or SOURCES, step=step)
        self._catalogs.clear()
        return summary

    def learned_model(self) -> Any:
        """The library's learned model (loaded once per process), or None."""
        from segue.learn import load_model

        return load_model(self.store)

    def space(self) -> str:
        """``learned`` when the current vectors are the learned space, else ``pretrained``."""
        return "learned" if self._source(self.features, self.pooling)[0] == LEARNED else "pretrained"

    def clusters(self, k: int | None = None) -> list[dict[str, Any]]:
        """The library as a handful of playlists in the current space: each a name (its
        distinctive tags and main artists), its tags, artists and catalogue rows."""
        from segue.learn.clusters import cluster_catalog

        if k is not None and k < 1:
            raise UserError(f"the number of clusters must be at least 1, got {k}")
        return [{"name": c.name, "tags": c.tags, "artists": c.artists, "rows": c.rows}
                for c in cluster_catalog(self.catalog(), k)]  # fmt: skip

    @staticmethod
    def _listening_hook(model: str, precision: str, weights: str | None) -> AnalysisHook:
        if model == "deejai":
            if not weights:
                raise UserError("the deejai model needs a weights file (teticio/audio-encoder's "
                                "diffusion_pytorch_model.bin or .safetensors)")  # fmt: skip
            if precision != "auto":
                raise UserError("precision is for MusiCNN; Deej-AI's encoder runs in fp32")
            from segue.listen.deejai_hook import DeejAIHook

            hook: Any = DeejAIHook(weights)
        elif model == "musicnn":
            if weights:
                raise UserError("weights are for the deejai model; MusiCNN's weights are fetched by segue")
            from segue.listen.pipeline import ListeningHook

            hook = ListeningHook(precision=precision)
        else:
            raise UserError(f"unknown model {model!r}; use musicnn or deejai")
        return hook

    def default_model(self) -> str:
        return "musicnn"

    def tracks(self, details: bool = True) -> list[dict[str, object]]:
        """Every track in the library as its public JSON object.

        With ``details``: ``tags`` (MusiCNN's 50 MSD and 50 MTT tag probabilities) and
        ``descriptors`` (tempo, beats, key, loudness, silence trim, ...) where analysed, else null.
        """
        model = self.default_model()
        status = self.store.analysis_status(model)
        if details:
            from segue.listen.models.musicnn_tags import MUSICNN_TAGS

            msd = self.store.vectors(model, "tags_msd")
            mtt = self.store.vectors(model, "tags_mtt")
            descriptors = self.store.descriptors()
        out = []
        for t in self.store.tracks():
            h = t.audio_hash
            item = track_json(t, status.get(h), h in status and status[h] is None)
            if details:
                tags = None
                if h in msd and h in mtt:
                    tags = {
                        "msd": _named(MUSICNN_TAGS["MSD_musicnn"], msd[h]),
                        "mtt": _named(MUSICNN_TAGS["MTT_musicnn"], mtt[h]),
                    }
                item["tags"] = tags
                item["descriptors"] = descriptors.get(h)
            out.append(item)
        return out

    def status(self) -> dict[str, object]:
        """Counts, failures with reasons, the database path, schema version and health
        (``integrity``: "ok" or SQLite's complaint; ``read_only``). A damaged file answers
        with what can still be read: the counts may be missing then."""
        problem = self.store.integrity_problem()
        head = {"db": str(self.store.path), "schema_version": SCHEMA_VERSION,
                "integrity": problem or "ok", "read_only": self.store.read_only}  # fmt: skip
        if problem is not None:
            return {**head, "advice": str(damaged_library(self.path, problem))}
        tracks = self.store.tracks()
        analysis = self.store.analysis_status(self.default_model())
        issues = self.store.issues()
        groups = self.store.duplicate_groups()
        return {
            **head,
            "tracks": len(tracks),
            "duration_hours": round(sum(t.duration for t in tracks) / 3600, 2),
            "artists": len({t.artist for t in tracks if t.artist}),
            "albums": len({(t.album_artist or t.artist, t.album) for t in tracks if t.album}),
            "covers": self.store.count_covers(),
            "duplicate_groups": len(groups),
            "duplicate_files": sum(len(g) - 1 for g in groups),
            "analysed": sum(1 for t in tracks if analysis.get(t.audio_hash, "x") is None),
            "analysis_errors": sum(1 for t in tracks if analysis.get(t.audio_hash)),
            "failed": [
                {"path": i.path, "reason": i.reason} for i in issues if i.severity == "error"
            ],
            "warnings": [
                {"path": i.path, "reason": i.reason} for i in issues if i.severity == "warning"
            ],
            "learned": self._learned_status(),
        }

    def _learned_status(self) -> dict[str, object] | None:
        """The learned model in use (dims, contexts, when), or None for the pretrained space."""
        model = self.learned_model()
        if model is None:
            return None
        s = model.summary
        return {"dims": model.dims, "contexts": s.get("contexts"), "tracks": s.get("tracks"),
                "held_out": s.get("held_out")}  # fmt: skip

    def count_tracks(self) -> int:
        """Tracks catalogued (analysed or not)."""
        return self.store.count_tracks()

    def change_marker(self) -> tuple:
        """A cheap value that changes when the library does (a scan in another process too)."""
        return self.store.change_marker()

    def track_file(self, track_id: int) -> tuple[str, str | None]:
        """(path, container format) of a track's own file, for streaming it; only files the
        library knows are ever served, by id. TrackNotFound if the id or the file is gone."""
        row = self.store.track(int(track_id)) if 0 < int(track_id) < 2**62 else None
        if row is None:
            raise TrackNotFound(f"no track with id {track_id}")
        if not os.path.isfile(row.path):
            raise TrackNotFound(f"the file of track {track_id} is gone; rescan the library")
        return row.path, row.format

    def cover_image(self, digest: str) -> tuple[str, bytes] | None:
        """(MIME type, bytes) of a cover by its content hash, or None."""
        return self.store.cover(digest.lower())

    @staticmethod
    def set_threads(n: int) -> None:
        """Use ``n`` CPU threads for the neural networks of this process (torch)."""
        import torch

        torch.set_num_threads(max(1, int(n)))

    def import_model_wheel(self, wheel: str) -> list[Path]:
        """Verify a musicnn wheel file and convert its models for offline use; paths written."""
        from segue.listen.weights import import_wheel

        return import_wheel(wheel)

    # -- play events --------------------------------------------------------------------------
    def record_play(self, track_id: int, event: str, position_s: float | None = None,
                    duration_s: float | None = None) -> None:  # fmt: skip
        """Record that a track was started, skipped (``position_s`` in) or played to the end."""
        track = self.store.track(int(track_id)) if 0 < int(track_id) < 2**62 else None
        if track is None:
            raise TrackNotFound(f"no track with id {track_id}")
        self.store.record_play(track.id, track.audio_hash, event, position_s, duration_s)

    def plays(self, limit: int = 100) -> list[PlayEvent]:
        """The most recent play events, newest first."""
        return self.store.plays(limit=limit)

    def play_counts(self) -> dict[int, tuple[int, float]]:
        """Track id -> (times played to the end, when last played) for every track with plays
        (duplicates share their audio's counts)."""
        counts = self.store.play_counts()
        return {tid: counts[t["audio_hash"]] for tid, t in self.browse().tracks.items()
                if t["audio_hash"] in counts}  # fmt: skip

    # -- what players browse and keep ---------------------------------------------------------
    def browse(self) -> Collection:
        """The library as players browse it (every track, analysed or not; see
        :class:`Collection`), rebuilt only when the library changed."""
        from segue.library.browse import group

        marker = self.store.change_marker()
        if self._collection is not None and self._collection[0] == marker:
            return self._collection[1]
        rows = self.store.tracks()
        status = self.store.analysis_status(self.default_model())
        albums, artists = group(rows)
        album_of = {tid: a.key for a in albums.values() for tid in a.track_ids}
        artist_of = {tid: a.key for a in artists.values() for tid in a.track_ids}
        tracks: dict[int, dict[str, Any]] = {}
        by_hash: dict[str, int] = {}
        for t in rows:
            item = track_json(t, status.get(t.audio_hash), status.get(t.audio_hash, "x") is None)
            item.update(size=t.size, bitrate=t.bitrate, added_at=t.added_at,
                        album_key=album_of[t.id], artist_key=artist_of[t.id])  # fmt: skip
            tracks[t.id] = item
            by_hash.setdefault(t.audio_hash, t.id)
        collection = Collection(tracks, albums, artists, by_hash)
        self._collection = (marker, collection)
        return collection

    def track_id_at(self, path: str | Path) -> int | None:
        """The id of the library track whose file is at ``path`` (as scanned, or the same file
        through symlinks), or None: how MPD's and beets' paths find segue's tracks."""
        absolute = os.path.abspath(os.path.expanduser(str(path)))
        track = self.store.track_by_path(absolute)
        if track is None and os.path.realpath(absolute) != absolute:
            track = self.store.track_by_path(os.path.realpath(absolute))
        return track.id if track else None

    def track_facts(self, track_id: int) -> dict[str, Any]:
        """What listening found about one track, for players that keep their own tags (beets):
        ``bpm``, ``key`` (e.g. ``A minor``), ``camelot``, ``loudness_lufs`` (None where the
        analysis could not tell) and ``tags`` (MusiCNN's strongest MSD tags, best first, at most
        three with probability >= 0.2). TrackNotFound for an unknown id."""
        from segue.listen.models.musicnn_tags import MUSICNN_TAGS

        track = self.store.track(int(track_id)) if 0 < int(track_id) < 2**62 else None
        if track is None:
            raise TrackNotFound(f"no track with id {track_id}")
        desc = self.store.descriptor(track.audio_hash) or {}
        probs = self.store.vector(track.audio_hash, self.default_model(), "tags_msd")
        tags: list[str] = []
        if probs is not None:
            names = MUSICNN_TAGS["MSD_musicnn"]
            tags = [names[i] for i in np.argsort(-probs)[:3] if probs[i] >= 0.2]
        return {
            "bpm": desc.get("bpm"),
            "key": desc.get("key"),
            "camelot": desc.get("camelot"),
            "loudness_lufs": desc.get("loudness_lufs"),
            "tags": tags,
            "analysed": bool(desc) or probs is not None,
        }

    def star(self, kind: str, key: str | int, starred: bool = True) -> None:
        """Star (or unstar) a track (``key`` its id), an album or an artist (its group key)."""
        if kind == "track":
            track = self.store.track(int(key)) if str(key).isdigit() and 0 < int(key) < 2**62 else None
            if track is None:
                raise TrackNotFound(f"no track with id {key}")
            key = track.audio_hash
        elif kind in STAR_KINDS:
            groups = self.browse().albums if kind == "album" else self.browse().artists
            if key not in groups:
                raise TrackNotFound(f"no {kind} with key {key}")
        self.store.set_star(kind, str(key), starred)

    def stars(self) -> dict[str, dict[Any, float]]:
        """What is starred: ``{"track": {id: at}, "album": {key: at}, "artist": {key: at}}``
        (tracks no longer in the library are left out; ``at`` in Unix seconds)."""
        stars = self.store.stars()
        by_hash = self.browse().by_hash
        stars["track"] = {by_hash[h]: at for h, at in stars["track"].items() if h in by_hash}
        return stars

    def saved_playlists(self) -> list[SavedPlaylist]:
        """The playlists saved from players, their ``audio_hashes`` resolved to track ids in
        ``track_ids`` (tracks no longer in the library left out)."""
        by_hash = self.browse().by_hash
        out = self.store.saved_playlists()
        for p in out:
            p.track_ids = [by_hash[h] for h in p.audio_hashes if h in by_hash]
        return out

    def saved_playlist(self, playlist_id: int) -> SavedPlaylist:
        """One saved playlist (see :meth:`saved_playlists`); TrackNotFound when there is none."""
        for p in self.saved_playlists():
            if p.id == playlist_id:
                return p
        raise TrackNotFound(f"no playlist with id {playlist_id}")

    def _hashes(self, track_ids: Iterable[int]) -> list[str]:
        tracks = self.browse().tracks
        missing = [t for t in track_ids if int(t) not in tracks]
        if missing:
            raise TrackNotFound(f"no track with id {missing[0]}")
        return [str(tracks[int(t)]["audio_hash"]) for t in track_ids]

    def save_playlist(self, name: str, track_ids: Sequence[int], *, playlist_id: int | None = None,
                      comment: str | None = None, owner: str | None = None,
                      public: bool = False) -> int:  # fmt: skip
        """Save a playlist of track ids (or replace saved playlist ``playlist_id``); its id."""
        if not name.strip():
            raise UserError("a playlist needs a name")
        if playlist_id is not None:
            self.saved_playlist(playlist_id)
        return self.store.save_playlist(name.strip(), self._hashes(track_ids), playlist_id=playlist_id,
                                        comment=comment, owner=owner, public=public)  # fmt: skip

    def update_saved_playlist(self, playlist_id: int, *, name: str | None = None,
                              comment: str | None = None, public: bool | None = None,
                              add: Sequence[int] = (), remove_positions: Iterable[int] = ()) -> None:  # fmt: skip
        """Rename, comment, publish, append tracks to or remove positions (0-based, of the
        playlist as it was) from a saved playlist."""
        current = self.saved_playlist(playlist_id)
        drop = set(remove_positions)
        hashes = [h for i, h in enumerate(current.audio_hashes) if i not in drop] + self._hashes(add)
        changed = hashes if (drop or add) else None
        self.store.update_saved_playlist(playlist_id, name=name, comment=comment, public=public,
                                         audio_hashes=changed)  # fmt: skip

    def delete_saved_playlist(self, playlist_id: int) -> None:
        """Delete a saved playlist; TrackNotFound when there is none."""
        if not self.store.delete_saved_playlist(playlist_id):
            raise TrackNotFound(f"no playlist with id {playlist_id}")

    # -- vectors ------------------------------------------------------------------------------
    def use(self, features: str = LEARNED, pooling: str = "mean") -> Library:
        """Choose the vectors behind similarity for the calls that follow (see :meth:`catalog`)."""
        self.catalog_check(features, pooling)
        self.features, self.pooling = features, pooling
        return self

    @staticmethod
    def catalog_check(features: str, pooling: str) -> None:
        if features not in FEATURE_SETS:
            raise UserError(f"unknown feature set {features!r}; use one of {', '.join(FEATURE_SETS)}")
        if pooling not in POOLINGS:
            raise UserError(f"unknown pooling {pooling!r}; use one of {', '.join(POOLINGS)}")

    def use_catalog(self, catalog: Any) -> None:
        """Install a catalogue built elsewhere (e.g. shared by the web app's threads) for the
        current vector source; ``None`` drops it so the next call rebuilds from the store."""
        key = self._source(self.features, self.pooling)
        if catalog is None:
            self._catalogs.pop(key, None)
        else:
            self._catalogs[key] = catalog

    def catalog(self, features: str | None = None, pooling: str | None = None) -> Any:
        """The analysed tracks as the playlist engine's :class:`~segue.playlist.catalog.Catalog`.

        ``features`` picks the vectors that define "similar": ``musicnn`` (default) or
        ``deejai`` (neural embeddings), or one of the ancestor's feature sets ``rp``, ``ssd``,
        ``rh``, ``timbre`` (standardised per dimension across the library, then cosine).
        ``pooling`` (neural features only): ``mean`` of the slice embeddings as stored, or
        ``tfidf`` (Deej-AI's MP3ToVec weighting, recomputed library-wide from stored slices).
        NotReady when nothing is analysed for them yet.
        """
        features = features or self.features
        pooling = pooling or self.pooling
        self.catalog_check(features, pooling)
        key = self._source(features, pooling)
        if key not in self._catalogs:
            self._catalogs[key] = self._saved_or_built_catalog(*key)
        return self._catalogs[key]

    def _source(self, features: str, pooling: str) -> tuple[str, str]:
        """The vectors ``features``/``pooling`` stand for now: ``learned`` is the pretrained
        MusiCNN space until a model is trained, and with TF-IDF pooling (the head reads the
        mean-pooled vectors)."""
        if features == LEARNED:
            if pooling != "mean" or self.learned_model() is None:
                return "musicnn", pooling
            return LEARNED, "mean"
        return features, pooling if features in NEURAL_FEATURES else "mean"

    def _snapshot_folder(self) -> Path:
        """Where saved catalogues live: beside the library file (``library.db.catalog/``), or
        in the user cache when the library's folder cannot be written."""
        import hashlib

        from segue.config import cache_dir

        beside = self.path.with_name(self.path.name + ".catalog")
        if os.access(self.path.parent, os.W_OK | os.X_OK) and not self.store.read_only:
            return beside
        digest = hashlib.blake2b(str(self.path.resolve()).encode(), digest_size=8).hexdigest()
        return cache_dir() / "catalogs" / digest

    def _saved_or_built_catalog(self, features: str, pooling: str) -> Any:
        """The catalogue from its snapshot when the library has not changed since it was saved
        (big libraries only: below :data:`SNAPSHOT_MIN_TRACKS` building is as quick), else
        built from the store and saved for the next process."""
        import hashlib

        from segue.playlist import snapshot

        if self.store.count_tracks() < SNAPSHOT_MIN_TRACKS:
            return self._build_catalog(features, pooling)
        source = (self.store.change_marker(), SCHEMA_VERSION, snapshot.SNAPSHOT_VERSION, TFIDF_EPS)
        digest = hashlib.blake2b(repr(source).encode(), digest_size=10).hexdigest()
        key = f"{features}-{pooling}-{digest}"
        folder = self._snapshot_folder()
        catalog = snapshot.load(folder, key)
        if catalog is None:
            catalog = self._build_catalog(features, pooling)
            if snapshot.save(catalog, folder, key) is not None:
                snapshot.attach(catalog, folder, key)
        return catalog

    def _build_catalog(self, features: str, pooling: str, edges: bool = True) -> Any:
        """The catalogue of one feature space, built from the store (``edges`` False: without
        the intro and outro vectors, for a caller that replaces them)."""
        if features == LEARNED:
            return self._learned_catalog()
        from segue.listen.models.musicnn_tags import MUSICNN_TAGS
        from segue.playlist.catalog import Catalog, normalise_rows

        model, kind = STORED[features]
        neural = features in NEURAL_FEATURES
        # Whole matrices read straight from the store (no array per vector): at a million
        # tracks the catalogue's build costs little more than the catalogue itself.
        tracks = self.store.tracks()
        matrix, found = self.store.vector_matrix(model, kind, [t.audio_hash for t in tracks],
                                                 np.float32 if neural else np.float64)  # fmt: skip
        if not found.any():
            how = "'segue scan DIR'" if features != "deejai" else (
                "'segue scan DIR --model deejai --weights FILE'")
            raise NotReady(f"no tracks analysed for the {features} features yet: run {how} first")
        if not found.all():
            tracks = [t for t, ok in zip(tracks, found, strict=True) if ok]
            matrix = matrix[found]
        hashes = [t.audio_hash for t in tracks]
        intro = outro = None
        if neural:
            if edges:
                intro, outro = (self._edge_matrix(model, e, hashes, matrix) for e in ("intro", "outro"))
            if pooling == "tfidf":
                matrix = self._tfidf_vectors(model, hashes, matrix)
        else:
            matrix = standardise(matrix)
        tag_matrix, tagged = self.store.vector_matrix(self.default_model(), "tags_msd", hashes)
        if tag_matrix.shape[1] != len(MUSICNN_TAGS["MSD_musicnn"]):
            tag_matrix = np.zeros((len(hashes), len(MUSICNN_TAGS["MSD_musicnn"])), np.float32)
            tagged[:] = False
        tag_matrix[~tagged] = np.nan
        desc = self.store.descriptors()
        group_of = {h: i for i, h in enumerate(dict.fromkeys(hashes))}
        d = [desc.get(h, {}) for h in hashes]
        del desc

        def num(key: str) -> list[float]:
            return [float("nan") if x.get(key) is None else float(x[key]) for x in d]

        return Catalog(
            ids=np.array([t.id for t in tracks]),
            vectors=normalise_rows(matrix, in_place=True),  # these matrices are ours alone
            intro=None if intro is None else normalise_rows(intro, in_place=True),
            outro=None if outro is None else normalise_rows(outro, in_place=True),
            normalised=True,
            path=[t.path for t in tracks],
            title=[t.title for t in tracks],
            artist=[t.artist for t in tracks],
            album=[t.album for t in tracks],
            genre=[t.genre for t in tracks],
            cover=[t.cover_hash for t in tracks],
            duration=np.array([t.duration for t in tracks]),
            year=np.array([np.nan if t.year is None else t.year for t in tracks]),
            group=np.array([group_of[h] for h in hashes]),
            bpm=num("bpm"),
            bpm_confidence=num("bpm_confidence"),
            loudness_lufs=num("loudness_lufs"),
            camelot=[x.get("camelot") for x in d],
            tags={name: tag_matrix[:, i] for i, name in enumerate(MUSICNN_TAGS["MSD_musicnn"])},
        )

    def _edge_matrix(self, model: str, edge: str, hashes: list[str], track: np.ndarray) -> np.ndarray:
        """The intro or outro vectors of ``hashes``; a track without one stands in with its own."""
        out, found = self.store.vector_matrix(model, edge, hashes)
        if out.shape[1] != track.shape[1]:
            return track.copy()
        out[~found] = track[~found]
        return out

    def _learned_catalog(self) -> Any:
        """The MusiCNN catalogue with every track, its intro and its outro placed by the
        learned head (tracks without the head's inputs are left out)."""
        import dataclasses

        from segue.learn.features import library_inputs_by_kind

        model = self.learned_model()
        # the pretrained catalogue for its columns only: its transition vectors are replaced
        base = self._build_catalog("musicnn", "mean", edges=False)
        hash_of = {t.id: t.audio_hash for t in self.store.tracks()}
        hashes = [hash_of[int(i)] for i in base.ids]
        del hash_of
        unique = list(dict.fromkeys(hashes))
        row_of = {h: i for i, h in enumerate(unique)}
        at = np.fromiter((row_of[h] for h in hashes), dtype=np.int64, count=len(hashes))
        placed, found = {}, {}
        for kind, ok, inputs in library_inputs_by_kind(self.store, unique):
            found[kind] = ok
            placed[kind] = np.zeros((len(unique), model.dims), dtype=np.float32)
            if len(inputs):
                placed[kind][ok] = model.place_rows(inputs)
            del inputs
        keep = found["track"][at]
        if not keep.any():
            raise NotReady("no track has what the learned space reads: run 'segue scan DIR' first")
        cat = base if keep.all() else base.subset(np.flatnonzero(keep).tolist())
        at = at[keep]
        for kind in ("intro", "outro"):  # a track without an edge vector stands in with its own
            missing = ~found[kind]
            placed[kind][missing] = placed["track"][missing]
        return dataclasses.replace(cat, vectors=placed["track"][at], intro=placed["intro"][at],
                                   outro=placed["outro"][at])  # fmt: skip

    def _tfidf_vectors(self, model: str, hashes: list[str], fallback: np.ndarray) -> np.ndarray:
        """Deej-AI TF-IDF track vectors from the stored slice embeddings, library-wide."""
        from segue.listen.pooling import TfidfPooler

        patches = self.store.vectors(model, "patches")
        pooler = TfidfPooler(eps=TFIDF_EPS)
        pooler.add_tracks({h: patches[h].astype(np.float32) for h in dict.fromkeys(hashes) if h in patches})
        pooled = pooler.track_vectors()
        return np.stack([pooled[h] if h in pooled else fallback[i] for i, h in enumerate(hashes)])

    # -- tracks by id, text and audio ---------------------------------------------------------
    def row(self, track_id: int) -> int:
        """The catalogue row of an analysed track id; TrackNotFound otherwise."""
        try:
            return self.catalog().index_of(int(track_id))
        except (KeyError, ValueError, TypeError):
            raise TrackNotFound(f"no analysed track with id {track_id}") from None

    def known_rows(self, track_ids: Iterable[int]) -> list[int]:
        """Rows of the ids still in the catalogue, in order (a rescan may have removed some)."""
        index_of = self.catalog().index_of
        out = []
        for t in track_ids:
            try:
                out.append(index_of(int(t)))
            except (KeyError, ValueError, TypeError):
                continue
        return out

    def search(self, text: str, limit: int = 50) -> list[int]:
        """Rows whose title, artist, album or file name contain every word of ``text`` (search
        as you type; an empty text lists the library by artist, album, title)."""
        from segue.playlist.search import type_ahead

        return type_ahead(self.catalog(), text, limit)

    def rows_json(self, rows: Sequence[int], scores: Sequence[float] | None = None, *,
                  paths: bool = True) -> list[dict[str, Any]]:  # fmt: skip
        """Playlist tracks as JSON: id, title, artist, album, genre, duration, cover, file
        (name), and ``path`` (left out with ``paths=False``, for pages that may be remote);
        ``similarity`` with ``scores``. Empty tags are null."""
        cat = self.catalog()
        out = []
        for n, row in enumerate(rows):
            item: dict[str, Any] = {
                "id": int(cat.ids[row]),
                "title": cat.title[row] or None,
                "artist": cat.artist[row] or None,
                "album": cat.album[row] or None,
                "genre": cat.genre[row] or None,
                "duration": round(float(cat.duration[row]), 3),
                "cover": cat.cover[row],
                "file": os.path.basename(cat.path[row]) if cat.path[row] else None,
            }
            if paths:
                item["path"] = cat.path[row]
            if scores is not None:
                item["similarity"] = round(float(scores[n]), 4)
            out.append(item)
        return out

    def label(self, row: int) -> str:
        """``Artist - Title`` of a row (the file name when untagged), for messages."""
        return self.catalog().label(row)

    def _outside_file(self, text: str) -> str | None:
        """``text`` as an audio file that is not in the library, else None."""
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isfile(path) and self.store.track_by_path(path) is None:
            return path
        return None

    def outside_vector(self, path: str) -> np.ndarray:
        """The unit track vector of an audio file outside the library (a dropped-in seed, an
        upload, a microphone recording), analysed by the same pipeline as a scan; nothing is
        stored. The format is checked from the file's bytes first.

        Bound: only the middle 3 minutes are decoded and heard
        (:data:`segue.listen.pipeline.OUTSIDE_WINDOW_SECONDS`; all of a shorter file), packet
        by packet, so a file of any length takes the memory and time of 3 minutes (a 10-hour
        file stays under 1.5 GB with the models loaded)."""
        from segue.audio.formats import NotAudioError, sniff_format
        from segue.listen.pipeline import analyse_outside

        if self.features not in (LEARNED, "musicnn"):
            raise UserError(f"an audio file outside the library can seed the learned and musicnn features only: {path}")
        try:
            sniff_format(path)
        except NotAudioError as exc:
            raise UnsupportedAudio(f"not a supported audio file: {exc}") from None
        try:
            arrays = analyse_outside(path)
        except DecodeError as exc:
            raise UnsupportedAudio(f"cannot analyse {path}: {exc}") from exc
        vector = np.asarray(arrays["track"], dtype=np.float32)
        if self.space() == "learned":  # placed by the head, like every library track
            placed = self.learned_model().place(arrays)
            vector = vector if placed is None else placed
        return vector / (float(np.linalg.norm(vector)) or 1.0)

    def seed_vector(self, text: str) -> tuple[int | None, np.ndarray]:
        """A seed's catalogue row (None for an outside file) and its unit track vector."""
        from segue.playlist.seeds import resolve_seed

        cat = self.catalog()
        outside = self._outside_file(text)
        if outside is not None:
            return None, self.outside_vector(outside)
        row = resolve_seed(cat, text)
        return row, cat.vectors[row]

    def seed_rows(self, texts: Sequence[str]) -> list[int]:
        """Catalogue rows of seeds; an outside file stands for its nearest library track, and a
        playlist file (.m3u, .m3u8, .xspf, .pls) stands for every library track it lists."""
        rows = []
        for text in self.expand_playlists(texts):
            row, vector = self.seed_vector(text)
            if row is None:
                row = int(self.catalog().get_index().search(vector, 1)[0][0, 0])
            rows.append(row)
        return rows

    def expand_playlists(self, texts: Sequence[str]) -> list[str]:
        """``texts`` with every playlist file replaced by the paths it lists (in order)."""
        from segue.playlist.export import read_playlist

        out: list[str] = []
        for text in texts:
            if text.lower().endswith(PLAYLIST_EXTENSIONS) and os.path.isfile(os.path.expanduser(text)):
                paths = read_playlist(text)
                if not paths:
                    raise UserError(f"the playlist {text} lists no local files")
                out.extend(paths)
            else:
                out.append(text)
        return out

    def playlist_rows(self, playlist_file: str) -> list[int]:
        """Catalogue rows of the library tracks a playlist file lists; others are reported."""
        from segue.playlist.export import read_playlist

        cat = self.catalog()
        by_path = {p: i for i, p in enumerate(cat.path)}
        rows, missing = [], []
        for path in read_playlist(playlist_file):
            row = by_path.get(path)
            if row is None:
                track = self.store.track_by_path(os.path.realpath(path))
                row = by_path.get(track.path) if track else None
            if row is None:
                missing.append(path)
            elif row not in rows:
                rows.append(row)
        for path in missing:
            warn(f"not in the analysed library, left out: {path}")
        if not rows:
            raise UserError(f"no track of {playlist_file} is in the analysed library")
        return rows

    def _seeds(self, rows: Sequence[int]) -> list[tuple[int, str]]:
        return [(int(r), self.label(r)) for r in rows]

    # -- playlists ----------------------------------------------------------------------------
    def similar(self, seed: str, n: int = 10) -> Neighbours:
        """The ``n`` nearest tracks by cosine similarity, the seed and its duplicates excluded
        (``.seed`` says which track the text was taken to mean)."""
        row, vector = self.seed_vector(seed)
        out = Neighbours(self.rows_json(*self.similar_rows(row, n, vector)))
        out.seed = self.label(row) if row is not None else os.path.basename(seed)
        return out

    def similar_rows(
        self, row: int | None, n: int = 10, vector: np.ndarray | None = None
    ) -> tuple[list[int], list[float]]:
        """Catalogue rows of the ``n`` tracks nearest to ``row`` (its duplicate group excluded)
        and their cosine similarities, best first.

        ``vector``: the unit query vector, when it is not ``row``'s own (an outside seed has
        ``row`` None).
        """
        if n < 1:
            raise UserError(f"the number of tracks must be at least 1, got {n}")
        cat = self.catalog()
        if vector is None:
            if row is None:
                raise ValueError("similar_rows needs a row or a vector")
            vector = cat.vectors[row]
        exclude = [] if row is None else list(np.flatnonzero(cat.group == cat.group[row]))
        idx, scores = cat.get_index().search(vector, n, exclude=exclude)
        keep = idx[0] >= 0
        return idx[0][keep].tolist(), scores[0][keep].tolist()

    def playlist(
        self,
        seeds: Sequence[str],
        n: int | None = 20,
        *,
        lookback: int = 3,
        noise: float = 0.0,
        negative: Sequence[str] = (),
        rules: Rules | None = None,
        rng: Any = None,
        mixable: bool = False,
    ) -> Playlist:
        """Keep-on radio: the seeds followed by ``n`` tracks (see playlist.radio). ``mixable``:
        among tracks close in sound, prefer those a mix can beat-match or that are
        key-compatible with the previous one (see playlist.mixable)."""
        return self.playlist_from_rows(self.seed_rows(seeds), n, lookback=lookback, noise=noise,
                                       negative=self.seed_rows(negative), rules=rules, rng=rng,
                                       mixable=mixable)  # fmt: skip

    def playlist_from_rows(
        self,
        seeds: Sequence[int],
        n: int | None = 20,
        *,
        lookback: int = 3,
        noise: float = 0.0,
        negative: Sequence[int] = (),
        rules: Rules | None = None,
        rng: Any = None,
        mixable: bool = False,
    ) -> Playlist:
        """:meth:`playlist` from catalogue rows (seeds and negative seeds)."""
        from segue.playlist.mixable import Mixability
        from segue.playlist.radio import radio

        if not 0.0 <= noise <= 1.0:
            raise UserError(f"noise ('drunk') must be between 0 and 1, got {noise}")
        if lookback < 0:
            raise UserError(f"lookback ('keep on') must be 0 (stay on the seeds) or more, got {lookback}")
        rules = rules or Rules()
        cat = self.catalog()
        rows = radio(cat, list(seeds), n, lookback=lookback, noise=noise,
                     negative=list(negative) or None, rules=rules, rng=rng,
                     mixable=Mixability() if mixable else None)  # fmt: skip
        n_seeds = len(dict.fromkeys(seeds))
        note = None
        if n is not None and len(rows) - n_seeds < n:
            note = rules.shortfall(cat, n, len(rows) - n_seeds, n_seeds)
        return Playlist(rows, note, self._seeds(list(dict.fromkeys(seeds))))

    def radio_next(
        self,
        seeds: Sequence[int],
        history: Sequence[int] = (),
        k: int = 10,
        *,
        skipped: Iterable[int] = (),
        lookback: int = 3,
        noise: float = 0.0,
        rng: Any = None,
        rules: Rules | None = None,
    ) -> list[int]:
        """The next ``k`` rows of an endless radio from ``seeds`` (rows) that has played
        ``history`` (rows, oldest first), for a listener whose state lives in the face (a web
        page, an MPD queue): no repeats while unplayed tracks remain, and ``skipped`` tracks
        steer away (see :meth:`segue.playlist.radio.RadioSession.resume`). ``rules``: the
        filters and artist gap of :meth:`playlist` (default: ``Rules()``)."""
        from segue.playlist.radio import next_picks

        return next_picks(self.catalog(), list(seeds), list(history), k, skipped=skipped,
                          lookback=lookback, noise=noise, rng=rng, rules=rules)  # fmt: skip

    def journey(self, waypoints: Sequence[str], steps: int = 5, rules: Rules | None = None,
                mixable: bool = False) -> Journey:  # fmt: skip
        """Join the dots: every waypoint in order, ``steps`` tracks between each pair
        (``mixable``: as in :meth:`playlist`, each step prefers tracks a mix joins well)."""
        return self.journey_from_rows(self.seed_rows(waypoints), steps, rules, mixable)

    def journey_from_rows(self, waypoints: Sequence[int], steps: int = 5,
                          rules: Rules | None = None, mixable: bool = False) -> Journey:  # fmt: skip
        """:meth:`journey` from catalogue rows."""
        from segue.playlist.journey import journey
        from segue.playlist.mixable import Mixability

        cat = self.catalog()
        result = journey(cat, list(waypoints), steps, rules, mixable=Mixability() if mixable else None)
        return Journey(list(result.indices), result.to_dict(cat)["steps"], self._seeds(waypoints))

    def order(self, playlist_file: str, arc: str | None = None, keep_first: bool = False) -> list[int]:
        """The tracks of a playlist file in the smoothest order found (see playlist.order)."""
        from segue.playlist.order import reorder

        return reorder(self.catalog(), self.playlist_rows(playlist_file), arc, fix_first=keep_first)

    def split_sides(self, rows: Sequence[int], sides: int) -> list[list[int]]:
        """``rows`` cut into ``sides`` parts of about equal length, in order (tape sides)."""
        from segue.playlist.rules import split_sides

        return split_sides(self.catalog(), list(rows), sides) if sides > 1 else [list(rows)]

    def evaluate(self, labels_csv: str | None = None, k: int = 10, hub_reduction: str = "none",
                 journeys: int = 30) -> dict[str, Any]:  # fmt: skip
        """Playlist-quality metrics of the current vectors (see :mod:`segue.evaluate`)."""
        from segue.evaluate import evaluate, load_labels

        labels = load_labels(labels_csv) if labels_csv else None
        result = evaluate(self.catalog(), labels, k, hub_reduction=hub_reduction, n_journeys=journeys)
        result["features"], result["pooling"] = self.features, self.pooling
        result["space"] = self.space()
        return result

    # -- outputs ------------------------------------------------------------------------------
    def check_output(self, path: str, *, folder: bool = False) -> Path:
        """An output path checked before long work starts (see :func:`segue.files.writable_output`)."""
        from segue.files import writable_output

        return writable_output(path, folder=folder)

    def write_playlist(self, rows: Sequence[int], path: str, absolute: bool = False) -> Path:
        """Write catalogue rows as M3U/M3U8/XSPF/PLS (from the extension), atomically."""
        from segue.playlist.export import entries_from_catalog, write_playlist

        return write_playlist(self.check_output(path), entries_from_catalog(self.catalog(), rows),
                              absolute=absolute)  # fmt: skip

    def playlist_text(self, rows: Sequence[int], fmt: str, *, absolute: bool = True,
                      title: str | None = None, folder: str | None = None) -> str:  # fmt: skip
        """Catalogue rows as the text of a playlist file in ``fmt`` (m3u, m3u8, xspf, pls);
        with ``folder`` and not ``absolute``, paths relative to that folder (e.g.
        :meth:`music_folder`, for a playlist that goes to another machine)."""
        from segue.playlist.export import entries_from_catalog, playlist_text

        return playlist_text(entries_from_catalog(self.catalog(), rows), fmt, absolute=absolute,
                             title=title, folder=folder)  # fmt: skip

    def music_folder(self) -> str:
        """The deepest folder that holds every analysed track (the music folder)."""
        cat = self.catalog()

        def build() -> str:
            folders = {os.path.dirname(p) for p in cat.path if p}
            return os.path.commonpath(list(folders)) if folders else os.sep

        return cat.cached("music_folder", build)

    def mix(self, paths: Sequence[str], output: str, *, title: str | None = None,
            cover: bytes | None = None, progress: bool = True,
            on_progress: Callable[[float], None] | None = None, **options: Any) -> Any:  # fmt: skip
        """Render the files at ``paths`` (in or outside the library) as one continuous mix at
        ``output`` (format from the extension; a CUE sheet and a tracklist go beside it).

        ``options``: target_lufs, true_peak, fade, beatmatch, tempo_tolerance, max_stretch,
        bass_swap (see :func:`segue.mix.session.mix_options`). Returns the renderer's MixResult.
        """
        from segue.mix.session import mix_files, mix_options

        checked = mix_options(**options)
        return mix_files(self.store, list(paths), output, title=title, cover=cover,
                         progress=progress, on_progress=on_progress, options=checked)  # fmt: skip

    def mix_rows(self, rows: Sequence[int], output: str, **kwargs: Any) -> Any:
        """:meth:`mix` of catalogue rows (a journey's, a mixtape's)."""
        cat = self.catalog()
        return self.mix([cat.path[r] for r in rows], output, **kwargs)

    def mix_playlist_file(self, playlist_file: str, output: str, **kwargs: Any) -> Any:
        """:meth:`mix` of the files a playlist file lists (title: the playlist's name)."""
        from segue.playlist.export import read_playlist

        self.check_mix_output(output)
        kwargs.setdefault("title", Path(playlist_file).stem)
        return self.mix(read_playlist(playlist_file), output, **kwargs)

    def check_mix_output(self, output: str) -> Path:
        """A mix's output path checked (writable place, known extension) before any work."""
        from segue.mix.session import check_mix_output

        return check_mix_output(output)

    def mixtape(self, seeds: Sequence[str], output: str, *, n: int | None = None,
                minutes: float | None = 60.0, images: str = "auto", title: str | None = None,
                seed: int = 0, train_minutes: float = 2.0, compare: bool = True,
                mix: str | None = None, progress: bool = True) -> dict[str, Any]:  # fmt: skip
        """A mixtape folder: the playlist (radio from ``seeds``), a poster, a cover, the
        feature-set comparison and, with ``mix``, the continuous mix with the cover on it."""
        from segue.art.mixtape import make_mixtape

        if minutes is not None and minutes <= 0:
            raise UserError(f"the length in minutes must be positive, got {minutes}")
        if images not in IMAGE_SOURCES:
            raise UserError(f"images must be one of {', '.join(IMAGE_SOURCES)}, got {images!r}")
        out_dir = self.check_output(output, folder=True)
        if mix:
            self.check_mix_output(mix)
        made = self.playlist(list(seeds), n, rules=Rules(minutes=minutes))
        playlist_path = self.write_playlist(made.rows, str(out_dir / "playlist.m3u8"))
        summary = make_mixtape(self.store, self.rows_json(made.rows), playlist_path, out_dir,
                               images=images, title=title, seed=seed, train_minutes=train_minutes,
                               compare=compare, progress=progress)  # fmt: skip
        summary["note"] = made.note
        if mix:
            cover = out_dir / "cover.png"
            result = self.mix_rows(made.rows, mix, title=Path(mix).stem,
                                   cover=cover.read_bytes() if cover.exists() else None)  # fmt: skip
            summary["mix"] = str(result.output)
        return summary

    def _space_name(self) -> str:
        """Which vectors the current catalogue holds, as a name that changes with them: the
        learned model's own digest, else the feature set and pooling (for layout caches)."""
        import hashlib

        source, pooling = self._source(self.features, self.pooling)
        if source == LEARNED:
            model = self.learned_model()
            return "learned-" + hashlib.blake2b(model.to_bytes(), digest_size=8).hexdigest()
        return f"{source}-{pooling}"

    def _cluster_labels(self) -> tuple[list[int], list[str]]:
        """Each catalogue row's sound cluster (as ``segue clusters`` forms them) and the
        clusters' names, biggest first; kept on the catalogue."""
        from segue.learn.clusters import cluster_catalog

        cat = self.catalog()

        def build() -> tuple[list[int], list[str]]:
            found = cluster_catalog(cat)
            labels = [0] * len(cat)
            for j, cluster in enumerate(found):
                for r in cluster.rows:
                    labels[r] = j
            return labels, [f"{j + 1} · {c.name}" for j, c in enumerate(found)]

        return cat.cached("cluster_labels", build)

    def map_points(self, on_progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        """The collection map as columns (one entry per analysed track): coordinates in [0, 1]
        in the space playlists use, codes for colouring (top tag, genre, album, sound cluster)
        with their names, labels, covers; computed once per catalogue (the layout is cached on
        disk as well). ``on_progress(share)`` hears how far a first layout has got (0..1)."""
        from segue.art.layout import catalog_map

        cat = self.catalog()

        def codes(values: list[str]) -> tuple[list[str], list[int]]:
            names: dict[str, int] = {}
            coded = [names.setdefault(v, len(names)) for v in values]
            return list(names), coded

        def build() -> dict[str, Any]:
            xy, method = catalog_map(cat, self._space_name(), on_progress=on_progress)
            tag_names, tag_codes = codes(cat.top_tags())
            genre_names, genre_codes = codes([g or "" for g in cat.genre])
            album_names, album_codes = codes([a or "" for a in cat.album])
            cluster, cluster_names = self._cluster_labels()
            return {
                "method": method,
                "ids": [int(i) for i in cat.ids],
                "x": [round(float(v), 4) for v in xy[:, 0]],
                "y": [round(float(v), 4) for v in xy[:, 1]],
                "tag": tag_codes,
                "tag_names": tag_names,
                "genre": genre_codes,
                "genre_names": genre_names,
                "album": album_codes,
                "album_names": album_names,
                "cluster": cluster,
                "cluster_names": cluster_names,
                "title": [t or None for t in cat.title],
                "artist": [a or None for a in cat.artist],
                "cover": list(cat.cover),
            }

        return cat.cached("map_points", build)

    def map_ready(self) -> bool:
        """Whether :meth:`map_points` answers at once: made for this catalogue already, or its
        layout is on disk (a scan's end made it) or is quick to make (PCA)."""
        from segue.art.layout import catalog_map_ready

        cat = self.catalog()
        return cat.is_cached("map_points") or catalog_map_ready(cat, self._space_name())

    # -- browsing: albums, artists, genres, tags (the web player's library views) -------------
    def _browse(self) -> Any:
        from segue.playlist.browse import BrowseFacts, BrowseIndex

        cat = self.catalog()

        def build() -> Any:
            from segue.library.browse import album_key, album_name

            facts = {t.id: BrowseFacts(t.album_artist, t.track_no, t.disc_no, t.added_at,
                                       album_key(t), album_name(t))
                     for t in self.store.tracks()}  # fmt: skip
            return BrowseIndex(cat, facts)

        return cat.cached("browse", build)

    def browse_groups(self, kind: str, sort: str = "name") -> list[dict[str, Any]]:
        """Every album, artist, genre or tag (``kind``) as a card: key, name, artist (albums),
        tracks, albums (artists), year, cover, added; sorted by ``name``, ``tracks`` (biggest
        first) or ``recent`` (newest first: "recently added")."""
        if kind not in BROWSE_KINDS:
            raise UserError(f"browse by one of {', '.join(BROWSE_KINDS)}, not {kind!r}")
        if sort not in BROWSE_SORTS:
            raise UserError(f"sort by one of {', '.join(BROWSE_SORTS)}, not {sort!r}")
        return [g.card() for g in self._browse().groups(kind, sort)]

    def browse_group(self, kind: str, key: str) -> tuple[dict[str, Any], list[int]]:
        """One group's card (with its albums, for an artist, genre or tag) and its rows in play
        order (an album in disc and track order). TrackNotFound for an unknown key."""
        if kind not in BROWSE_KINDS:
            raise UserError(f"browse by one of {', '.join(BROWSE_KINDS)}, not {kind!r}")
        index = self._browse()
        group = index.group(kind, key)
        if group is None:
            raise TrackNotFound(f"no {kind} {key!r} in the library (it may have been rescanned)")
        card = group.card()
        if kind != "album":
            card["album_list"] = [g.card() for g in index.albums_of(group.rows)]
        return card, list(group.rows)

    def recent_rows(self, limit: int = 50) -> list[int]:
        """The most recently added analysed tracks, newest first."""
        return self._browse().recent_rows(max(1, int(limit)))

    def seed_sample(self, rows: Sequence[int], k: int = 20) -> list[int]:
        """At most ``k`` of ``rows`` that stand for all of them (a radio "from this album or
        artist" seeds with these): see :func:`segue.playlist.browse.spread_rows`."""
        from segue.playlist.browse import spread_rows

        return spread_rows(self.catalog(), rows, k)

    # -- transitions for players that mix as they play (the web player) -----------------------
    def transition(self, row_a: int, row_b: int, *, fade: float = 6.0, beatmatch: bool = True,
                   target_lufs: float = -14.0) -> dict[str, Any]:  # fmt: skip
        """How track ``row_a`` hands over to ``row_b``, planned as the mix renderer plans it
        (:func:`segue.mix.plan.plan_mix`): from the file time ``out_at`` of A, B plays from its
        file time ``in_start`` at ``speed`` (varispeed) while the two cross over ``overlap``
        seconds (equal power), so that A is silent at ``out_end``; when ``beatmatched``, A's
        downbeat at ``out_at`` meets B's at ``in_start`` (B's file time is then ``in_start +
        (t - out_at) * speed`` while A is at ``t``). ``gain_out_db``/``gain_in_db`` bring each
        to ``target_lufs``. A track with no descriptors falls back to its whole length."""
        from segue.mix.plan import MixOptions, TrackFacts, plan_mix

        cat = self.catalog()
        facts = []
        for r in (row_a, row_b):
            track = self.store.track(int(cat.ids[r]))
            if track is None:
                raise TrackNotFound(f"no track with id {int(cat.ids[r])}")
            facts.append(TrackFacts.from_descriptors(self.store.descriptor(track.audio_hash) or {},
                                                     track.duration))  # fmt: skip
        options = MixOptions(fade=fade, beatmatch=beatmatch, target_lufs=target_lufs, bass_swap=False)
        plan = plan_mix(facts, options)
        fa, fb = facts
        answer: dict[str, Any] = {
            "from": int(cat.ids[row_a]), "to": int(cat.ids[row_b]),
            "out_at": fa.end, "out_end": fa.end, "in_start": fb.start, "speed": 1.0,
            "overlap": 0.0, "beatmatched": False, "reason": "no overlap (a track is too short)",
            "gain_out_db": 0.0, "gain_in_db": 0.0,
            "bpm_out": fa.bpm if math.isfinite(fa.bpm) else None,
            "bpm_in": fb.bpm if math.isfinite(fb.bpm) else None,
        }  # fmt: skip
        if len(plan.segments) == 2:
            a, b = plan.segments
            t = plan.transitions[0]
            answer.update(out_at=a.end - t.overlap * a.speed, out_end=a.end, in_start=b.start,
                          speed=b.speed, overlap=t.overlap, beatmatched=t.beatmatched,
                          reason=t.reason, gain_out_db=a.gain_db, gain_in_db=b.gain_db)  # fmt: skip
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in answer.items()}

    def write_map(self, output: str, method: str = "tsne", progress: bool = True) -> dict[str, Any]:
        """The interactive HTML map of the whole library at ``output``; returns counts."""
        from segue.art.layout import catalog_layout
        from segue.art.map_html import build_map

        if method not in MAP_METHODS:
            raise UserError(f"map method must be one of {', '.join(MAP_METHODS)}, got {method!r}")
        target = self.check_output(output)
        coords: dict[int, tuple[float, float]] = {}
        clusters: dict[int, str] = {}
        try:
            cat = self.catalog()
        except NotReady:  # nothing analysed yet: every track is listed, none placed
            cat = None
        if cat is not None and len(cat) >= 3:
            coords = catalog_layout(cat, self._space_name(), method)
            labels, names = self._cluster_labels()
            clusters = {int(i): names[labels[r]] for r, i in enumerate(cat.ids)}
        return build_map(self.store, target, coords, clusters, method=method, progress=progress)

    def train_art(self, *, conditional: bool = True, epochs: int | None = None,
                  max_seconds: float | None = None, size: int = 128, batch_size: int = 32,
                  width: int = 32, seed: int = 0, fresh: bool = False,
                  device: str = "auto") -> Path:  # fmt: skip
        """Train (or resume) the cover GAN on the library's covers; the checkpoint's path."""
        from segue.art.train import train_on_library

        return train_on_library(self.store, conditional=conditional, epochs=epochs,
                                max_seconds=max_seconds, size=size, batch_size=batch_size,
                                ngf=width, ndf=width, seed=seed, fresh=fresh, device=device)  # fmt: skip

    def sample_art(self, n: int, output: str, *, like: str | None = None,
                   checkpoint: str | None = None, unconditional: bool = False, seed: int = 0,
                   device: str = "auto") -> list[dict[str, Any]]:  # fmt: skip
        """``n`` images from the trained GAN into the folder ``output`` (conditioned on the
        sound of the track ``like`` when given)."""
        from segue.art.images import find_checkpoint, gan_dir
        from segue.art.train import sample_to_folder

        out_dir = self.check_output(output, folder=True)
        if checkpoint:
            ckpt: Path | None = Path(checkpoint)
        elif unconditional:
            ckpt = gan_dir(self.store, "default") / "checkpoint.pt"
        else:
            ckpt = find_checkpoint(self.store)
        if ckpt is None or not ckpt.exists():
            raise UserError("no trained GAN yet: run 'segue art train' first")
        tags = None
        if like:
            row, _ = self.seed_vector(like)
            if row is None:
                raise UserError("a GAN sample can be like a track in the library only")
            track = self.store.track(int(self.catalog().ids[row]))
            vec = self.store.vector(track.audio_hash, "musicnn", "tags_msd")
            tags = np.repeat(vec[None, :], n, axis=0)
        return sample_to_folder(ckpt, n, out_dir, tags, seed=seed, device=device)
