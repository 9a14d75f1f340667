"""SIGTERM during a copy unwinds like Ctrl-C, so temp files and half-made trees are removed before we die.

Python's default for SIGTERM kills the process on the spot, leaving a multi-GB temp file behind; SIGINT already
raises KeyboardInterrupt. Inside `terminating_cleanly()`, SIGTERM raises `Terminated`; once the cleanup has run,
the process ends by SIGTERM as it would have (exit status 143 in a shell).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: unwind (cleanup runs), then end by the signal."""


def _raise(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextlib.contextmanager
def terminating_cleanly() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
