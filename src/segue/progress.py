"""Progress lines on stderr for long work: count, rate and time left.

On a terminal the line redraws in place a few times a second; in a log (not a TTY) a line is
written every few seconds, so CI logs stay short. stdout is never touched: it belongs to --json.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Counts done items out of ``total`` and reports on stderr."""

    def __init__(
        self, total: int, label: str, unit: str = "files", stream: TextIO | None = None,
        enabled: bool = True,
    ) -> None:  # fmt: skip
        self.total = total
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.enabled = enabled and total > 0
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.2 if self.tty else 5.0
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last >= self.interval or self.done >= self.total):
            self._last = now
            self._write(self.line())

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        return (
            f"{self.label}: {self.done}/{self.total} {self.unit}  {rate:.1f} {self.unit}/s  "
            f"ETA {_clock(left)}"
        )

    def close(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _write(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def warn(text: str) -> None:
    """One warning line on stderr (stdout is kept for JSON)."""
    print(f"warning: {text}", file=sys.stderr)
