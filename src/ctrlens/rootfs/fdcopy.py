"""Copying bytes between two open fds in the kernel: copy_file_range, else sendfile, else big read/write."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable

CHUNK = 1 << 30  # per syscall: the kernel caps it anyway; fewer round trips
BUFFER = 1 << 20
_FALLBACK = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF, errno.ETXTBSY)

Check = Callable[[], None]


def copy_fd(src: int, dst: int, *, check: Check | None = None) -> int:
    """Copy from the current offset of `src` to EOF into `dst`. `check` runs between chunks (liveness)."""
    total = 0
    for method in (_copy_file_range, _sendfile, _read_write):
        try:
            return total + method(src, dst, check)
        except _Unsupported as exc:
            total += exc.done  # nothing was lost: carry on with the next method from where it stopped
    return total


class _Unsupported(Exception):
    def __init__(self, done: int) -> None:
        self.done = done


def _copy_file_range(src: int, dst: int, check: Check | None) -> int:
    # overlay -> ext4 is cross-filesystem: EXDEV on the first call, then sendfile takes over.
    return _in_kernel(lambda: os.copy_file_range(src, dst, CHUNK), check)


def _sendfile(src: int, dst: int, check: Check | None) -> int:
    return _in_kernel(lambda: os.sendfile(dst, src, None, CHUNK), check)


def _in_kernel(step: Callable[[], int], check: Check | None) -> int:
    """Repeat one in-kernel copy call until EOF; a call the kernel refuses for these fds raises _Unsupported."""
    done = 0
    while True:
        try:
            n = step()
        except OSError as exc:
            if exc.errno in _FALLBACK:
                raise _Unsupported(done) from None
            raise
        if n == 0:
            return done
        done += n
        if check:
            check()


def _read_write(src: int, dst: int, check: Check | None) -> int:
    done = 0
    buf = bytearray(BUFFER)
    view = memoryview(buf)
    while True:
        n = os.readv(src, [buf])
        if n == 0:
            return done
        written = 0
        while written < n:
            written += os.write(dst, view[written:n])
        done += n
        if check:
            check()


def write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
