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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segue", description="Playlists, journeys and mixes from your music, by listening."
    )
    parser.add_argument("--version", action="version", version=f"segue {__version__}")
    parser.add_argument("--db", help="library database (default: $SEGUE_DB or the user data dir)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("scan", help="add or refresh music folders")
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.add_argument("--full", action="store_true", help="re-read every file, changed or not")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: cores)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "workers", None) is not None and args.workers < 1:
            raise UserError("--workers must be at least 1")
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
