"""Writing files so that a reader never sees half of one.

Every output segue writes (playlists, model caches, checkpoints, layouts, covers, mixes) goes
through :func:`atomic_path`: the data is written to a temporary file in the destination's own
folder (so the final rename never crosses a file system), flushed to disk, then moved over the
destination with :func:`os.replace`. A crash, an exception or Ctrl-C at any point leaves either
the old file or the new one, never a mixture, and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class AtomicFile:
    """A temporary file beside ``path`` that becomes ``path`` on :meth:`commit` (flushed to
    disk, ordinary permissions, one rename) or disappears on :meth:`discard`; for writers whose
    work spans several calls (an encoder fed block by block). :func:`atomic_path` is the same
    as a ``with`` block."""

    def __init__(self, path: str | os.PathLike[str], *, make_parents: bool = True,
                 suffix: str = ".tmp") -> None:  # fmt: skip
        self.target = Path(os.path.abspath(os.fspath(path)))
        if make_parents:
            self.target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=suffix,
                                    dir=self.target.parent)  # fmt: skip
        os.close(fd)
        #: Where to write meanwhile.
        self.tmp = Path(name)

    def commit(self) -> Path:
        """Put the written file in place of the target; returns the target."""
        try:
            with open(self.tmp, "rb") as written:  # data on disk before the name points at it
                os.fsync(written.fileno())
            os.chmod(self.tmp, 0o666 & ~_umask())  # mkstemp's file is private; ours are not
            os.replace(self.tmp, self.target)
        except BaseException:
            self.discard()
            raise
        return self.target

    def discard(self) -> None:
        """Remove the temporary file; the target is untouched."""
        with contextlib.suppress(OSError):
            self.tmp.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parents: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends normally it replaces ``path``.

    The caller writes the temporary file however it likes (a library that wants a file name,
    such as PyAV, safetensors or Pillow, included). The file gets ordinary permissions
    (``0o666`` less the umask, not mkstemp's private ``0o600``). On any exception the temporary
    file is removed and the destination is untouched.
    """
    atomic = AtomicFile(path, make_parents=make_parents)
    try:
        yield atomic.tmp
    except BaseException:
        atomic.discard()
        raise
    atomic.commit()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(os.path.abspath(os.fspath(path)))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` as UTF-8 with ``\\n`` line ends to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def writable_output(path: str | os.PathLike[str], *, folder: bool = False) -> Path:
    """``path`` made absolute, checked before any long work can start, for every output segue
    writes (playlists, mixes, maps, posters, samples).

    The rule, the same for every command: missing parent folders are created; the output
    itself must not be an existing folder (or, with ``folder=True``, an existing file), and
    the folder it goes into must be writable. Anything else is a one-line UserError.
    """
    from segue.errors import UserError

    target = Path(os.path.abspath(os.path.expanduser(os.fspath(path))))
    if folder:
        if target.exists() and not target.is_dir():
            raise UserError(f"cannot write into {target}: a file of that name exists")
        where = target
    else:
        if target.is_dir():
            raise UserError(f"cannot write {target}: it is a folder; give a file name")
        where = target.parent
    existing = where
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserError(f"cannot write {target}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into {existing}: permission denied (read-only)")
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create the folder {where}: {exc.strerror or exc}") from None
    if not os.access(where, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into {where}: permission denied (read-only)")
    if not folder and target.exists() and not os.access(target, os.W_OK):
        raise UserError(f"cannot overwrite {target}: permission denied (read-only)")
    return target
