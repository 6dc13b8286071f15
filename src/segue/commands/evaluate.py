"""``segue eval``: how good the current vectors' playlists are, against labels."""

from __future__ import annotations

import argparse

from segue.api import HUB_REDUCTIONS, Library
from segue.commands._output import positive_int, print_json
from segue.commands.playlists import add_vector_options


def cmd_eval(lib: Library, args: argparse.Namespace) -> int:
    lib.use(args.features, args.pooling)
    result = lib.evaluate(args.labels, args.k, args.hub_reduction, args.journeys)
    if args.json:
        print_json(result)
        return 0
    print(f"{result['n_tracks']} tracks, {result['n_labelled']} labelled; features "
          f"{result['features']} ({result['pooling']}, {result['space']} space), "
          f"hub reduction {result['hub_reduction']}")  # fmt: skip
    k = result["k"]
    for name, label in (("genre_precision", f"style precision@{k}, other artists"),
                        ("genre_precision_album_filtered", f"style precision@{k}, other albums"),
                        ("genre_precision_artist_album_filtered",
                         f"style precision@{k}, other artists and albums")):  # fmt: skip
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


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``segue eval``."""
    p = sub.add_parser("eval", help="measure playlist quality against labels")
    p.add_argument("--labels", help="CSV with path, artist, album, genre (default: the tags)")
    p.add_argument("-k", type=positive_int, default=10)
    p.add_argument("--hub-reduction", choices=HUB_REDUCTIONS, default="none")
    p.add_argument("--journeys", type=int, default=30, help="random journeys to score")
    p.add_argument("--json", action="store_true")
    add_vector_options(p)
    p.set_defaults(handler=cmd_eval)
