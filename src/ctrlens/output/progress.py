"""A one-line progress counter on stderr, only when stderr is a terminal (never in pipes, logs or tests)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from ..text import safe_text


class Progress:
    """`update("walking", 1200)` rewrites one line at most 10 times a second; `done()` clears it."""

    def __init__(self, label: str, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.label = safe_text(label)
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._last = 0.0
        self._shown = False

    def update(self, what: str, count: int | None = None, total: int | None = None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1:
            return
        self._last = now
        numbers = "" if count is None else f" {count}" + (f"/{total}" if total else "")
        self.stream.write(f"\r\033[K{self.label}: {safe_text(what)}{numbers}")
        self.stream.flush()
        self._shown = True

    def counter(self, what: str) -> Callable[[int], None]:
        return lambda count: self.update(what, count)

    def done(self) -> None:
        if self._shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._shown = False
