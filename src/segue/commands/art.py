"""``segue art train|sample``, ``segue map`` and ``segue mixtape``: the library as pictures."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from segue.errors import UserError


def _print_json(data: object) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _threads(args: argparse.Namespace) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def cmd_art_train(lib, args: argparse.Namespace) -> int:
    from segue.art.train import train_on_library

    _threads(args)
    path = train_on_library(
        lib, conditional=args.conditional, epochs=args.epochs,
        max_seconds=args.minutes * 60 if args.minutes and args.minutes > 0 else None, size=args.size,
        batch_size=args.batch_size, ngf=args.width, ndf=args.width, seed=args.seed, fresh=args.fresh,
        device=args.device,
    )  # fmt: skip
    print(f"checkpoint: {path}; samples in {path.parent / 'samples'}", file=sys.stderr)
    if args.json:
        _print_json({"checkpoint": str(path), "samples": str(path.parent / "samples")})
    return 0


def cmd_art_sample(lib, args: argparse.Namespace) -> int:
    import numpy as np

    from segue.art.images import find_checkpoint, gan_dir
    from segue.art.train import sample_to_folder

    _threads(args)
    if args.checkpoint:
        ckpt = Path(args.checkpoint)
    elif args.unconditional:
        ckpt = gan_dir("default") / "checkpoint.pt"
    else:
        ckpt = find_checkpoint()
    if ckpt is None or not ckpt.exists():
        raise UserError("no trained GAN yet: run 'segue art train' first")
    tags = None
    if args.like:
        row, _ = lib.seed_vector(args.like)
        if row is None:
            raise UserError("--like needs a track in the library")
        tid = int(lib.catalog().ids[row])
        track = lib.store.track(tid)
        vec = lib.store.vector(track.audio_hash, "musicnn", "tags_msd")
        tags = np.repeat(vec[None, :], args.n, axis=0)
    made = sample_to_folder(ckpt, args.n, Path(args.output), tags, seed=args.seed, device=args.device)
    print(f"wrote {len(made)} images and grid.png to {args.output}", file=sys.stderr)
    if args.json:
        _print_json(made)
    return 0


def cmd_map(lib, args: argparse.Namespace) -> int:
    from segue.art.map_html import build_map

    info = build_map(lib, Path(args.output), method=args.method, progress=True)
    print(f"wrote {info['path']}: {info['placed']}/{info['tracks']} tracks placed, "
          f"{info['covers']} covers, {info['bytes'] / 1e6:.1f} MB", file=sys.stderr)  # fmt: skip
    if args.json:
        _print_json(info)
    return 0


def render_mix(lib, rows: list[int], path: Path, cover: Path | None = None) -> Path:
    """``mixtape --mix``: the playlist rendered as one continuous mix, the mixtape's cover on it."""
    from segue.commands.mix import mix_rows

    art = cover.read_bytes() if cover is not None and cover.exists() else None
    return mix_rows(lib, rows, str(path), title=path.stem, cover=art).output


def cmd_mixtape(lib, args: argparse.Namespace) -> int:
    from segue.art.mixtape import make_mixtape

    if args.minutes is not None and args.minutes <= 0:
        raise UserError(f"--minutes must be positive, got {args.minutes}")
    minutes = None if (args.n is not None and args.minutes is None) else (args.minutes or 60.0)
    summary = make_mixtape(
        lib, args.seeds, Path(args.output), n=args.n, minutes=minutes, images=args.images,
        title=args.title, seed=args.seed, train_minutes=args.train_minutes, compare=not args.no_compare,
    )  # fmt: skip
    if args.mix:
        rows = [lib.catalog().index_of(t["id"]) for t in summary["tracks"]]
        summary["mix"] = str(render_mix(lib, rows, Path(args.mix), Path(args.output) / "cover.png"))
    print(f"wrote {args.output}: {len(summary['tracks'])} tracks, images from {summary['images']}",
          file=sys.stderr)  # fmt: skip
    if args.json:
        _print_json(summary)
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
    t.add_argument("--size", type=int, default=64, help="image size: 32, 64 (default), 128 …")
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--width", type=int, default=32, help="base channel count of both nets (DCGAN: 64)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--fresh", action="store_true", help="start over instead of resuming")
    t.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1 …")
    t.add_argument("--threads", type=int, default=None, help="CPU threads for torch")
    t.add_argument("--json", action="store_true")
    t.set_defaults(handler=cmd_art_train)

    s = asub.add_parser("sample", help="generate images from the trained GAN")
    s.add_argument("-n", type=int, default=16)
    s.add_argument("-o", "--output", default="samples", help="folder for the PNGs (default ./samples)")
    s.add_argument("--like", metavar="SEED", help="condition on this track's sound")
    s.add_argument("--checkpoint", help="a checkpoint file (default: the library's)")
    s.add_argument("--unconditional", action="store_true", help="use the unconditional model")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=None)
    s.add_argument("--json", action="store_true")
    s.set_defaults(handler=cmd_art_sample)

    p = sub.add_parser("map", help="an interactive HTML map of the whole library")
    p.add_argument("-o", "--output", required=True, metavar="FILE.html")
    p.add_argument("--method", choices=("tsne", "umap"), default="tsne")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_map)

    p = sub.add_parser("mixtape", help="playlist, poster, cover and feature-set comparison in a folder")
    p.add_argument("seeds", nargs="+", metavar="SEED")
    p.add_argument("--minutes", type=float, default=None, help="target length (default 60, or none with -n)")
    p.add_argument("-n", type=int, default=None, help="new tracks after the seeds")
    p.add_argument("-o", "--output", required=True, metavar="DIR")
    p.add_argument("--images", choices=("auto", "gan", "covers"), default="auto",
                   help="auto: the trained GAN if any, else covers; gan: train a quick one if needed")  # fmt: skip
    p.add_argument("--train-minutes", type=float, default=2.0, help="budget for --images gan training")
    p.add_argument("--title", default=None)
    p.add_argument("--seed", type=int, default=0, help="random seed of the image walk")
    p.add_argument("--no-compare", action="store_true", help="skip the feature-set comparison")
    p.add_argument("--mix", metavar="AUDIO", help="also render the continuous mix")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_mixtape)
