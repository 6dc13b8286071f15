"""Ctrl-C at safe points (segue.interrupts): the signal sets a flag, the loop raises."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from segue.interrupts import interrupts_at_checks


def test_sigint_waits_for_the_next_check_then_the_handler_is_back() -> None:
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), interrupts_at_checks() as ctrl_c:
            ctrl_c.check()  # nothing yet
            os.kill(os.getpid(), signal.SIGINT)  # delivered here, raised nowhere...
            reached = True
            ctrl_c.check()  # ...until here
        assert reached
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_the_main_thread_nothing_changes() -> None:
    seen = []

    def run() -> None:
        with interrupts_at_checks() as ctrl_c:
            seen.append(signal.getsignal(signal.SIGINT))
            ctrl_c.check()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [signal.getsignal(signal.SIGINT)]
