"""Syscalls Python 3.11's `os` lacks (setns and unshare arrived in 3.12), and the pidfd exit-status ioctl."""

from __future__ import annotations

import errno
import fcntl
import os
import struct

from ._libc import last_error
from ._libc import libc as _libc

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NS_FLAGS = {
    "mnt": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "net": CLONE_NEWNET,
    "pid": CLONE_NEWPID,
    "cgroup": CLONE_NEWCGROUP,
    "user": CLONE_NEWUSER,
    "time": CLONE_NEWTIME,
}

# PIDFD_GET_INFO = _IOWR(0xFF, 11, struct pidfd_info) with the 64-byte first version of the struct (6.13+).
PIDFD_GET_INFO = 0xC040FF0B
PIDFD_INFO_EXIT = 1 << 3
_PIDFD_INFO = struct.Struct(
    "<QQ" + "I" * 11 + "i"
)  # mask, cgroupid, pid, tgid, ppid, 8 ids, exit_code (6.15+)


def setns(fd: int, nstype: int) -> None:
    """setns(2). With a pidfd and several CLONE_NEW* flags (5.8+) it enters them all at once, or none."""
    if _libc.setns(fd, nstype) != 0:
        raise last_error()


def unshare(flags: int) -> None:
    if _libc.unshare(flags) != 0:
        raise last_error()


def pidfd_exit_status(pidfd: int) -> int | None:
    """The wait status of an exited process (even one that is not our child), or None (older kernel, still alive)."""
    buf = bytearray(_PIDFD_INFO.size)
    struct.pack_into("<Q", buf, 0, PIDFD_INFO_EXIT)
    try:
        fcntl.ioctl(pidfd, PIDFD_GET_INFO, buf, True)
    except OSError as exc:
        if exc.errno in (errno.ENOTTY, errno.EINVAL, errno.ESRCH, errno.EOPNOTSUPP):
            return None
        raise
    fields = _PIDFD_INFO.unpack(bytes(buf))
    mask, exit_code = fields[0], fields[13]
    return exit_code if mask & PIDFD_INFO_EXIT else None


def describe_wait_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        import signal

        try:
            name = signal.Signals(os.WTERMSIG(status)).name
        except ValueError:
            name = f"signal {os.WTERMSIG(status)}"
        return f"killed by {name}"
    if os.WIFEXITED(status):
        return f"exit code {os.WEXITSTATUS(status)}"
    return f"wait status {status:#x}"
