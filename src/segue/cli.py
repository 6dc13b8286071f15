"""The ``segue`` command: one sub-command per user task, ``--json`` on each.

Contract (ARCHITECTURE.md): JSON goes to stdout and nothing else does; progress and logs go to
stderr. Exit codes: 0 success, 1 user error (one clear line, no traceback), 2 internal error,
130 interrupted (finished work is saved).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn

from segue import __version__
from segue.api import FEATURE_SETS, POOLINGS, Library
from segue.errors import UserError
from segue.library.scan import ScanInterrupted, ScanReport
from segue.playlist.order import ENERGY_ARCS

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
    hook = None
    if args.model == "deejai" and not args.no_analysis:
        if not args.weights:
            raise UserError("--model deejai needs --weights FILE (teticio/audio-encoder's "
                            "diffusion_pytorch_model.bin or .safetensors)")  # fmt: skip
        if args.precision != "auto":
            raise UserError("--precision is for MusiCNN; Deej-AI's encoder runs in fp32")
        from segue.listen.deejai_hook import DeejAIHook

        hook = DeejAIHook(args.weights)
        hook.load_models()
    elif args.weights:
        raise UserError("--weights is for --model deejai; MusiCNN's weights are fetched by segue")
    try:
        report = lib.scan(
            args.folders, full=args.full, workers=args.workers, analyse=not args.no_analysis,
            hook=hook, precision=args.precision,
        )  # fmt: skip
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
    tracks = lib.tracks(details=args.json)
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
    lib.use(args.features, args.pooling)
    rows = lib.similar(args.seed, args.n)
    if args.json:
        _print_json(rows)
    else:
        _print_rows(rows, with_score=True)
    return 0


def _rules(args: argparse.Namespace):
    from segue.playlist.rules import Rules

    return Rules(
        artist_gap=args.artist_gap, max_per_artist=args.max_per_artist, minutes=args.minutes,
        sides=args.sides, tempo=args.bpm, key=args.key, compatible_keys=args.compatible_keys,
        half_double_time=True, loudness=args.loudness, duration=args.duration, year=args.year,
        tags=args.tag, folder=args.folder,
    )  # fmt: skip


def _emit_playlist(lib: Library, rows: list[int], args: argparse.Namespace, extra=None) -> int:
    sides = getattr(args, "sides", 1) or 1
    parts = [rows]
    if sides > 1:
        from segue.playlist.rules import split_sides

        parts = split_sides(lib.catalog(), rows, sides)
    if args.output:
        for n, part in enumerate(parts):
            target = args.output if sides == 1 else _side_path(args.output, n)
            written = lib.write_playlist(part, target, absolute=args.absolute)
            _err(f"wrote {written} ({len(part)} tracks)")
    if args.json:
        if extra is not None:
            data = extra
        elif sides > 1:
            data = {"sides": [{"side": chr(65 + n), "tracks": lib.track_rows_json(part)}
                              for n, part in enumerate(parts)]}  # fmt: skip
        else:
            data = lib.track_rows_json(rows)
        _print_json(data)
    elif not args.output:
        for n, part in enumerate(parts):
            rows_json = lib.track_rows_json(part)
            if sides > 1:
                minutes = sum(r["duration"] for r in rows_json) / 60
                print(f"Side {chr(65 + n)} ({minutes:.0f} min)")
            _print_rows(rows_json)
    return 0


def _side_path(output: str, n: int) -> str:
    stem, ext = os.path.splitext(output)
    return f"{stem}-side-{chr(65 + n)}{ext}"


def cmd_playlist(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    n = args.n if args.n is not None else (None if args.minutes else 20)
    rows = lib.playlist(
        args.seeds, n, lookback=args.lookback, noise=args.noise, negative=args.negative,
        rules=_rules(args), rng=args.random_seed,
    )  # fmt: skip
    return _emit_playlist(lib, rows, args)


def cmd_journey(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    result = lib.journey(args.waypoints, args.steps, _rules(args))
    code = _emit_playlist(lib, list(result.indices), args, result.to_dict(lib.catalog()))
    if args.mix:
        from segue.commands.mix import mix_rows, options_from_args

        mixed = mix_rows(lib, list(result.indices), args.mix, title="segue journey",
                         **options_from_args(args))  # fmt: skip
        _err(f"mix: {mixed.output} ({mixed.duration / 60:.1f} min), {mixed.cue.name} beside it")
        for skipped in mixed.skipped:
            _err(f"  skipped: {skipped.path}: {skipped.reason}")
    return code


def cmd_order(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    rows = lib.order(args.playlist, args.arc, keep_first=args.keep_first)
    return _emit_playlist(lib, rows, args)


def cmd_eval(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    result = lib.evaluate(args.labels, args.k, args.hub_reduction, args.journeys)
    if args.json:
        _print_json(result)
        return 0
    print(f"{result['n_tracks']} tracks, {result['n_labelled']} labelled; features "
          f"{result['features']} ({result['pooling']}), hub reduction {result['hub_reduction']}")  # fmt: skip
    k = result["k"]
    for name, label in (("genre_precision", f"style precision@{k}, other artists"),
                        ("genre_precision_album_filtered", f"style precision@{k}, other albums")):  # fmt: skip
        if name in result and result[name]["value"] is not None:
            print(f"  {label}: {result[name]['value']:.3f} (chance {result[name]['chance']:.3f})")
    for name in ("same_artist_share", "same_album_share"):
        if result.get(name) is not None:
            print(f"  {name.replace('_', ' ')}@{k}: {result[name]:.3f}")
    hub = result["hubness"]
    print(f"  hubness: k-occurrence skewness {hub['skewness']:.2f}, "
          f"never recommended {hub['antihub_share']:.1%}")  # fmt: skip
    j = result.get("journeys") or {}
    if j.get("n"):
        mono = j.get("monotonicity")
        print(f"  journeys: mean step {j['mean_step_distance']:.3f} vs shuffled "
              f"{j['shuffled_step_distance']:.3f}"
              + (f", monotonicity {mono:.2f}" if mono is not None else ""))  # fmt: skip
    return 0


def cmd_models(lib: Library, args: argparse.Namespace) -> int:
    from segue.listen.weights import import_wheel

    for path in import_wheel(args.wheel):
        _err(f"imported {path}")
    return 0


def _add_vector_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", default="musicnn", choices=FEATURE_SETS,
                   help="what 'similar' means: neural embeddings or a classic feature set")  # fmt: skip
    p.add_argument("--pooling", default="mean", choices=POOLINGS,
                   help="slice pooling for neural features (tfidf: Deej-AI's MP3ToVec)")  # fmt: skip


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="write .m3u/.m3u8/.xspf/.pls (from the extension)")
    p.add_argument("--absolute", action="store_true", help="absolute paths in the playlist file")
    p.add_argument("--json", action="store_true")
    _add_vector_options(p)


def _add_playlist_options(p: argparse.ArgumentParser) -> None:
    _add_output_options(p)
    p.add_argument("--artist-gap", type=int, default=3, help="no artist within the last K tracks")
    p.add_argument("--max-per-artist", type=int, help="at most M tracks of one artist")
    p.add_argument("--minutes", type=float, help="target total length")
    p.add_argument("--sides", type=_positive_int, default=1,
                   help="split into tape sides of equal length (-o writes NAME-side-A.m3u ...)")  # fmt: skip
    p.add_argument("--bpm", help="tempo range, e.g. 118-128 (half/double time allowed)")
    p.add_argument("--key", help="Camelot key, e.g. 8A")
    p.add_argument("--compatible-keys", action="store_true", help="--key allows neighbours")
    p.add_argument("--loudness", help="integrated loudness range in LUFS, e.g. -16:-8")
    p.add_argument("--duration", help="track length range in seconds, e.g. 120-420")
    p.add_argument("--year", help="year range, e.g. 1990-1999")
    p.add_argument("--tag", help="MusiCNN tags the tracks must have, e.g. rock,guitar")
    p.add_argument("--folder", help="only tracks under this folder")


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
    p.add_argument("--model", choices=("musicnn", "deejai"), default="musicnn",
                   help="listening model (deejai needs --weights)")  # fmt: skip
    p.add_argument("--weights", metavar="FILE",
                   help="Deej-AI weights: teticio/audio-encoder's diffusion_pytorch_model.bin")  # fmt: skip
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="MusiCNN front end: int8 is about 2.8x faster on x86 CPUs, fp32 is the "
                        "exact port (auto: int8 where available)")  # fmt: skip
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
    _add_vector_options(p)
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
    p.add_argument("--mix", metavar="FILE", help="also render the journey as one continuous mix")
    _add_playlist_options(p)
    from segue.commands.mix import add_mix_options

    add_mix_options(p)
    p.set_defaults(handler=cmd_journey)

    p = sub.add_parser("order", help="re-order a playlist file for the smoothest flow")
    p.add_argument("playlist", metavar="PLAYLIST")
    p.add_argument("--arc", choices=ENERGY_ARCS, help="energy shape: build, peak or wind-down")
    p.add_argument("--keep-first", action="store_true", help="keep the first track first")
    _add_output_options(p)
    p.set_defaults(handler=cmd_order, sides=1)

    p = sub.add_parser("eval", help="measure playlist quality against labels")
    p.add_argument("--labels", help="CSV with path, artist, album, genre (default: the tags)")
    p.add_argument("-k", type=_positive_int, default=10)
    p.add_argument("--hub-reduction", choices=("none", "csls", "mp"), default="none")
    p.add_argument("--journeys", type=int, default=30, help="random journeys to score")
    p.add_argument("--json", action="store_true")
    _add_vector_options(p)
    p.set_defaults(handler=cmd_eval)

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
