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


class Library:
    """A music library: its database and everything computed from it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._catalog: Any = None

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
    ) -> ScanReport:
        """Add or refresh folders, listening to new audio in the same pass (``analyse``).

        See :mod:`segue.library.scan`; raises ScanInterrupted on Ctrl-C with the work so far saved.
        ``hook`` replaces the default listening pipeline (MusiCNN + descriptors).
        """
        if hook is None and analyse:
            from segue.listen.pipeline import ListeningHook

            hook = ListeningHook()
            hook.load_models()  # fail before the walk if the weights cannot be had
        scanner = Scanner(self.store, workers=workers, full=full, hook=hook, progress=progress)
        self._catalog = None
        return scanner.scan(folders)

    def default_model(self) -> str:
        return "musicnn"

    def tracks(self) -> list[dict[str, object]]:
        """Every track in the library as its public JSON object."""
        status = self.store.analysis_status(self.default_model())
        return [
            track_json(t, status.get(t.audio_hash), t.audio_hash in status and status[t.audio_hash] is None)
            for t in self.store.tracks()
        ]

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
    def catalog(self) -> Any:
        """The analysed tracks as the playlist engine's :class:`~segue.playlist.catalog.Catalog`."""
        if self._catalog is not None:
            return self._catalog
        from segue.listen.models.musicnn_tags import MUSICNN_TAGS
        from segue.playlist.catalog import Catalog

        model = self.default_model()
        vectors = self.store.vectors(model, "track")
        tracks = [t for t in self.store.tracks() if t.audio_hash in vectors]
        if not tracks:
            raise UserError("no analysed tracks yet: run 'segue scan DIR' first")
        intro = self.store.vectors(model, "intro")
        outro = self.store.vectors(model, "outro")
        tags_msd = self.store.vectors(model, "tags_msd")
        desc = self.store.descriptors()
        hashes = [t.audio_hash for t in tracks]
        group_of = {h: i for i, h in enumerate(dict.fromkeys(hashes))}
        d = [desc.get(h, {}) for h in hashes]

        def num(key: str) -> list[float]:
            return [float("nan") if x.get(key) is None else float(x[key]) for x in d]

        tag_matrix = np.stack([tags_msd.get(h, np.full(50, np.nan)) for h in hashes])
        self._catalog = Catalog(
            ids=np.array([t.id for t in tracks]),
            vectors=np.stack([vectors[h] for h in hashes]),
            intro=np.stack([intro.get(h, vectors[h]) for h in hashes]),
            outro=np.stack([outro.get(h, vectors[h]) for h in hashes]),
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
        return self._catalog

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
            from segue.errors import DecodeError
            from segue.listen.pipeline import analyse_file

            try:
                vector = analyse_file(outside)["track"]
            except DecodeError as exc:
                raise UserError(f"cannot analyse {outside}: {exc}") from exc
            return None, vector / (np.linalg.norm(vector) or 1.0)
        row = resolve_seed(cat, text)
        return row, cat.vectors[row]

    def seed_rows(self, texts: Sequence[str]) -> list[int]:
        """Catalogue rows of seeds; an outside file stands for its nearest library track."""
        rows = []
        for text in texts:
            row, vector = self.seed_vector(text)
            if row is None:
                row = int(self.catalog().get_index().search(vector, 1)[0][0, 0])
            rows.append(row)
        return rows

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
        cat = self.catalog()
        row, vector = self.seed_vector(seed)
        exclude = [] if row is None else list(np.flatnonzero(cat.group == cat.group[row]))
        idx, scores = cat.get_index().search(vector, n, exclude=exclude)
        keep = idx[0] >= 0
        return self.track_rows_json(idx[0][keep].tolist(), scores[0][keep].tolist())

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
