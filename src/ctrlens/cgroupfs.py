"""The cgroup filesystem, read in one place: where the hierarchies are mounted, where a container's cgroup
directory is per controller, and its CPU and memory counters. Every path goes through `Host` (--host-root).

Hosts mount cgroups three ways: v1 only (`/sys/fs/cgroup/<controllers>/`), hybrid (v1 controllers plus an empty
v2 tree at `/sys/fs/cgroup/unified`) and v2 only (`/sys/fs/cgroup/`). A v1 controller, when the process has a
line for it, is where the kernel charges that resource; otherwise the v2 files (cpu.stat exists in v2 even when
the cpu controller is off). Paths are taken per controller from the container's init `/proc/PID/cgroup`, since
on hybrid hosts the hierarchies may place a process differently.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .host import Host
from .procfs.files import read_small
from .procfs.parse import CgroupLine

V1 = "v1"
V2 = "v2"
_UNLIMITED_V1 = 1 << 62  # v1 reports "no limit" as PAGE_COUNTER_MAX * page size, just under 2**63
CGROUP_BASE = "/sys/fs/cgroup"
VALUE_LIMIT = 4096  # a cgroupfs value file (limits, pids.max…) is one short line


@dataclass(slots=True, frozen=True)
class CgroupLayout:
    """Where the hierarchies are mounted, as host paths (give them to `Host.path`)."""

    v1: dict[str, str]  # controller -> host path of its hierarchy's mount ("name=systemd" included)
    v2: str | None  # host path of the cgroup2 mount


def discover_layout(host: Host) -> CgroupLayout:
    """v1 hierarchies at /sys/fs/cgroup/<controller>; v2 at /sys/fs/cgroup/unified (hybrid) or /sys/fs/cgroup."""
    base = CGROUP_BASE
    v2 = None
    for candidate in (f"{base}/unified", base):
        if os.path.exists(host.path(f"{candidate}/cgroup.controllers")):
            v2 = candidate
            break
    v1: dict[str, str] = {}
    if v2 == base:
        return CgroupLayout(v1, v2)  # a pure v2 host: the directories under it are cgroups, not hierarchies
    try:
        names = sorted(os.listdir(host.path(base)))
    except OSError:
        names = []
    for name in names:
        if name == "unified" or not os.path.isdir(host.path(f"{base}/{name}")):
            continue
        # "cpu,cpuacct" serves both; a "cpuacct" symlink to it is equally good.
        for controller in name.split(","):
            v1.setdefault(controller, f"{base}/{name}")
    if "systemd" in v1:
        v1.setdefault("name=systemd", v1["systemd"])
    return CgroupLayout(v1, v2)


@dataclass(slots=True, frozen=True)
class CgroupDir:
    path: str  # host path of the container's directory, e.g. /sys/fs/cgroup/memory/docker/<id>
    root: str  # host path of the hierarchy's mount
    version: int  # 1 or 2

    def ancestors(self) -> list[str]:
        """The directory, then its parents up to (and including) the hierarchy root."""
        found, path = [self.path], self.path
        while path != self.root and path.startswith(self.root + "/"):
            path = posixpath.dirname(path)
            found.append(path)
        return found


def controller_dir(
    layout: CgroupLayout,
    lines: Iterable[CgroupLine],
    controller: str,
    probe: str,
    exists: Callable[[str], bool],
) -> CgroupDir | None:
    """A process's directory for `controller`, from its /proc/PID/cgroup `lines`. On hybrid hosts a controller
    is in exactly one hierarchy: the v1 line naming it wins; v2 is used only when `exists(<dir>/<probe>)`
    (`probe` is a file the controller puts there: memory.max…)."""
    lines = list(lines)
    for line in lines:
        if line.hierarchy != 0 and controller in line.controllers.split(","):
            mount = layout.v1.get(controller) or layout.v1.get(line.controllers)
            if mount is None:
                return None
            return CgroupDir(_join(mount, line.path), mount, 1)
    if layout.v2 is not None:
        for line in lines:
            if line.hierarchy == 0:
                found = CgroupDir(_join(layout.v2, line.path), layout.v2, 2)
                return found if exists(f"{found.path}/{probe}") else None
    return None


def read_value(host: Host, host_path: str) -> str | None:
    """A cgroupfs value file's text (stripped), or None when it cannot be read."""
    try:  # non-blocking and regular files only: a crafted host root's FIFO is unreadable, not a hang
        return read_small(host.path(host_path), cap=VALUE_LIMIT).decode("utf-8", "replace").strip()
    except OSError:
        return None


def _join(mount: str, path: str) -> str:
    path = posixpath.normpath("/" + path.lstrip("/"))
    return mount if path == "/" else mount.rstrip("/") + path


@dataclass(slots=True, frozen=True)
class CgroupFiles:
    """The files to read for one container; None where the host has no such counter."""

    cpu: str | None  # v1 cpuacct.usage (ns) or v2 cpu.stat (usage_usec)
    cpu_version: str | None
    memory: str | None  # v1 memory.usage_in_bytes or v2 memory.current
    memory_stat: str | None  # for the inactive page cache, which `docker stats` leaves out
    memory_version: str | None
    memory_limit: int | None  # bytes, None when unlimited or unknown


