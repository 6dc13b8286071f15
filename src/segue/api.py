"""The library API that the CLI, the web app and integrations are thin faces over."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from segue.config import default_db_path
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
