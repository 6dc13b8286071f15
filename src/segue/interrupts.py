"""Ctrl-C taken at safe points of a long loop instead of wherever the signal lands.

Python raises KeyboardInterrupt at the next bytecode after SIGINT; when that bytecode runs
inside a callback from C or a destructor, the exception is reported as "ignored" and lost,
and the work runs on as if no Ctrl-C had come. An interrupted mix render once exited 0 in a
clean-clone test run (not reproduced in dozens of tries since; this is the likeliest cause).
Here the signal only sets a flag, and the loop raises KeyboardInterrupt itself at its next
check, wherever the signal landed.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class InterruptFlag:
    """Set by SIGINT while :func:`interrupts_at_checks` is active."""

    def __init__(self) -> None:
        self.raised = False

    def check(self) -> None:
        """Raise KeyboardInterrupt if Ctrl-C came since the loop began."""
        if self.raised:
            raise KeyboardInterrupt


@contextmanager
def interrupts_at_checks() -> Iterator[InterruptFlag]:
    """Within the block, SIGINT sets the returned flag instead of raising; call its
    ``check()`` at safe points (a Ctrl-C after the last check is dropped: the work it would
    have stopped is done). Outside the main thread (where Python delivers no signals) or
    when SIGINT is not Python's default handler (someone else owns it), nothing changes."""
    flag = InterruptFlag()
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):  # fmt: skip
        yield flag
        return

    def handler(signum: int, frame: object) -> None:
        flag.raised = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