class CgroupMounts:
    """The cgroup mount points of a host as paths on this machine (under --host-root), found once."""

    def __init__(self, host: Host, layout: CgroupLayout | None = None) -> None:
        self.layout = layout or discover_layout(host)
        self.base = host.path(CGROUP_BASE)
        self.v1: dict[str, str] = {
            c: host.path(m) for c, m in self.layout.v1.items() if not c.startswith("name=")
        }
        self.v2: str | None = host.path(self.layout.v2) if self.layout.v2 else None

    def locate(self, lines: list[CgroupLine], fallback_path: str) -> CgroupFiles:
        """The counter files for a process whose /proc/PID/cgroup reads `lines` (`fallback_path` if empty)."""
        v1_paths: dict[str, str] = {}
        v2_path = None
        for line in lines:
            if line.hierarchy == 0:
                v2_path = line.path
            else:
                for controller in line.controllers.split(","):
                    v1_paths[controller] = line.path
        if not lines:
            v2_path = fallback_path
            v1_paths = {"cpuacct": fallback_path, "memory": fallback_path}
        cpu, cpu_version = self._v1_file("cpuacct", v1_paths, "cpuacct.usage"), V1
        if cpu is None:
            cpu, cpu_version = self._v2_file(v2_path, "cpu.stat"), V2
        memory = self._v1_file("memory", v1_paths, "memory.usage_in_bytes")
        if memory is not None:
            directory = os.path.dirname(memory)
            limit = _read_int(f"{directory}/memory.limit_in_bytes")
            return CgroupFiles(
                cpu,
                cpu_version if cpu else None,
                memory,
                f"{directory}/memory.stat",
                V1,
                limit if limit is not None and limit < _UNLIMITED_V1 else None,
            )
        memory = self._v2_file(v2_path, "memory.current")
        if memory is not None:
            directory = os.path.dirname(memory)
            return CgroupFiles(
                cpu,
                cpu_version if cpu else None,
                memory,
                f"{directory}/memory.stat",
                V2,
                _read_int(f"{directory}/memory.max"),
            )
        return CgroupFiles(cpu, cpu_version if cpu else None, None, None, None, None)

    def value_files(
        self, lines: list[CgroupLine], fallback_path: str, controller: str, name: str
    ) -> list[str]:
        """Where a process's `controller` file `name` (pids.max…) may be, in order: its v1 hierarchy, else the
        v2 tree (`fallback_path` when `lines` is empty)."""
        candidates = []
        for line in lines:
            if line.hierarchy and controller in line.controllers.split(",") and controller in self.v1:
                candidates.append(f"{self.v1[controller]}{line.path.rstrip('/')}/{name}")
            elif line.hierarchy == 0 and self.v2:
                candidates.append(f"{self.v2}{line.path.rstrip('/')}/{name}")
        if not lines and self.v2:
            candidates.append(f"{self.v2}{fallback_path.rstrip('/')}/{name}")
        return candidates

    def _v1_file(self, controller: str, paths: dict[str, str], name: str) -> str | None:
        mount = self.v1.get(controller)
        path = paths.get(controller)
        if mount is None or path is None:
            return None
        candidate = f"{mount}{path.rstrip('/')}/{name}"
        return candidate if os.path.exists(candidate) else None

    def _v2_file(self, path: str | None, name: str) -> str | None:
        if self.v2 is None or path is None:
            return None
        candidate = f"{self.v2}{path.rstrip('/')}/{name}"
        return candidate if os.path.exists(candidate) else None


def read_bytes(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return os.read(fd, 16384)
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_int(path: str) -> int | None:
    data = read_bytes(path)
    if data is None:
        return None
    try:
        return int(data)
    except ValueError:
        return None  # "max"


def cpu_usage_ns(path: str, version: str) -> int | None:
    """Total CPU time the cgroup has used, in nanoseconds."""
    data = read_bytes(path)
    if data is None:
        return None
    try:
        if version == V1:
            return int(data)
        value = stat_value(data, b"usage_usec")
        return value * 1000 if value is not None else None
    except ValueError:
        return None


def memory_in_use(files: CgroupFiles) -> int | None:
    """Memory charged to the cgroup minus the inactive page cache: the figure `docker stats` shows."""
    used = memory_usage(files)
    if used is None:
        return None
    inactive = inactive_file(files)
    return used - inactive if inactive is not None and inactive < used else used


def memory_usage(files: CgroupFiles) -> int | None:
    """Memory charged to the cgroup, page cache included."""
    return _read_int(files.memory) if files.memory else None


def inactive_file(files: CgroupFiles) -> int | None:
    """Inactive page cache, which `docker stats` leaves out of the figure it shows (reclaimable at once)."""
    stat = read_bytes(files.memory_stat) if files.memory_stat else None
    if not stat:
        return None
    return stat_value(stat, b"total_inactive_file" if files.memory_version == V1 else b"inactive_file")


def stat_value(data: bytes, key: str | bytes) -> int | None:
    """The number after `key` in a "key value" per line file (cpu.stat, memory.stat)."""
    key = key.encode() if isinstance(key, str) else key
    start = 0 if data.startswith(key + b" ") else data.find(b"\n" + key + b" ")
    if start < 0:
        return None
    if start:
        start += 1
    end = data.find(b"\n", start)
    try:
        return int(data[start + len(key) + 1 : end if end >= 0 else None])
    except ValueError:
        return None
