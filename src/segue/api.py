"""The library API that the CLI, the web app and integrations are thin faces over."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from segue.config import default_db_path
from segue.errors import UserError
from segue.library.scan import AnalysisHook, Scanner, ScanReport
from segue.library.store import SCHEMA_VERSION, Store, TrackRow
from segue.progress import warn

#: Vector sources for similarity: neural embeddings, then the mixtape ancestor's feature sets.
NEURAL_FEATURES = ("musicnn", "deejai")
FEATURE_SETS = (*NEURAL_FEATURES, "rp", "ssd", "rh", "timbre")
POOLINGS = ("mean", "tfidf")
#: TF-IDF "same term" threshold (cosine distance); chosen on the dev corpus, see BENCHMARKS.md.
TFIDF_EPS = 1e-3
PLAYLIST_EXTENSIONS = (".m3u", ".m3u8", ".xspf", ".pls")


def standardise(matrix: np.ndarray) -> np.ndarray:
    """Z-score each dimension across the library (a flat dimension stays 0), as float32.

    Classic feature sets mix units and scales (rhythm-pattern energies next to spectral
    moments); without this, cosine similarity would be decided by the largest few dimensions.
    """
    centred = matrix - matrix.mean(axis=0)
    std = matrix.std(axis=0)
    return (centred / np.where(std > 1e-12, std, 1.0)).astype(np.float32)


def track_json(track: TrackRow, analysis_error: str | None, analysed: bool) -> dict[str, object]:
    """The public JSON shape of a track (see ARCHITECTURE.md); new keys may be added, never removed."""
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


def _named(names: Sequence[str], values: np.ndarray) -> dict[str, float]:
    return {name: round(float(v), 4) for name, v in zip(names, values, strict=True)}


class Library:
    """A music library: its database and everything computed from it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._catalogs: dict[tuple[str, str], Any] = {}
        #: The vector source that ``catalog()`` (and so every playlist call) uses; see :meth:`use`.
        self.features = "musicnn"
        self.pooling = "mean"

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
    ) -> ScanReport:
        """Add or refresh folders, listening to new audio in the same pass (``analyse``).

        See :mod:`segue.library.scan`; raises ScanInterrupted on Ctrl-C with the work so far saved.
        ``hook`` replaces the default listening pipeline (MusiCNN + descriptors), whose
        front end runs at ``precision`` (``auto``, ``fp32`` or ``int8``, see models.musicnn).
        Models load in the worker processes, and only when there is audio to analyse.
        """
        if hook is None and analyse:
            from segue.listen.pipeline import ListeningHook

            hook = ListeningHook(precision=precision)
        scanner = Scanner(self.store, workers=workers, full=full, hook=hook, progress=progress)
        self._catalogs.clear()
        return scanner.scan(folders)

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
        """Counts, failures with reasons, the database path and schema version."""
        tracks = self.store.tracks()
        analysis = self.store.analysis_status(self.default_model())
        issues = self.store.issues()
        groups = self.store.duplicate_groups()
        return {
            "db": str(self.store.path),
            "schema_version": SCHEMA_VERSION,
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
        }

    # -- playlists ----------------------------------------------------------------------------
    def use(self, features: str = "musicnn", pooling: str = "mean") -> Library:
        """Choose the vectors behind similarity for the calls that follow (see :meth:`catalog`)."""
        self.catalog_check(features, pooling)
        self.features, self.pooling = features, pooling
        return self

    @staticmethod
    def catalog_check(features: str, pooling: str) -> None:
        if features not in FEATURE_SETS:
            raise UserError(f"--features must be one of {', '.join(FEATURE_SETS)}, got {features!r}")
        if pooling not in POOLINGS:
            raise UserError(f"--pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")

    def use_catalog(self, catalog: Any) -> None:
        """Install a catalogue built elsewhere (e.g. shared by the web app's threads) for the
        current vector source; ``None`` drops it so the next call rebuilds from the store."""
        key = (self.features, self.pooling)
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
        """
        features = features or self.features
        pooling = pooling or self.pooling
        self.catalog_check(features, pooling)
        if features not in NEURAL_FEATURES:
            pooling = "mean"
        key = (features, pooling)
        if key not in self._catalogs:
            self._catalogs[key] = self._build_catalog(features, pooling)
        return self._catalogs[key]

    def _build_catalog(self, features: str, pooling: str) -> Any:
        from segue.listen.models.musicnn_tags import MUSICNN_TAGS
        from segue.playlist.catalog import Catalog

        model = features if features in NEURAL_FEATURES else self.default_model()
        kind = "track" if features in NEURAL_FEATURES else features
        vectors = self.store.vectors(model, kind)
        tracks = [t for t in self.store.tracks() if t.audio_hash in vectors]
        if not tracks:
            hint = "run 'segue scan DIR' first" if features != "deejai" else (
                "run 'segue scan DIR --model deejai --weights FILE' first")
            raise UserError(f"no tracks analysed for --features {features} yet: {hint}")
        hashes = [t.audio_hash for t in tracks]
        if features in NEURAL_FEATURES:
            intro_v = self.store.vectors(model, "intro")
            outro_v = self.store.vectors(model, "outro")
            matrix = np.stack([vectors[h] for h in hashes])
            intro = np.stack([intro_v.get(h, vectors[h]) for h in hashes])
            outro = np.stack([outro_v.get(h, vectors[h]) for h in hashes])
            if pooling == "tfidf":
                matrix = self._tfidf_vectors(model, hashes, matrix)
        else:
            matrix = standardise(np.stack([vectors[h] for h in hashes]).astype(np.float64))
            intro = outro = None
        tags_msd = self.store.vectors(self.default_model(), "tags_msd")
        desc = self.store.descriptors()
        group_of = {h: i for i, h in enumerate(dict.fromkeys(hashes))}
        d = [desc.get(h, {}) for h in hashes]

        def num(key: str) -> list[float]:
            return [float("nan") if x.get(key) is None else float(x[key]) for x in d]

        tag_matrix = np.stack([tags_msd.get(h, np.full(50, np.nan)) for h in hashes])
        return Catalog(
            ids=np.array([t.id for t in tracks]),
            vectors=matrix,
            intro=intro,
            outro=outro,
            path=[t.path for t in tracks],
            title=[t.title for t in tracks],
            artist=[t.artist for t in tracks],
            album=[t.album for t in tracks],
            genre=[t.genre for t in tracks],
            duration=np.array([t.duration for t in tracks]),
            year=np.array([np.nan if t.year is None else t.year for t in tracks]),
            group=np.array([group_of[h] for h in hashes]),
            bpm=num("bpm"),
            bpm_confidence=num("bpm_confidence"),
            loudness_lufs=num("loudness_lufs"),
            camelot=[x.get("camelot") for x in d],
            tags={name: tag_matrix[:, i] for i, name in enumerate(MUSICNN_TAGS["MSD_musicnn"])},
        )

    def _tfidf_vectors(self, model: str, hashes: list[str], fallback: np.ndarray) -> np.ndarray:
        """Deej-AI TF-IDF track vectors from the stored slice embeddings, library-wide."""
        from segue.listen.pooling import TfidfPooler

        patches = self.store.vectors(model, "patches")
        pooler = TfidfPooler(eps=TFIDF_EPS)
        pooler.add_tracks({h: patches[h].astype(np.float32) for h in dict.fromkeys(hashes) if h in patches})
        pooled = pooler.track_vectors()
        return np.stack([pooled[h] if h in pooled else fallback[i] for i, h in enumerate(hashes)])

    def _outside_file(self, text: str) -> str | None:
        """``text`` as an audio file that is not in the library, else None."""
        path = os.path.abspath(os.path.expanduser(text))
        if os.path.isfile(path) and self.store.track_by_path(path) is None:
            return path
        return None

    def seed_vector(self, text: str) -> tuple[int | None, np.ndarray]:
        """A seed's catalogue row (None for an outside file) and its unit track vector."""
        from segue.playlist.seeds import resolve_seed

        cat = self.catalog()
        outside = self._outside_file(text)
        if outside is not None:
            if self.features != "musicnn":
                raise UserError(
                    f"an audio file outside the library can seed --features musicnn only: {outside}"
                )
            from segue.errors import DecodeError
            from segue.listen.pipeline import analyse_outside

            try:
                vector = analyse_outside(outside)["track"]
            except DecodeError as exc:
                raise UserError(f"cannot analyse {outside}: {exc}") from exc
            return None, vector / (np.linalg.norm(vector) or 1.0)
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

    def order(self, playlist_file: str, arc: str | None = None, keep_first: bool = False) -> list[int]:
        """The tracks of a playlist file in the smoothest order found (see playlist.order)."""
        from segue.playlist.order import reorder

        return reorder(self.catalog(), self.playlist_rows(playlist_file), arc, fix_first=keep_first)

    def evaluate(self, labels_csv: str | None = None, k: int = 10, hub_reduction: str = "none",
                 journeys: int = 30) -> dict[str, Any]:
        """Playlist-quality metrics of the current vectors (see :mod:`segue.evaluate`)."""
        from segue.evaluate import evaluate, load_labels

        labels = load_labels(labels_csv) if labels_csv else None
        result = evaluate(self.catalog(), labels, k, hub_reduction=hub_reduction, n_journeys=journeys)
        result["features"], result["pooling"] = self.features, self.pooling
        return result

    def track_rows_json(self, rows: Sequence[int], scores: Sequence[float] | None = None) -> list[dict]:
        cat = self.catalog()
        out = []
        for n, row in enumerate(rows):
            item = {
                "id": int(cat.ids[row]),
                "path": cat.path[row],
                "artist": cat.artist[row] or None,
                "title": cat.title[row] or None,
                "album": cat.album[row] or None,
                "duration": float(cat.duration[row]),
            }
            if scores is not None:
                item["similarity"] = round(float(scores[n]), 4)
            out.append(item)
        return out

    def similar(self, seed: str, n: int = 10) -> list[dict]:
        """The ``n`` nearest tracks by cosine similarity, the seed and its duplicates excluded."""
        if n < 1:
            raise UserError(f"-n must be at least 1, got {n}")
        row, vector = self.seed_vector(seed)
        return self.track_rows_json(*self.similar_rows(row, n, vector))

    def similar_rows(
        self, row: int | None, n: int = 10, vector: np.ndarray | None = None
    ) -> tuple[list[int], list[float]]:
        """Catalogue rows of the ``n`` tracks nearest to ``row`` (its duplicate group excluded)
        and their cosine similarities, best first.

        ``vector``: the unit query vector, when it is not ``row``'s own (an outside seed has
        ``row`` None). For callers that already hold rows (the web app), so a track id is never
        read as a seed text.
        """
        if n < 1:
            raise UserError(f"-n must be at least 1, got {n}")
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
        rules: Any = None,
        rng: Any = None,
    ) -> list[int]:
        """Keep-on radio: the seeds followed by ``n`` tracks (catalogue rows)."""
        from segue.playlist.radio import radio

        if not 0.0 <= noise <= 1.0:
            raise UserError(f"--noise must be between 0 and 1, got {noise}")
        if lookback < 0:
            raise UserError(f"--lookback must be 0 (stay on the seeds) or more, got {lookback}")
        return radio(
            self.catalog(), self.seed_rows(seeds), n, lookback=lookback, noise=noise,
            negative=self.seed_rows(negative) or None, rules=rules, rng=rng,
        )  # fmt: skip

    def journey(self, waypoints: Sequence[str], steps: int = 5, rules: Any = None) -> Any:
        """Join the dots: every waypoint in order, ``steps`` tracks between each pair."""
        from segue.playlist.journey import journey

        return journey(self.catalog(), self.seed_rows(waypoints), steps, rules)

    def write_playlist(self, rows: Sequence[int], path: str, absolute: bool = False) -> Path:
        """Write catalogue rows as M3U/M3U8/XSPF/PLS (from the extension), atomically."""
        from segue.playlist.export import entries_from_catalog, write_playlist

        return write_playlist(path, entries_from_catalog(self.catalog(), rows), absolute=absolute)
