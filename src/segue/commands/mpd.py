"""``segue mpd``: keep MPD's queue going with segue's radio; ``segue mpd playlist`` and
``segue mpd journey TO`` queue once from the current song.

The CLI launching a long-running face: it imports :mod:`segue.integrations.mpd`'s entry
points (the import rule's exception, see tests/test_architecture.py) and nothing else of it.
"""

from __future__ import annotations

import argparse
from typing import Any

from segue.api import Library, Rules
from segue.commands._output import non_negative_int, positive_int, print_json, print_rows, say


def _connection_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    """MPD's address; on the sub-commands their defaults are suppressed so that options given
    before the sub-command (``segue mpd --port 6601 playlist``) are kept."""
    default = argparse.SUPPRESS if suppress else None
    p.add_argument("--host", default=default,
                   help="MPD's host or socket path, [password@]host (default: $MPD_HOST or localhost)")  # fmt: skip
    p.add_argument("--port", type=positive_int, default=default, help="MPD's port (default: $MPD_PORT or 6600)")
    p.add_argument("--password", default=default, help="MPD's password (or MPD_HOST=password@host)")
    p.add_argument("--music-dir", default=default,
                   help="MPD's music_directory (default: asked over a local socket, else mpd.conf)")  # fmt: skip


def _radio_options(p: argparse.ArgumentParser, suppress: bool) -> None:
    def d(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    p.add_argument("--lookback", type=non_negative_int, default=d(3),
                   help="'keep on': the last L tracks steer (0: the current song only)")  # fmt: skip
    p.add_argument("--noise", type=float, default=d(0.0), help="'drunk': 0 exact .. 1 nearly random")
    p.add_argument("--artist-gap", type=non_negative_int, default=d(3), help="no artist within the last K tracks")
    p.add_argument("--bpm", default=d(None), help="tempo range, e.g. 118-128 (half/double time allowed)")
    p.add_argument("--key", default=d(None), help="key or Camelot code, e.g. Am, A minor or 8A")
    p.add_argument("--compatible-keys", action="store_true", default=d(False), help="--key allows neighbours")
    p.add_argument("--loudness", default=d(None), help="integrated loudness range in LUFS, e.g. -16:-6")
    p.add_argument("--duration", default=d(None), help="track length range in seconds or m:ss")
    p.add_argument("--year", default=d(None), help="year range, e.g. 1990-1999")
    p.add_argument("--tag", default=d(None), help="MusiCNN tags the tracks must have, e.g. rock,guitar")
    p.add_argument("--folder", default=d(None), help="only tracks under this folder")


def _rules(args: argparse.Namespace) -> Rules:
    return Rules(artist_gap=args.artist_gap, tempo=args.bpm, key=args.key,
                 compatible_keys=args.compatible_keys, half_double_time=True, loudness=args.loudness,
                 duration=args.duration, year=args.year, tags=args.tag, folder=args.folder)  # fmt: skip


def _report(queued: Any, args: argparse.Namespace) -> int:
    if args.json:
        print_json({"seed": queued.seed, "queued": queued.queued, "tracks": queued.tracks})
    else:
        print_rows(queued.tracks)
    verb = "queued" if queued.queued else "would queue (dry run)"
    say(f"{verb} {len(queued.tracks)} tracks from {queued.seed}")
    return 0


def cmd_mpd(lib: Library, args: argparse.Namespace) -> int:
    from segue.integrations.mpd import RadioDaemon, queue_journey, queue_playlist, target

    where = target(args.host, args.port, args.password)
    if args.action == "playlist":
        return _report(queue_playlist(lib, where, args.music_dir, n=args.n, lookback=args.lookback,
                                      noise=args.noise, rules=_rules(args), dry_run=args.dry_run), args)  # fmt: skip
    if args.action == "journey":
        return _report(queue_journey(lib, where, args.to, args.music_dir, steps=args.steps,
                                     rules=_rules(args), dry_run=args.dry_run), args)  # fmt: skip
    daemon = RadioDaemon(lib, where, args.music_dir, queue_length=args.queue_length,
                         lookback=args.lookback, noise=args.noise, rules=_rules(args))  # fmt: skip
    return daemon.run()


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segue mpd`` and its one-shots."""
    p = sub.add_parser("mpd", help="keep MPD's queue going with segue's radio (or queue once)",
                       description="Without a sub-command: run until Ctrl-C, keeping --queue-length "
                       "songs queued after the current one, picked by segue's radio from it; skips "
                       "are recorded and steer away.")  # fmt: skip
    _connection_options(p, suppress=False)
    _radio_options(p, suppress=False)
    p.add_argument("--queue-length", type=positive_int, default=5, help="songs kept after the current one")
    p.set_defaults(handler=cmd_mpd, action=None, dry_run=False, json=False)
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    pl = actions.add_parser("playlist", help="queue N radio picks from the current song")
    pl.add_argument("-n", type=positive_int, default=10, help="how many tracks (default 10)")
    jo = actions.add_parser("journey", help="queue a journey from the current song to TO")
    jo.add_argument("to", metavar="TO", help="where to arrive: a track id, a path or 'artist - title'")
    jo.add_argument("--steps", type=non_negative_int, default=5, help="tracks between (default 5)")
    for a in (pl, jo):
        _connection_options(a, suppress=True)
        _radio_options(a, suppress=True)
        a.add_argument("--dry-run", action="store_true", help="print the tracks, queue nothing")
        a.add_argument("--json", action="store_true")
