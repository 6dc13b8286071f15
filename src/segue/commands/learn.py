"""``segue learn`` and ``segue clusters``: the space learned from the library, and its groups."""

from __future__ import annotations

import argparse
import os
import re

from segue.api import Library
from segue.commands._output import positive_int, print_json, say


def _summary_lines(s: dict) -> list[str]:
    c = s["contexts"]
    lines = [
        f"contexts: {c['album']} albums, {c['folder']} folders, {c['playlist']} playlist files, "
        f"{c['session']} listening sessions, {c['skip_pairs']} skips "
        f"({s['tracks_in_contexts']} of {s['tracks']} tracks in one at least)"
    ]
    if s["space"] == "learned":
        held = s.get("held_out")
        lines.append(f"learned space: {s['dims']} dimensions ({s['method']}, {s['epochs']} epochs, "
                     f"{s['device']}, {s['seconds']:.1f} s)")  # fmt: skip
        if held and held.get("learned") is not None:
            lines.append(
                f"held-out loss ({held['contexts']} contexts left out): learned {held['learned']:.3f}, "
                f"pretrained {held['pretrained']:.3f} (spread within a context over that of "
                "random pairs: lower is tighter)"
            )
    else:
        lines.append(f"keeping the pretrained space: {s['reason']}")
    return lines


def cmd_learn(lib: Library, args: argparse.Namespace) -> int:
    summary = lib.learn(method=args.method, step=lambda stage: say(f"learn: {stage}")).as_dict()
    if args.json:
        print_json(summary)
    else:
        for line in _summary_lines(summary):
            print(line)
    return 0


def _file_name(n: int, name: str) -> str:
    slug = re.sub(r"[^\w,.-]+", " ", name, flags=re.UNICODE).strip().replace(" ", "-")
    return f"{n:02d}-{slug[:80] or 'cluster'}.m3u8"


def cmd_clusters(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features)
    clusters = lib.clusters(args.k)
    written = []
    if args.output:
        folder = lib.check_output(args.output, folder=True)
        for n, c in enumerate(clusters, 1):
            path = lib.write_playlist(c["rows"], os.path.join(folder, _file_name(n, c["name"])),
                                      absolute=args.absolute)  # fmt: skip
            written.append(str(path))
            say(f"wrote {path} ({len(c['rows'])} tracks)")
    if args.json:
        print_json([
            {"name": c["name"], "tags": c["tags"], "artists": c["artists"],
             "file": written[n] if written else None, "tracks": lib.rows_json(c["rows"])}
            for n, c in enumerate(clusters)
        ])  # fmt: skip
    elif not args.output:
        for n, c in enumerate(clusters, 1):
            print(f"{n:>2}. {c['name']} ({len(c['rows'])} tracks)")
    say(f"{len(clusters)} clusters in the {lib.space()} space")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segue learn`` and ``segue clusters``."""
    from segue.api import FEATURE_SETS

    p = sub.add_parser("learn", help="learn how this library's music goes together (albums, "
                                     "folders, playlist files, plays)")  # fmt: skip
    p.add_argument("--method", choices=("cooccurrence", "sgns"), default="cooccurrence",
                   help="Track2Vec as co-occurrence factorisation (default) or skip-gram")  # fmt: skip
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(handler=cmd_learn)

    p = sub.add_parser("clusters", help="the library as a handful of playlists (M3U8 files)")
    p.add_argument("-o", "--output", metavar="DIR", help="write one .m3u8 per cluster into DIR")
    p.add_argument("-k", type=positive_int, default=None, help="how many (default: chosen by fit)")
    p.add_argument("--absolute", action="store_true", help="absolute paths in the playlist files")
    p.add_argument("--features", default="learned", choices=FEATURE_SETS,
                   help="the space to cluster in (default: the learned one)")  # fmt: skip
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_clusters)
