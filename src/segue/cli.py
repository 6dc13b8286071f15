"""The ``segue`` command: the parser shell. Each sub-command lives in :mod:`segue.commands`
(one module per theme, discovered at start-up) and only parses, calls one
:class:`~segue.api.Library` method and prints.

Contract (ARCHITECTURE.md): JSON goes to stdout and nothing else does; progress and logs go to
stderr. Exit codes: 0 success, 1 user error (one clear line, no traceback), 2 internal error,
130 interrupted (finished work is saved).
"""

from __future__ import annotations

import argparse
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from segue import __version__
from segue.api import Library, UserError, user_error_for

#: Options whose value is a range that may start with a minus sign (``--loudness -16:-6``).
RANGE_OPTIONS = ("--loudness", "--bpm", "--duration", "--year")
_NEGATIVE_VALUE = re.compile(r"^-\d")


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; here 2 means a bug, so usage errors exit 1."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: global options, then every module of :mod:`segue.commands`."""
    from segue.commands import register_all

    parser = _Parser(
        prog="segue", description="Playlists, journeys and mixes from your music, by listening."
    )
    parser.add_argument("--version", action="version", version=f"segue {__version__}")
    parser.add_argument("--db", help="library database (default: $SEGUE_DB or the user data dir)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)  # fmt: skip
    register_all(sub)
    return parser


def join_negative_ranges(argv: Sequence[str]) -> list[str]:
    """``--loudness -16:-6`` as ``--loudness=-16:-6``: argparse would take a value starting
    with a minus sign for another option, so the README's form could not be typed."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg in RANGE_OPTIONS:
            value = next(it, None)
            if value is not None and _NEGATIVE_VALUE.match(value):
                out.append(f"{arg}={value}")
                continue
            out.append(arg)
            if value is not None:
                out.append(value)
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script passes it to sys.exit)."""
    parser = build_parser()
    args = parser.parse_args(join_negative_ranges(sys.argv[1:] if argv is None else argv))
    where = args.db or "the library"
    try:
        with Library.open(args.db) as lib:
            where = str(lib.path)
            return int(args.handler(lib, args))
    except UserError as exc:
        print(f"segue: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("segue: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last resort: a bug, reported as one
        problem = user_error_for(exc, where)  # a damaged or read-only library is not a bug
        if problem is not None:
            print(f"segue: {problem}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(f"segue: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
