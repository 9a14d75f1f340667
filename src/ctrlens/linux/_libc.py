"""glibc, loaded once for the whole kernel layer."""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL("libc.so.6", use_errno=True)  # glibc by name: find_library would run ldconfig
libc.syscall.restype = ctypes.c_long


def last_error(path: bytes | str | None = None) -> OSError:
    """The OSError for the errno the last libc call left (ctypes keeps a private copy per thread)."""
    err = ctypes.get_errno()
    return OSError(err, os.strerror(err), path)
