"""``segue mix PLAYLIST -o FILE``: a playlist rendered as one continuous DJ mix.

Tracks in the library bring their stored descriptors (beats, loudness, intro/outro energy);
files outside it are analysed on the fly. :func:`mix_rows` does the same for catalogue rows, so
``segue journey ... --mix FILE`` can hand its result straight over.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from segue.errors import UserError

if TYPE_CHECKING:
    from segue.api import Library
    from segue.mix.render import MixResult, MixTrack


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


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword options for :func:`mix_rows`/:func:`mix_paths` from parsed arguments."""
    return {
        "target_lufs": args.target_lufs,
        "true_peak": args.true_peak,
        "fade": args.fade,
        "beatmatch": not args.no_beatmatch,
        "tempo_tolerance": args.tempo_tolerance,
        "max_stretch": args.max_stretch,
        "bass_swap": not args.no_bass_swap,
    }


def _options(target_lufs: float = -14.0, true_peak: float = -1.0, fade: float = 8.0,
             beatmatch: bool = True, tempo_tolerance: float = 4.0,
             max_stretch: float | None = None, bass_swap: bool = True) -> Any:  # fmt: skip
    from segue.mix.plan import MixOptions

    if not -70 < target_lufs < 0:
        raise UserError(f"--target-lufs must be between -70 and 0, got {target_lufs}")
    if not -20 <= true_peak <= 0:
        raise UserError(f"--true-peak must be between -20 and 0 dBTP, got {true_peak}")
    if not 0 <= fade <= 60:
        raise UserError(f"--fade must be between 0 and 60 seconds, got {fade}")
    if not 0 <= tempo_tolerance <= 20:
        raise UserError(f"--tempo-tolerance must be between 0 and 20 percent, got {tempo_tolerance}")
    stretch = tempo_tolerance if max_stretch is None else max_stretch
    if not 0 <= stretch <= 20:
        raise UserError(f"--max-stretch must be between 0 and 20 percent, got {stretch}")
    return MixOptions(target_lufs=target_lufs, true_peak_db=true_peak, fade=fade,
                      beatmatch=beatmatch, tempo_tolerance=tempo_tolerance, max_stretch=stretch,
                      bass_swap=bass_swap)  # fmt: skip


def _mix_tracks(lib: Library, paths: Sequence[str]) -> tuple[list[MixTrack], bytes | None]:
    """MixTracks for ``paths`` (stored descriptors and tags where the library knows the file)
    and the first cover among them."""
    from segue.library.tags import find_cover, open_tags, read_tags
    from segue.mix.render import MixTrack

    descriptors: dict[str, dict[str, Any]] | None = None
    out: list[MixTrack] = []
    cover: bytes | None = None
    for path in paths:
        row = lib.store.track_by_path(path)
        if row is not None:
            if descriptors is None:
                descriptors = lib.store.descriptors()
            out.append(MixTrack(path, row.title, row.artist, descriptors.get(row.audio_hash)))
            if cover is None and row.cover_hash:
                found = lib.store.cover(row.cover_hash)
                cover = found[1] if found else None
            continue
        title = artist = None
        if os.path.isfile(path):
            audio, _warning = open_tags(Path(path))
            tags = read_tags(Path(path), audio)
            title, artist = tags.title, tags.artist
            if cover is None:
                found_cover = find_cover(Path(path), audio)
                cover = found_cover.data if found_cover else None
        out.append(MixTrack(path, title, artist, None))
    return out, cover


def mix_paths(lib: Library, paths: Sequence[str], output: str, *, title: str | None = None,
              cover: bytes | None = None, progress: bool = True,
              on_progress: Any = None, **options: Any) -> MixResult:  # fmt: skip
    """Render the files at ``paths`` as one mix at ``output`` (see :func:`_options` for
    ``options``: target_lufs, true_peak, fade, beatmatch, tempo_tolerance, max_stretch,
    bass_swap). ``cover`` defaults to the first track's cover."""
    from segue.mix.render import render_mix

    mix_options = _options(**options)
    if not paths:
        raise UserError("nothing to mix: the playlist is empty")
    tracks, first_cover = _mix_tracks(lib, paths)
    return render_mix(tracks, output, mix_options, title=title, cover=cover or first_cover,
                      progress=progress, on_progress=on_progress)  # fmt: skip


def mix_rows(lib: Library, rows: Sequence[int], output: str, **options: Any) -> MixResult:
    """Render catalogue rows (``lib.catalog()`` indices, e.g. a journey's) as one mix."""
    catalog = lib.catalog()
    return mix_paths(lib, [catalog.path[i] for i in rows], output, **options)


def cmd_mix(lib: Library, args: argparse.Namespace) -> int:
    """Handler of ``segue mix``."""
    from segue.playlist.export import read_playlist

    paths = read_playlist(args.playlist)
    title = args.title or Path(args.playlist).stem
    result = mix_paths(lib, paths, args.output, title=title, **options_from_args(args))
    print(f"mix: {result.output} ({len(result.tracks)} tracks, {result.duration / 60:.1f} min, "
          f"{result.duration / max(result.render_seconds, 1e-9):.0f}x real time); "
          f"{result.cue.name}, {result.tracklist.name} beside it", file=sys.stderr)  # fmt: skip
    for s in result.skipped:
        print(f"  skipped: {s.path}: {s.reason}", file=sys.stderr)
    if args.json:
        json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    return 0
