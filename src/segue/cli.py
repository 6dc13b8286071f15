"""The ``segue`` command: one sub-command per user task, ``--json`` on each.

Contract (ARCHITECTURE.md): JSON goes to stdout and nothing else does; progress and logs go to
stderr. Exit codes: 0 success, 1 user error (one clear line, no traceback), 2 internal error,
130 interrupted (finished work is saved).
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from segue import __version__
from segue.api import Library
from segue.errors import UserError
from segue.library.scan import ScanInterrupted, ScanReport

Handler = Callable[[Library, argparse.Namespace], int]


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def _scan_summary(report: ScanReport, lib: Library) -> None:
    _err(
        f"scanned in {report.seconds:.1f} s: {report.added} added, {report.updated} updated, "
        f"{report.moved} moved, {report.unchanged} unchanged, {report.removed} removed, "
        f"{report.failed} failed, {report.duplicates} duplicate files"
        + (f", {report.analysed} analysed" if report.analysed else "")
    )
    for path, reason in report.errors:
        _err(f"  failed: {path}: {reason}")
    for path, reason in report.warnings:
        _err(f"  warning: {path}: {reason}")
    _err(f"library: {lib.store.count_tracks()} tracks in {lib.path}")


def cmd_scan(lib: Library, args: argparse.Namespace) -> int:
    try:
        report = lib.scan(
            args.folders, full=args.full, workers=args.workers, analyse=not args.no_analysis
        )
    except ScanInterrupted as stop:
        _err(
            f"interrupted: work finished so far is saved ({stop.report.added} added); "
            "run the same command again to continue"
        )
        if args.json:
            _print_json(stop.report.as_dict())
        return 130
    if args.json:
        _print_json(report.as_dict())
    _scan_summary(report, lib)
    return 0


def cmd_tracks(lib: Library, args: argparse.Namespace) -> int:
    tracks = lib.tracks()
    if args.json:
        _print_json(tracks)
        return 0
    for t in tracks:
        minutes, seconds = divmod(int(round(float(t["duration"] or 0))), 60)
        print(f"{t['id']:>6}  {t['artist'] or '?'} - {t['title'] or '?'}  [{minutes}:{seconds:02d}]")
    return 0


def cmd_status(lib: Library, args: argparse.Namespace) -> int:
    status = lib.status()
    if args.json:
        _print_json(status)
        return 0
    print(f"library:   {status['db']} (schema {status['schema_version']})")
    print(
        f"tracks:    {status['tracks']} ({status['duration_hours']} h), {status['artists']} "
        f"artists, {status['albums']} albums, {status['covers']} covers"
    )
    print(f"analysed:  {status['analysed']} ({status['analysis_errors']} failed)")
    print(
        f"duplicates: {status['duplicate_files']} files in {status['duplicate_groups']} groups"
    )
    failed = status["failed"]
    print(f"failed:    {len(failed)}")
    for item in failed:
        print(f"  {item['path']}: {item['reason']}")
    for item in status["warnings"]:
        print(f"  warning: {item['path']}: {item['reason']}")
    return 0


def _print_rows(rows: list[dict], with_score: bool = False) -> None:
    for i, r in enumerate(rows, 1):
        score = f"  {r['similarity']:.3f}" if with_score and "similarity" in r else ""
        print(f"{i:>3}. {r['artist'] or '?'} - {r['title'] or '?'}  (id {r['id']}){score}")


def cmd_similar(lib: Library, args: argparse.Namespace) -> int:
    rows = lib.similar(args.seed, args.n)
    if args.json:
        _print_json(rows)
    else:
        _print_rows(rows, with_score=True)
    return 0


def _rules(args: argparse.Namespace):
    from segue.playlist.rules import Rules

    return Rules(
        artist_gap=args.artist_gap, minutes=args.minutes, tempo=args.bpm, key=args.key,
        compatible_keys=args.compatible_keys, half_double_time=True,
    )  # fmt: skip


def _emit_playlist(lib: Library, rows: list[int], args: argparse.Namespace, extra=None) -> int:
    if args.output:
        written = lib.write_playlist(rows, args.output, absolute=args.absolute)
        _err(f"wrote {written} ({len(rows)} tracks)")
    if args.json:
        _print_json(extra if extra is not None else lib.track_rows_json(rows))
    elif not args.output:
        _print_rows(lib.track_rows_json(rows))
    return 0


def cmd_playlist(lib: Library, args: argparse.Namespace) -> int:
    n = args.n if args.n is not None else (None if args.minutes else 20)
    rows = lib.playlist(
        args.seeds, n, lookback=args.lookback, noise=args.noise, negative=args.negative,
        rules=_rules(args), rng=args.random_seed,
    )  # fmt: skip
    return _emit_playlist(lib, rows, args)


def cmd_journey(lib: Library, args: argparse.Namespace) -> int:
    result = lib.journey(args.waypoints, args.steps, _rules(args))
    return _emit_playlist(lib, list(result.indices), args, result.to_dict(lib.catalog()))


def cmd_models(lib: Library, args: argparse.Namespace) -> int:
    from segue.listen.weights import import_wheel

    for path in import_wheel(args.wheel):
        _err(f"imported {path}")
    return 0


def _add_playlist_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="write .m3u/.m3u8/.xspf/.pls (from the extension)")
    p.add_argument("--absolute", action="store_true", help="absolute paths in the playlist file")
    p.add_argument("--artist-gap", type=int, default=3, help="no artist within the last K tracks")
    p.add_argument("--minutes", type=float, help="target total length")
    p.add_argument("--bpm", help="tempo range, e.g. 118-128 (half/double time allowed)")
    p.add_argument("--key", help="Camelot key, e.g. 8A")
    p.add_argument("--compatible-keys", action="store_true", help="--key allows neighbours")
    p.add_argument("--json", action="store_true")


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; here 2 means a bug, so usage errors exit 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="segue", description="Playlists, journeys and mixes from your music, by listening."
    )
    parser.add_argument("--version", action="version", version=f"segue {__version__}")
    parser.add_argument("--db", help="library database (default: $SEGUE_DB or the user data dir)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("scan", help="add or refresh music folders")
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.add_argument("--full", action="store_true", help="re-read every file, changed or not")
    p.add_argument("--workers", type=_positive_int, default=None, help="worker processes (default: cores)")
    p.add_argument(
        "--no-analysis", action="store_true", help="catalogue only: tags, covers, durations"
    )
    p.add_argument("--json", action="store_true", help="print the scan report as JSON")
    p.set_defaults(handler=cmd_scan)

    p = sub.add_parser("tracks", help="list the tracks in the library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_tracks)

    p = sub.add_parser("status", help="counts, failures and where the library lives")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("similar", help="the nearest tracks to a seed, by listening")
    p.add_argument("seed", help="track id, library path, 'artist - title', or any audio file")
    p.add_argument("-n", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_similar)

    p = sub.add_parser("playlist", help="keep on playing songs like the seeds")
    p.add_argument("seeds", nargs="+", metavar="SEED")
    p.add_argument("-n", type=int, default=None,
                   help="new tracks after the seeds (default 20, or as many as --minutes needs)")  # fmt: skip
    p.add_argument("--lookback", type=int, default=3, help="'keep on': recent tracks that steer (0: stay on the seeds)")
    p.add_argument("--noise", type=float, default=0.0, help="'drunk': 0 exact .. 1 nearly random")
    p.add_argument("--not", dest="negative", action="append", default=[], metavar="SEED",
                   help="steer away from this track (repeatable)")  # fmt: skip
    p.add_argument("--random-seed", type=int, default=None, help="repeatable randomness")
    _add_playlist_options(p)
    p.set_defaults(handler=cmd_playlist)

    p = sub.add_parser("journey", help="join the dots between songs")
    p.add_argument("waypoints", nargs="+", metavar="SEED")
    p.add_argument("--steps", type=int, default=5, help="tracks between each pair of waypoints")
    _add_playlist_options(p)
    p.set_defaults(handler=cmd_journey)

    p = sub.add_parser("models", help="model weights: import a musicnn wheel for offline use")
    msub = p.add_subparsers(dest="models_command", required=True)
    mp = msub.add_parser("import", help="verify and convert a musicnn-0.1.0 wheel file")
    mp.add_argument("wheel", metavar="FILE.whl")
    mp.set_defaults(handler=cmd_models)

    from segue.commands import register_all

    register_all(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with Library.open(args.db) as lib:
            return int(args.handler(lib, args))
    except UserError as exc:
        _err(f"segue: {exc}")
        return 1
    except KeyboardInterrupt:
        _err("segue: interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, reported as one
        traceback.print_exc()
        _err(f"segue: internal error: {type(exc).__name__}: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
