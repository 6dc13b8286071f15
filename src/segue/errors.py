"""Error types shared by every layer.

``UserError`` is anything the person can fix (a bad path, an unknown seed, a bad argument): the CLI
prints its message on one line and exits 1. Everything else is a bug and exits 2.
"""


class SegueError(Exception):
    """Base class of segue's own errors."""


class UserError(SegueError):
    """A problem the user can fix; its message is shown as it is, on one line."""


class DecodeError(SegueError):
    """An audio file could not be read or decoded; the message says why, on one line."""
