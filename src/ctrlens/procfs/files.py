"""Bounded, non-blocking reads of /proc files, safe on a crafted `--host-root` tree as well as on procfs.

A tree that is not the kernel's (a DaemonSet's view, a fixture, an attacker's directory) may hold a FIFO where
`cmdline` should be (an open would block forever), a symlink loop, a device, or a 100 MB file. Every read here:
opens with O_NONBLOCK|O_NOFOLLOW (a FIFO opens at once, a symlink is refused), checks with fstat that it is a
regular file (procfs files are), and reads at most `cap` bytes, saying whether there was more.
"""

from __future__ import annotations

import errno
import os
import stat

_O_READ = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY

# Caps per file. The kernel bounds argv+envp to 6 MiB in total (3/4 of an 8 MiB stack limit), and real
# status/stat/cgroup files are small; mountinfo grows with mounts (about 150 bytes each, 50,000 mounts fit).
CAP_DEFAULT = 8 << 20
CAP_CMDLINE = 1 << 20  # what the scan keeps of a command line (a reported cut beyond it)
CAP_SMALL = 1 << 16  # stat, status, cgroup, uid_map: a few hundred bytes on a real host
CHUNK = 1 << 16


class NotRegular(OSError):
    """A /proc entry that is not a regular file: a FIFO, socket, device or directory in a crafted tree."""


def open_regular(name: str, dir_fd: int | None = None) -> int:
    """An fd on `name` (relative to `dir_fd`), never blocking and never following a symlink; NotRegular for
    anything but a regular file, OSError as the kernel says otherwise."""
    fd = os.open(name, _O_READ, dir_fd=dir_fd)
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        os.close(fd)
        raise
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise NotRegular(errno.EINVAL, f"not a regular file ({_kind(mode)})", name)
    return fd


def read_fd(fd: int, cap: int) -> tuple[bytes, bool]:
    """At most `cap` bytes from `fd`, and whether the file held more."""
    chunks: list[bytes] = []
    total = 0
    while total <= cap:
        try:
            chunk = os.read(fd, min(CHUNK, cap + 1 - total))
        except BlockingIOError:
            break  # only non-regular files block, and those are refused before: treat as the end
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    data = b"".join(chunks)
    return (data[:cap], True) if len(data) > cap else (data, False)


def read_capped(name: str, dir_fd: int | None = None, cap: int = CAP_DEFAULT) -> tuple[bytes, bool]:
    """Open (`open_regular`) and read at most `cap` bytes of `name`: (data, truncated)."""
    fd = open_regular(name, dir_fd)
    try:
        return read_fd(fd, cap)
    finally:
        os.close(fd)


def read_small(name: str, dir_fd: int | None = None, cap: int = CAP_DEFAULT) -> bytes:
    """`read_capped` without the flag, for files whose tail never matters (their parsers stop early anyway)."""
    return read_capped(name, dir_fd, cap)[0]


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return name
    return "not a file"
