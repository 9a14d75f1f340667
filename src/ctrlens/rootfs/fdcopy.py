"""Copying bytes between two open fds in the kernel: copy_file_range, else sendfile, else big read/write."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator

CHUNK = 1 << 30  # per syscall: the kernel caps it anyway; fewer round trips
BUFFER = 1 << 20
RANGE_CHUNK = (
    64 << 20
)  # sparse copies: the space guard runs between chunks, so a chunk is what it can overshoot
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


# --- sparse copies of a bounded length -----------------------------------------------------------------------


def data_extents(fd: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the data in the first `size` bytes of `fd` (SEEK_DATA/SEEK_HOLE); holes are skipped.
    A filesystem that cannot tell gives one extent: all of it."""
    offset = 0
    while offset < size:
        try:
            start = os.lseek(fd, offset, os.SEEK_DATA)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                return  # only a hole (or the end of the file) from here
            if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
                raise
            yield offset, size
            return
        if start >= size:
            return
        try:
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        except OSError:
            end = size
        if end <= start:
            return
        yield start, end
        offset = end


def copy_sparse(src: int, dst: int, size: int, *, check: Check | None = None) -> int:
    """Copy the first `size` bytes of `src` into the empty file `dst` at the same offsets, data extents only,
    so holes stay holes; returns the bytes of data written. The caller sets the final length (ftruncate)."""
    written = 0
    for start, end in data_extents(src, size):
        written += _copy_range(src, dst, start, end - start, check)
    return written


def _copy_range(src: int, dst: int, offset: int, length: int, check: Check | None) -> int:
    done = 0
    try:
        while done < length:
            n = os.copy_file_range(src, dst, min(RANGE_CHUNK, length - done), offset + done, offset + done)
            if n == 0:
                return done  # the file shrank
            done += n
            if check:
                check()
        return done
    except OSError as exc:
        if exc.errno not in _FALLBACK:
            raise
    os.lseek(dst, offset + done, os.SEEK_SET)
    try:
        while done < length:
            n = os.sendfile(dst, src, offset + done, min(RANGE_CHUNK, length - done))
            if n == 0:
                return done
            done += n
            if check:
                check()
        return done
    except OSError as exc:
        if exc.errno not in _FALLBACK:
            raise
    while done < length:
        data = os.pread(src, min(BUFFER, length - done), offset + done)
        if not data:
            return done
        os.pwrite(dst, data, offset + done)
        done += len(data)
        if check:
            check()
    return done


def allocated_bytes(st: os.stat_result) -> int:
    """What copying a file can write at most: its allocated blocks, never more than its size (holes excluded)."""
    return min(st.st_size, st.st_blocks * 512)
