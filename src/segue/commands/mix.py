"""``segue mix PLAYLIST -o FILE``: a playlist rendered as one continuous DJ mix; the mix
options ``journey --mix`` shares."""

from __future__ import annotations

import argparse
from typing import Any

from segue.api import Library
from segue.commands._output import print_json, say


def add_mix_options(p: argparse.ArgumentParser) -> None:
    """The options that shape a mix (shared with ``journey --mix``)."""
    p.add_argument("--target-lufs", type=float, default=-14.0, help="loudness of every track (LUFS)")
    p.add_argument("--true-peak", type=float, default=-1.0, help="true-peak ceiling (dBTP)")
    p.add_argument("--fade", type=float, default=8.0, help="crossfade length in seconds")
    p.add_argument("--no-beatmatch", action="store_true", help="plain equal-power crossfades")
    p.add_argument("--tempo-tolerance", type=float, default=4.0,
                   help="beat-match tempos within this many percent")  # fmt: skip
    p.add_argument("--max-stretch", type=float, default=None,
                   help="speed change allowed to match tempos, percent (default: the tolerance; "
                        "0: never change speed)")  # fmt: skip
    p.add_argument("--no-bass-swap", action="store_true", help="no low-frequency swap in fades")


def mix_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword options for :meth:`Library.mix` from parsed arguments."""
    return {
        "target_lufs": args.target_lufs,
        "true_peak": args.true_peak,
        "fade": args.fade,
        "beatmatch": not args.no_beatmatch,
        "tempo_tolerance": args.tempo_tolerance,
        "max_stretch": args.max_stretch,
        "bass_swap": not args.no_bass_swap,
    }


def report_mix(result: Any) -> None:
    """The one-line summary of a rendered mix, and every track it had to leave out."""
    say(f"mix: {result.output} ({len(result.tracks)} tracks, {result.duration / 60:.1f} min, "
        f"{result.duration / max(result.render_seconds, 1e-9):.0f}x real time); "
        f"{result.cue.name}, {result.tracklist.name} beside it")  # fmt: skip
    for s in result.skipped:
        say(f"  skipped: {s.path}: {s.reason}")


def cmd_mix(lib: Library, args: argparse.Namespace) -> int:
    kwargs = mix_kwargs(args)
    if args.title:
        kwargs["title"] = args.title
    result = lib.mix_playlist_file(args.playlist, args.output, **kwargs)
    report_mix(result)
    if args.json:
        print_json(result.to_json())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segue mix``."""
    p = sub.add_parser("mix", help="render a playlist as one continuous DJ mix")
    p.add_argument("playlist", metavar="PLAYLIST", help=".m3u/.m3u8/.xspf/.pls")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="mix file: .mp3, .ogg, .opus, .flac or .wav (a .cue and .txt go beside it)")  # fmt: skip
    add_mix_options(p)
    p.add_argument("--title", help="the mix's title tag (default: the playlist's name)")
    p.add_argument("--json", action="store_true", help="print the mix report as JSON")
    p.set_defaults(handler=cmd_mix)
