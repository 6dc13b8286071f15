"""``segue art train|sample``, ``segue map`` and ``segue mixtape``: the library as pictures."""

from __future__ import annotations

import argparse

from segue.api import IMAGE_SOURCES, MAP_METHODS, Library
from segue.commands._output import positive_int, print_json, say


def _threads(lib: Library, args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        lib.set_threads(args.threads)


def cmd_art_train(lib: Library, args: argparse.Namespace) -> int:
    _threads(lib, args)
    path = lib.train_art(
        conditional=args.conditional, epochs=args.epochs,
        max_seconds=args.minutes * 60 if args.minutes and args.minutes > 0 else None, size=args.size,
        batch_size=args.batch_size, width=args.width, seed=args.seed, fresh=args.fresh,
        device=args.device,
    )  # fmt: skip
    say(f"checkpoint: {path}; samples in {path.parent / 'samples'}")
    if args.json:
        print_json({"checkpoint": str(path), "samples": str(path.parent / "samples")})
    return 0


def cmd_art_sample(lib: Library, args: argparse.Namespace) -> int:
    _threads(lib, args)
    made = lib.sample_art(args.n, args.output, like=args.like, checkpoint=args.checkpoint,
                          unconditional=args.unconditional, seed=args.seed, device=args.device)  # fmt: skip
    say(f"wrote {len(made)} images and grid.png to {args.output}")
    if args.json:
        print_json(made)
    return 0


def cmd_map(lib: Library, args: argparse.Namespace) -> int:
    info = lib.write_map(args.output, method=args.method)
    say(f"wrote {info['path']}: {info['placed']}/{info['tracks']} tracks placed, "
        f"{info['covers']} covers, {info['bytes'] / 1e6:.1f} MB")  # fmt: skip
    if args.json:
        print_json(info)
    return 0


def cmd_mixtape(lib: Library, args: argparse.Namespace) -> int:
    minutes = None if (args.n is not None and args.minutes is None) else (args.minutes or 60.0)
    summary = lib.mixtape(
        args.seeds, args.output, n=args.n, minutes=minutes, images=args.images, title=args.title,
        seed=args.seed, train_minutes=args.train_minutes, compare=not args.no_compare, mix=args.mix,
    )  # fmt: skip
    if summary.get("note"):
        say(f"segue: {summary['note']}")
    say(f"wrote {args.output}: {len(summary['tracks'])} tracks, images from {summary['images']}")
    if args.json:
        print_json(summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``art``, ``map`` and ``mixtape``."""
    p = sub.add_parser("art", help="a GAN trained on your covers: train it, sample from it")
    asub = p.add_subparsers(dest="art_command", required=True)

    t = asub.add_parser("train", help="train (or resume) the cover DCGAN")
    t.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=True,
                   help="condition on each album's MusiCNN tags (default on)")  # fmt: skip
    t.add_argument("--epochs", type=int, default=None, help="total epochs (default: about 1000 steps)")
    t.add_argument("--minutes", type=float, default=10.0,
                   help="stop after this long; run again to resume (default 10, 0: no limit)")  # fmt: skip
    t.add_argument("--size", type=int, default=128, help="image size: 32, 64, 128 (default), 256")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--width", type=int, default=32, help="base channel count of both nets (DCGAN: 64)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    t.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 …")
    t.add_argument("--threads", type=positive_int, default=None, help="CPU threads for torch")
    t.add_argument("--json", action="store_true")
    t.set_defaults(handler=cmd_art_train)

    s = asub.add_parser("sample", help="generate images from the trained GAN")
    s.add_argument("-n", type=positive_int, default=16)
    s.add_argument("-o", "--output", default="samples", help="folder for the PNGs (default ./samples)")
    s.add_argument("--like", metavar="SEED", help="condition on this track's sound")
    s.add_argument("--checkpoint", help="a checkpoint file (default: the library's)")
    s.add_argument("--unconditional", action="store_true", help="use the unconditional model")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=positive_int, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_art_sample)

    p = sub.add_parser("map", help="an interactive HTML map of the whole library")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html")
    p.add_argument("--method", choices=MAP_METHODS, default="tsne")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_map)

    p = sub.add_parser("mixtape", help="playlist, poster, cover and feature-set comparison in a folder")
    p.add_argument("seeds", nargs="+", metavar="SEED")
    p.add_argument("--minutes", type=float, default=None, help="target length (default 60, or none with -n)")
    p.add_argument("-n", type=positive_int, default=None, help="new tracks after the seeds")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--images", choices=IMAGE_SOURCES, default="auto",
                   help="auto: this library's GAN once it learned from 300+ covers, else the covers (and "
                        "soundprints for tracks without one); gan: the GAN, trained quickly if needed")  # fmt: skip
    p.add_argument("--train-minutes", type=float, default=2.0, help="budget for --images gan training")
    p.add_argument("--title", default=None)
    p.add_argument("--seed", type=int, default=0, help="random seed of the image walk")
    p.add_argument("--no-compare", action="store_true", help="skip the feature-set comparison")
    p.add_argument("--mix", metavar="AUDIO", help="also render the continuous mix")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_mixtape)
