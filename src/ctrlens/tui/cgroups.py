"""Where a container's CPU and memory counters live in the cgroup filesystem, and how to read them.

Hosts mount cgroups three ways: v1 only (`/sys/fs/cgroup/<controllers>/`), hybrid (v1 controllers plus an empty
v2 tree at `/sys/fs/cgroup/unified`) and v2 only (`/sys/fs/cgroup/`). A v1 controller, when the process has a
line for it, is where the kernel charges that resource; otherwise the v2 files (cpu.stat exists in v2 even when
the cpu controller is off). Paths are taken per controller from the container's init `/proc/PID/cgroup`, since
on hybrid hosts the hierarchies may place a process differently.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..host import Host
from ..procfs.parse import CgroupLine

V1 = "v1"
V2 = "v2"
_UNLIMITED_V1 = 1 << 62  # v1 reports "no limit" as PAGE_COUNTER_MAX * page size, just under 2**63


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
    """The cgroup mount points under the host's /sys/fs/cgroup (honours --host-root), found once."""

    def __init__(self, host: Host) -> None:
        self.base = host.path("/sys/fs/cgroup")
        self.v1: dict[str, str] = {}  # controller -> mount directory
        self.v2: str | None = None
        if os.path.exists(f"{self.base}/cgroup.controllers"):
            self.v2 = self.base
            return
        if os.path.exists(f"{self.base}/unified/cgroup.controllers"):
            self.v2 = f"{self.base}/unified"
        try:
            names = sorted(os.listdir(self.base))
        except OSError:
            return
        for name in names:
            path = f"{self.base}/{name}"
            if name == "unified" or not os.path.isdir(path):
                continue
            # "cpu,cpuacct" serves both; a "cpuacct" symlink to it is equally good.
            for controller in name.split(","):
                self.v1.setdefault(controller, path)

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
