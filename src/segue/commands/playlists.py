"""``segue similar``, ``playlist``, ``journey`` and ``order``: playlists from the library."""

from __future__ import annotations

import argparse
import os
from typing import Any

from segue.api import ENERGY_ARCS, FEATURE_SETS, POOLINGS, Library, Playlist, Rules
from segue.commands._output import non_negative_int, positive_int, print_json, print_rows, say
from segue.commands.mix import add_mix_options, mix_kwargs, report_mix


def add_vector_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", default="learned", choices=FEATURE_SETS,
                   help="what 'similar' means: the space learned from this library (default; "
                        "pretrained MusiCNN until 'segue learn' has a model), musicnn (the "
                        "pretrained space), deejai, or a classic feature set")  # fmt: skip
    p.add_argument("--pooling", default="mean", choices=POOLINGS,
                   help="slice pooling for neural features (tfidf: Deej-AI's MP3ToVec)")  # fmt: skip


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", help="write .m3u/.m3u8/.xspf/.pls (from the extension)")
    p.add_argument("--absolute", action="store_true", help="absolute paths in the playlist file")
    p.add_argument("--json", action="store_true")
    add_vector_options(p)


def _add_playlist_options(p: argparse.ArgumentParser) -> None:
    _add_output_options(p)
    p.add_argument("--artist-gap", type=non_negative_int, default=3, help="no artist within the last K tracks")
    p.add_argument("--max-per-artist", type=positive_int, help="at most M tracks of one artist")
    p.add_argument("--minutes", type=float, help="target total length")
    p.add_argument("--sides", type=positive_int, default=1,
                   help="split into tape sides of equal length (-o writes NAME-side-A.m3u ...)")  # fmt: skip
    p.add_argument("--bpm", help="tempo range, e.g. 118-128 (half/double time allowed)")
    p.add_argument("--key", help="key or Camelot code, e.g. Am, A minor or 8A")
    p.add_argument("--compatible-keys", action="store_true", help="--key allows neighbours")
    p.add_argument("--loudness", help="integrated loudness range in LUFS, e.g. -16:-6 (or -16..-6)")
    p.add_argument("--duration", help="track length range in seconds or m:ss, e.g. 120-420, 2:00-7:00")
    p.add_argument("--year", help="year range, e.g. 1990-1999")
    p.add_argument("--tag", help="MusiCNN tags the tracks must have, e.g. rock,guitar")
    p.add_argument("--folder", help="only tracks under this folder")
    p.add_argument("--mixable", action=argparse.BooleanOptionalAction, default=None,
                   help="among tracks close in sound, prefer ones a mix can beat-match or that "
                        "are in a compatible key (journey --mix: on unless --no-mixable)")  # fmt: skip


def _rules(args: argparse.Namespace) -> Rules:
    return Rules(
        artist_gap=args.artist_gap, max_per_artist=args.max_per_artist, minutes=args.minutes,
        sides=args.sides, tempo=args.bpm, key=args.key, compatible_keys=args.compatible_keys,
        half_double_time=True, loudness=args.loudness, duration=args.duration, year=args.year,
        tags=args.tag, folder=args.folder,
    )  # fmt: skip


def _side_path(output: str, n: int) -> str:
    stem, ext = os.path.splitext(output)
    return f"{stem}-side-{chr(65 + n)}{ext}"


def _say_seeds(seeds: list[tuple[int, str]]) -> None:
    """Always say which tracks the seed texts were taken to mean (a fuzzy match may surprise)."""
    if seeds:
        say("seed: " + "; ".join(label for _, label in seeds))


def _emit(lib: Library, rows: list[int], args: argparse.Namespace, extra: Any = None) -> int:
    sides = getattr(args, "sides", 1) or 1
    parts = lib.split_sides(rows, sides)
    if args.output:
        targets = [args.output if sides == 1 else _side_path(args.output, n) for n in range(len(parts))]
        for target in targets:
            lib.check_output(target)
        for part, target in zip(parts, targets, strict=True):
            written = lib.write_playlist(part, target, absolute=args.absolute)
            say(f"wrote {written} ({len(part)} tracks)")
    if args.json:
        if extra is not None:
            data = extra
        elif sides > 1:
            data = {"sides": [{"side": chr(65 + n), "tracks": lib.rows_json(part)}
                              for n, part in enumerate(parts)]}  # fmt: skip
        else:
            data = lib.rows_json(rows)
        print_json(data)
    elif not args.output:
        for n, part in enumerate(parts):
            rows_json = lib.rows_json(part)
            if sides > 1:
                minutes = sum(r["duration"] for r in rows_json) / 60
                print(f"Side {chr(65 + n)} ({minutes:.0f} min)")
            print_rows(rows_json)
    return 0


