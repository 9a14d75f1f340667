"""Host-wide /proc reads by path (not through a `ProcHandle`): a host process's file when no pidfd is needed
(the bounding set of PID 1, kthreadd's mount table), and /proc/stat. Unreadable or vanished: None."""

from __future__ import annotations

from .files import read_small
from .parse import MountEntry, parse_mountinfo

FILE_LIMIT = 16 << 20  # a host mountinfo with thousands of mounts stays far below this


def read_pid_file(proc: str, pid: int | str, name: str) -> bytes | None:
    """`<proc>/<pid>/<name>` (pid may be "self"), or None."""
    return _read(f"{proc}/{pid}/{name}")


def host_mount_table(proc: str, *, self_is_host: bool) -> list[MountEntry]:
    """The mount table of the host's mount namespace: kthreadd never leaves it; /proc/1 may be locked;
    our own only when we run in the host's namespaces (`self_is_host`)."""
    for pid in ("2", "1", "self"):
        if pid == "self" and not self_is_host:
            break
        data = read_pid_file(proc, pid, "mountinfo")
        if data:
            return parse_mountinfo(data)
    return []


def boot_time(proc: str) -> float | None:
    """When the host booted (epoch seconds), from /proc/stat's btime."""
    data = _read(f"{proc}/stat") or b""
    for line in data.splitlines():
        if line.startswith(b"btime "):
            try:
                return float(line.split()[1])
            except (IndexError, ValueError):
                return None
    return None


def _read(path: str) -> bytes | None:
    try:
        return read_small(path, cap=FILE_LIMIT)  # never blocks on a crafted host root's FIFO
    except OSError:
        return None
