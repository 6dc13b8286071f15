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


class TrackNotFound(UserError):
    """A track id that is not (or no longer, or not yet) in the analysed library (HTTP 404)."""


class NotReady(UserError):
    """The library has nothing analysed yet for what was asked (HTTP 409)."""


class UnsupportedAudio(UserError):
    """A file given as audio that is not audio segue can read, or cannot be decoded (HTTP 415)."""