def cmd_similar(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    rows = lib.similar(args.seed, args.n)
    say(f"seed: {rows.seed}")
    if args.json:
        print_json(rows)
    else:
        print_rows(rows, with_score=True)
    return 0


def cmd_playlist(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    if args.output:
        lib.check_output(args.output)
    n = args.n if args.n is not None else (None if args.minutes else 20)
    made: Playlist = lib.playlist(
        args.seeds, n, lookback=args.lookback, noise=args.noise, negative=args.negative,
        rules=_rules(args), rng=args.random_seed, mixable=bool(args.mixable),
    )  # fmt: skip
    _say_seeds(made.seeds)
    if made.note:
        say(f"segue: {made.note}")
    return _emit(lib, made.rows, args)


def cmd_journey(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    for target in (args.output, args.mix):
        if target:
            lib.check_output(target)
    if args.mix:
        lib.check_mix_output(args.mix)
    mixable = bool(args.mix) if args.mixable is None else args.mixable  # a mix wants a mixable path
    result = lib.journey(args.waypoints, args.steps, _rules(args), mixable=mixable)
    _say_seeds(result.seeds)
    code = _emit(lib, result.rows, args, {"indices": result.rows, "steps": result.steps})
    if args.mix:
        report_mix(lib.mix_rows(result.rows, args.mix, title="segue journey", **mix_kwargs(args)))
    return code


def cmd_order(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    if args.output:
        lib.check_output(args.output)
    return _emit(lib, lib.order(args.playlist, args.arc, keep_first=args.keep_first), args)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``similar``, ``playlist``, ``journey`` and ``order``."""
    p = sub.add_parser("similar", help="the nearest tracks to a seed, by listening")
    p.add_argument("seed", help="track id, library path, 'artist - title', or any audio file")
    p.add_argument("-n", type=positive_int, default=10)
    p.add_argument("--json", action="store_true")
    add_vector_options(p)
    p.set_defaults(handler=cmd_similar)

    p = sub.add_parser("playlist", help="keep on playing songs like the seeds")
    p.add_argument("seeds", nargs="+", metavar="SEED")
    p.add_argument("-n", type=non_negative_int, default=None,
                   help="new tracks after the seeds (default 20, or as many as --minutes needs)")  # fmt: skip
    p.add_argument("--lookback", type=non_negative_int, default=3,
                   help="'keep on': recent tracks that steer (0: stay on the seeds)")  # fmt: skip
    p.add_argument("--noise", type=float, default=0.0, help="'drunk': 0 exact .. 1 nearly random")
    p.add_argument("--not", dest="negative", action="append", default=[], metavar="SEED",
                   help="steer away from this track (repeatable)")  # fmt: skip
    p.add_argument("--random-seed", type=int, default=None, help="repeatable randomness")
    _add_playlist_options(p)
    p.set_defaults(handler=cmd_playlist)

    p = sub.add_parser("journey", help="join the dots between songs")
    p.add_argument("waypoints", nargs="+", metavar="SEED")
    p.add_argument("--steps", type=non_negative_int, default=5, help="tracks between each pair of waypoints")
    p.add_argument("--mix", metavar="FILE", help="also render the journey as one continuous mix")
    _add_playlist_options(p)
    add_mix_options(p)
    p.set_defaults(handler=cmd_journey)

    p = sub.add_parser("order", help="re-order a playlist file for the smoothest flow")
    p.add_argument("playlist", metavar="PLAYLIST")
    p.add_argument("--arc", choices=ENERGY_ARCS, help="energy shape: build, peak or wind-down")
    p.add_argument("--keep-first", action="store_true", help="keep the first track first")
    _add_output_options(p)
    p.set_defaults(handler=cmd_order, sides=1)
