"""The sub-commands of ``segue``, one module per theme (library, playlists, mix, art, ...).

Each module defines ``register(sub: argparse._SubParsersAction) -> None``, which adds its
sub-parsers and sets ``handler`` (``(Library, Namespace) -> int``) on each. :mod:`segue.cli`
(the parser shell) discovers the modules at start-up, so a feature adds its commands by adding
one file. A handler parses nothing itself beyond argparse, calls :class:`segue.api.Library`
and prints (JSON on stdout, words on stderr, see ``_output``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil

#: The order ``segue --help`` lists the themes in; modules not named here follow by name.
ORDER = ("library", "playlists", "evaluate", "mix", "art", "serve")


def register_all(sub: argparse._SubParsersAction) -> None:
    """Let every module in this package add its sub-commands."""
    names = [m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")]
    for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        importlib.import_module(f"{__name__}.{name}").register(sub)
