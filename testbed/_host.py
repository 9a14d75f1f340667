"""Host-side plumbing for the testbed: processes, mounts and cgroups that belong to one state directory.

Everything here is best effort and never raises for a process or mount that vanished meanwhile: `down` must
work after a crash, when half of what it expects is already gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path

MNT_DETACH = 2


def log_tail(path: Path | str, lines: int = 25) -> str:
    """The last lines of a log file, for error messages ('' if there is none)."""
    try:
        data = Path(path).read_bytes()[-16384:]
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def wait_for(check: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    """Poll `check` until it is true or `timeout` seconds passed; returns the last result."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return True
        except OSError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def pid_alive(pid: int | None) -> bool:
    """True if `pid` runs (zombies count as dead; our own zombie children are reaped on the way)."""
    if not pid or pid <= 0:
        return False
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(
            errors="surrogateescape"
        )  # a container may put any bytes in comm
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


def _mentions(text: str, root: str) -> bool:
    """`root` appears in `text` as a path (followed by '/', end, or a separator), not as a prefix of another
    name."""
    start = 0
    while (i := text.find(root, start)) >= 0:
        end = i + len(root)
        if end == len(text) or text[end] in "/ ,:=\"'":
            return True
        start = end
    return False


def _ancestors() -> set[int]:
    """Our pid and every ancestor's: a `down` started by `python -m testbed down --state-dir DIR` must not
    kill itself."""
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        try:
            stat = Path(f"/proc/{pid}/stat").read_text(errors="surrogateescape")
            pid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


def belongs_to(pid: int | None, root: str) -> bool:
    """True if `pid` is alive and its command line names a path under `root` (guards against pid reuse)."""
    root = os.path.realpath(root)
    return bool(pid) and pid_alive(pid) and any(_mentions(a, root) for a in _cmdline(pid or 0))


def _root_in(pid: int, root: str, rootfs_inodes: set[tuple[int, int]]) -> bool:
    """True if the process's `/` is a container root kept under `root` (an overlay whose layers live there, or
    a directory there such as an LXC rootfs). Catches container processes whose command line says nothing."""
    try:
        st = os.stat(f"/proc/{pid}/root")
        if (st.st_dev, st.st_ino) in rootfs_inodes:
            return True
        with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 4 and fields[4] == "/" and _mentions(line.split(" - ", 1)[-1], root):
                    return True
    except (OSError, ValueError):
        pass
    return False


def _rootfs_inodes(root: str) -> set[tuple[int, int]]:
    """(dev, ino) of every LXC rootfs under `root`: `/proc/PID/root` of an LXC container is that very
    directory."""
    found = set()
    for rootfs in Path(root).glob("lxc/*/rootfs"):
        try:
            st = rootfs.stat()
            found.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    return found


def processes_of(root: str) -> list[int]:
    """Every process that belongs to the state dir `root`: engines, shims, conmon, LXC monitors, the demo's
    host nginx (their command lines name a path under it) and container processes (their `/` is under it)."""
    root = os.path.realpath(root)
    skip = _ancestors()
    inodes = _rootfs_inodes(root)
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in skip or pid == 1:
            continue
        args = _cmdline(pid)
        if any(_mentions(a, root) for a in args) or (args and _root_in(pid, root, inodes)):
            found.append(pid)
    return found


def signal_all(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop_process(pid: int | None, timeout: float) -> bool:
    """SIGTERM, wait up to `timeout`, then SIGKILL. True once the process is gone."""
    if not pid_alive(pid):
        return True
    assert pid is not None
    signal_all([pid], signal.SIGTERM)
    if wait_for(lambda: not pid_alive(pid), timeout):
        return True
    signal_all([pid], signal.SIGKILL)
    return wait_for(lambda: not pid_alive(pid), 5)


def kill_processes_of(root: str, rounds: int = 5) -> list[int]:
    """SIGKILL everything `processes_of(root)` finds, repeatedly (a dying shim may leave orphans behind).
    Returns the pids still alive afterwards (empty on success)."""
    left: list[int] = []
    for _ in range(rounds):
        pids = processes_of(root)
        if not pids:
            return []
        signal_all(pids, signal.SIGKILL)
        wait_for(functools.partial(_all_dead, pids), 5)
        left = [p for p in pids if pid_alive(p)]
    return left


def _all_dead(pids: list[int]) -> bool:
    return not any(pid_alive(p) for p in pids)


def _unescape(path: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_under(root: str) -> list[str]:
    """Mount points in our mount namespace at or below `root`, deepest first."""
    root = os.path.realpath(root)
    points = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                point = _unescape(line.split()[4])
                if _under(point, root):
                    points.append(point)
    except OSError:
        return []
    return sorted(points, key=lambda p: (p.count("/"), len(p)), reverse=True)


def unmount_under(root: str, rounds: int = 10) -> list[str]:
    """Lazily unmount everything at or below `root` (overlays, netns and shm binds, self-binds of data roots).
    Returns the mount points that remain (empty on success)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for _ in range(rounds):
        points = mounts_under(root)
        if not points:
            return []
        for point in points:
            libc.umount2(point.encode(), MNT_DETACH)
    return mounts_under(root)


def cgroup_roots() -> list[Path]:
    """The mount points of every cgroup hierarchy (v1 controllers and the v2 one)."""
    roots = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as f:
            for line in f:
                fstype = line.split(" - ", 1)[1].split()[0]
                if fstype in ("cgroup", "cgroup2"):
                    roots.append(Path(_unescape(line.split()[4])))
    except (OSError, IndexError):
        pass
    return roots


def remove_cgroup(path: str, parents: int = 0) -> None:
    """rmdir the cgroup `path` (e.g. '/docker/<id>') in every hierarchy, then up to `parents` of its parents.
    rmdir only succeeds on an empty cgroup, so nothing in use is ever removed."""
    rel = path.strip("/")
    if not rel:
        return
    for top in cgroup_roots():
        target = top / rel
        for _ in range(parents + 1):
            if target == top:
                break
            try:
                target.rmdir()
            except FileNotFoundError:
                pass  # runc removed the leaf already; its parents may still be ours to remove
            except OSError:
                break  # busy or not empty: in use, leave it and everything above
            target = target.parent
