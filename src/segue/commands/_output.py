"""What every command prints the same way: JSON on stdout, words on stderr, track lines."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def print_json(data: object) -> None:
    """JSON on stdout (the only thing a command writes there)."""
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def say(text: str) -> None:
    """A line for the person, on stderr."""
    print(text, file=sys.stderr)


def print_rows(rows: list[dict[str, Any]], with_score: bool = False) -> None:
    """Numbered ``Artist - Title (id N)`` lines on stdout, optionally with the similarity."""
    for i, r in enumerate(rows, 1):
        score = f"  {r['similarity']:.3f}" if with_score and "similarity" in r else ""
        print(f"{i:>3}. {r['artist'] or '?'} - {r['title'] or '?'}  (id {r['id']}){score}")


def _whole_number(text: str, least: int, rule: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{rule}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    return _whole_number(text, 1, "must be at least 1")


def non_negative_int(text: str) -> int:
    """argparse type: a whole number >= 0."""
    return _whole_number(text, 0, "must be 0 or more")
