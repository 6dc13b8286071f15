"""``segue scan``, ``tracks``, ``status`` and ``models``: what is in the collection."""

from __future__ import annotations

import argparse

from segue.api import PRECISIONS, Library, ScanInterrupted, ScanReport
from segue.commands._output import positive_int, print_json, say


def _scan_summary(report: ScanReport, lib: Library) -> None:
    say(
        f"scanned in {report.seconds:.1f} s: {report.added} added, {report.updated} updated, "
        f"{report.moved} moved, {report.unchanged} unchanged, {report.removed} removed, "
        f"{report.failed} failed, {report.duplicates} duplicate files"
        + (f", {report.analysed} analysed" if report.analysed else "")
    )
    for path, reason in report.errors:
        say(f"  failed: {path}: {reason}")
    for path, reason in report.warnings:
        say(f"  warning: {path}: {reason}")
    say(f"library: {lib.count_tracks()} tracks in {lib.path}")


def _ray_address(value: str) -> str:
    """``--ray``'s value: auto or a cluster address (a folder here is a misplaced --ray)."""
    if value == "auto" or ":" in value:
        return value
    raise argparse.ArgumentTypeError(
        f"expected auto or a cluster address (host:port, ray://host:port), not {value!r}; "
        "put --ray after the folders")


def cmd_scan(lib: Library, args: argparse.Namespace) -> int:
    try:
        report = lib.scan(
            args.folders, full=args.full, workers=args.workers, analyse=not args.no_analysis,
            precision=args.precision, model=args.model, weights=args.weights,
            executor="local" if args.ray is None else "ray", ray_address=args.ray or "auto",
        )  # fmt: skip
    except ScanInterrupted as stop:
        say(f"interrupted: work finished so far is saved ({stop.report.added} added); "
            "run the same command again to continue")  # fmt: skip
        if args.json:
            print_json(stop.report.as_dict())
        return 130
    if args.json:
        print_json(report.as_dict())
    _scan_summary(report, lib)
    return 0


def cmd_tracks(lib: Library, args: argparse.Namespace) -> int:
    tracks = lib.tracks(details=args.json)
    if args.json:
        print_json(tracks)
        return 0
    for t in tracks:
        minutes, seconds = divmod(int(round(float(t["duration"] or 0))), 60)
        print(f"{t['id']:>6}  {t['artist'] or '?'} - {t['title'] or '?'}  [{minutes}:{seconds:02d}]")
    return 0


def cmd_status(lib: Library, args: argparse.Namespace) -> int:
    status = lib.status()
    damaged = status["integrity"] != "ok"
    if args.json:
        print_json(status)
        return 1 if damaged else 0
    ro = ", read-only" if status["read_only"] else ""
    print(f"library:   {status['db']} (schema {status['schema_version']}{ro})")
    if damaged:
        say(f"segue: {status['advice']}")
        return 1
    print("integrity: ok")
    print(f"tracks:    {status['tracks']} ({status['duration_hours']} h), {status['artists']} "
          f"artists, {status['albums']} albums, {status['covers']} covers")  # fmt: skip
    print(f"analysed:  {status['analysed']} ({status['analysis_errors']} failed)")
    print(f"duplicates: {status['duplicate_files']} files in {status['duplicate_groups']} groups")
    failed = status["failed"]
    print(f"failed:    {len(failed)}")
    for item in failed:
        print(f"  {item['path']}: {item['reason']}")
    for item in status["warnings"]:
        print(f"  warning: {item['path']}: {item['reason']}")
    return 0


def cmd_models(lib: Library, args: argparse.Namespace) -> int:
    for path in lib.import_model_wheel(args.wheel):
        say(f"imported {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``scan``, ``tracks``, ``status`` and ``models``."""
    p = sub.add_parser("scan", help="add or refresh music folders")
    p.add_argument("folders", nargs="+", metavar="DIR")
    p.add_argument("--full", action="store_true", help="re-read every file, changed or not")
    p.add_argument("--workers", type=positive_int, default=None, help="worker processes (default: cores)")
    p.add_argument("--no-analysis", action="store_true", help="catalogue only: tags, covers, durations")
    p.add_argument("--json", action="store_true", help="print the scan report as JSON")
    p.add_argument("--model", choices=("musicnn", "deejai"), default="musicnn",
                   help="listening model (deejai needs --weights)")  # fmt: skip
    p.add_argument("--weights", metavar="FILE",
                   help="Deej-AI weights: teticio/audio-encoder's diffusion_pytorch_model.bin")  # fmt: skip
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="MusiCNN front end: int8 is about 2.8x faster on x86 CPUs, fp32 is the "
                        "exact port (auto: int8 where available)")  # fmt: skip
    p.add_argument("--ray", nargs="?", const="auto", default=None, type=_ray_address,
                   metavar="ADDRESS",
                   help="read and analyse on a Ray cluster (pip install 'segue[ray]'): auto (this "
                        "machine's Ray, started if none) or ray://host:10001; the files must be at "
                        "the same path on every node; --workers: actors (default: one per CPU)")  # fmt: skip
    p.set_defaults(handler=cmd_scan)

    p = sub.add_parser("tracks", help="list the tracks in the library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_tracks)

    p = sub.add_parser("status", help="counts, failures and where the library lives")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser("models", help="model weights: import a musicnn wheel for offline use")
    msub = p.add_subparsers(dest="models_command", required=True)
    mp = msub.add_parser("import", help="verify and convert a musicnn-0.1.0 wheel file")
    mp.add_argument("wheel", metavar="FILE.whl")
    mp.set_defaults(handler=cmd_models)
