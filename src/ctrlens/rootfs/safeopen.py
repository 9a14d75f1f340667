"""Turning an O_PATH fd into a usable one without ever opening a device, FIFO or socket (host-facts §1).

The pattern: resolve to an O_PATH fd (no open side effects), fstat it, insist on the file type, then reopen
the SAME inode through /proc/self/fd/N. The reopen follows our own fd, never a path the container controls.
"""

from __future__ import annotations

import os
import stat

from ..linux.fs import pseudo_fs_name
from .errors import UnsafeFile, kind_name

_RD_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


def check_regular(fd: int, shown: str, *, verb: str = "read", allow_pseudo: bool = False) -> os.stat_result:
    """fstat an O_PATH fd and refuse anything but a regular file with data in it."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFile(f"refusing to {verb} {shown}: {kind_name(st.st_mode)}")
    if not allow_pseudo:
        fs = pseudo_fs_name(fd)
        if fs is not None:
            # /proc/kmsg, /proc/kcore… are S_ISREG but are host kernel interfaces: they block, leak or are huge.
            raise UnsafeFile(
                f"refusing to {verb} {shown}: a {fs} file (kernel interface, not container data)"
            )
    return st


def reopen(path_fd: int, flags: int, expect: os.stat_result | None = None) -> int:
    """Open the inode behind an O_PATH fd with real access `flags` (never O_CREAT/O_TRUNC: check first)."""
    fd = os.open(f"/proc/self/fd/{path_fd}", flags | os.O_CLOEXEC | os.O_NOCTTY)
    if expect is not None:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != (expect.st_dev, expect.st_ino):  # cannot happen; cheap to be sure
            os.close(fd)
            raise UnsafeFile("file changed identity while it was being opened")
    return fd


def reopen_dir(path_fd: int) -> int:
    """A readable directory fd from an O_PATH one ('.' relative to it: no path walk at all)."""
    return os.open(".", _RD_DIR, dir_fd=path_fd)


def open_path_at(dirfd: int, name: bytes) -> int:
    """O_PATH fd of one directory entry, not following it (a single name cannot leave `dirfd`)."""
    return os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dirfd)


def open_regular_at(
    dirfd: int, name: bytes, shown: str, flags: int = os.O_RDONLY, *, allow_pseudo: bool = False
) -> tuple[int, os.stat_result]:
    """Open entry `name` of `dirfd` as a regular file; refuses symlinks, devices, FIFOs, sockets."""
    pfd = open_path_at(dirfd, name)
    try:
        st = check_regular(pfd, shown, allow_pseudo=allow_pseudo)
        return reopen(pfd, flags, st), st
    finally:
        os.close(pfd)


def open_dir_at(dirfd: int, name: bytes) -> int:
    """Readable fd of subdirectory `name`; a symlink there gives ELOOP/ENOTDIR, a device ENOTDIR (never opened)."""
    return os.open(name, _RD_DIR | os.O_NOFOLLOW, dir_fd=dirfd)
