"""Reading what a process exposes: environ, cmdline and the credentials that decide who else can read them.

Every read goes through one `ProcHandle` (pidfd + /proc/PID dirfd), and liveness is checked through the pidfd
AFTER the reads: `environ` returns b'' silently once the process has exited (host-facts §3), so a process that
exits mid-read is discarded (None), never reported as having an empty environment.
"""

from __future__ import annotations

import fcntl
import os
import struct
from dataclasses import dataclass, field

from ..errors import ProcessGone
from ..procfs import ProcHandle, parse_cmdline, parse_environ, parse_mountinfo, status_ids
from .readers import INIT_USER_NS, Creds

NS_GET_OWNER_UID = 0xB704  # _IO(0xb7, 0x4): uid of the user namespace's creator


@dataclass(slots=True)
class ProcessData:
    pid: int
    comm: str
    creds: Creds
    environ: list[tuple[str, str]] = field(default_factory=list, repr=False)
    argv: list[str] = field(default_factory=list, repr=False)


def read_process(pid: int, proc: str = "/proc", *, contents: bool = True) -> ProcessData | None:
    """Credentials (and, with `contents`, environ and argv) of one process; None when it exited meanwhile.
    Raises PermissionDenied when /proc refuses (not root)."""
    try:
        with ProcHandle(pid, proc) as handle:
            status = handle.status()
            environ = parse_environ(handle.read("environ")) if contents else []
            argv = parse_cmdline(handle.read("cmdline")) if contents else []
            creds = _creds(handle, status)
            handle.ensure_alive()
    except ProcessGone:
        return None
    return ProcessData(pid, status.get("Name", ""), creds, environ, argv)


def _creds(handle: ProcHandle, status: dict[str, str]) -> Creds:
    uids = _four(status.get("Uid", ""))
    gids = _four(status.get("Gid", ""))
    user_ns = handle.namespace("user")
    return Creds(
        uids=uids,
        gids=gids,
        cap_eff=int(status.get("CapEff", "0"), 16),
        cap_prm=int(status.get("CapPrm", "0"), 16),
        user_ns=user_ns,
        pid_ns=handle.namespace("pid"),
        dumpable=_dumpable(handle, uids[1], gids[1]),
        userns_owner=None if user_ns in (None, INIT_USER_NS) else _userns_owner(handle),
    )


def _four(value: str) -> tuple[int, int, int, int]:
    ids = status_ids(value) if value else ()
    if len(ids) != 4:
        return (-1, -1, -1, -1)  # matches no reader but root
    return (ids[0], ids[1], ids[2], ids[3])


def _dumpable(handle: ProcHandle, euid: int, egid: int) -> bool:
    """The kernel gives /proc/PID files to the euid/egid only while the process is dumpable, else to root
    (task_dump_owner). For euid 0 the owner says nothing, and nothing needs it: only root reads those."""
    try:
        st = os.stat("environ", dir_fd=handle.dirfd)
    except OSError:
        return False
    return (st.st_uid, st.st_gid) == (euid, egid)


def _userns_owner(handle: ProcHandle) -> int | None:
    try:
        fd = os.open("ns/user", os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=handle.dirfd)
    except OSError:
        return None
    try:
        buf = bytearray(4)
        fcntl.ioctl(fd, NS_GET_OWNER_UID, buf)
        return int(struct.unpack("I", buf)[0])
    except OSError:
        return None
    finally:
        os.close(fd)


def proc_hides_pids(proc: str = "/proc") -> bool:
    """True when `proc` is mounted with hidepid (1/2, noaccess/invisible): then other users' command lines
    need the same ptrace check as their environment."""
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            mounts = parse_mountinfo(f.read())
        target = os.path.realpath(proc)
    except OSError:
        return False
    for mount in reversed(mounts):  # the last mount on a path is the visible one
        if mount.mount_point == target and mount.fstype == "proc":
            opt = mount.super_option("hidepid")
            return opt not in (None, "0", "off")
    return False
