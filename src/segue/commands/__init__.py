"""Sub-commands that live beside :mod:`segue.cli` rather than inside it.

Each module here defines ``register(sub: argparse._SubParsersAction) -> None``, which adds its
sub-parsers and sets ``handler`` (``(Library, Namespace) -> int``) on each, exactly like the
commands in :mod:`segue.cli`. The CLI discovers the modules at start-up, so a feature (mixes,
the web app, art) adds its commands by adding one file, and ``cli.py`` stays small.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def register_all(sub: argparse._SubParsersAction) -> None:
    """Let every module in this package add its sub-commands, in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
