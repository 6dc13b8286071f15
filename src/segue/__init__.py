"""segue: playlists, journeys and mixes from your own music, made by listening to it.

The public API is :func:`open_library`, which returns a :class:`~segue.api.Library`; the CLI and
the web app are thin faces over it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from segue.api import Library


def open_library(path: str | None = None) -> Library:
    """Open (creating if needed) the library database at ``path`` or the default location."""
    from segue.api import Library

    return Library.open(path)


__all__ = ["open_library", "__version__"]
