"""CPU and memory per container (from its cgroup) and per process (from /proc/PID/stat), as rates between samples.

A plain library: `ResourceSampler(host).sample(snapshot)` after each scan. The first sample has no CPU figures
(a rate needs two readings). Used by `ctrlens top`; the exporter can use it the same way (no Textual here).
Process figures come from the scan's own read of /proc/PID/stat (utime, stime, rss): no second pass over /proc.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

from ..cgroupfs import CgroupFiles, CgroupMounts, cpu_usage_ns, inactive_file, memory_usage
from ..host import Host
from ..model import Container, Snapshot
from ..procfs.hostwide import read_pid_file
from ..procfs.parse import parse_cgroup
from ..runtimes import match_cgroup_path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# memory.stat is the dearest cgroup file (the kernel sums it on each read); page cache moves slowly.
MEMORY_STAT_EVERY = 5
PAGE_SIZE = resource.getpagesize()


@dataclass(slots=True)
class ProcessUsage:
    cpu_percent: float | None  # 100 = one CPU busy; None on the first sample of this process
    rss_bytes: int


@dataclass(slots=True)
class ContainerUsage:
    cpu_percent: float | None  # from the cgroup: every process in it, threads and exited children included
    memory_bytes: int | None  # charged to the cgroup, minus inactive page cache (as `docker stats`)
    memory_limit: int | None
    source: str  # "cgroup v1", "cgroup v2", or "processes" (sums of its processes' figures)
    process_count: int  # processes the scan attributed to the container


@dataclass(slots=True)
class Usage:
    processes: dict[int, ProcessUsage] = field(default_factory=dict)
    containers: dict[str, ContainerUsage] = field(default_factory=dict)
    interval: float | None = None  # seconds since the previous sample


class ResourceSampler:
    """Keeps the previous counters so each `sample` gives rates; forgets processes and containers that left."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.proc = host.proc
        self.mounts = CgroupMounts(host)
        self._last_time: float | None = None
        self._proc_ticks: dict[int, tuple[int, int]] = {}  # pid -> (start_ticks, cpu_ticks)
        self._ctr_ns: dict[str, tuple[str, int]] = {}  # container id -> (cpu file, usage ns)
        self._files: dict[str, tuple[int | None, CgroupFiles]] = {}  # container id -> (init pid, files)
        self._inactive: dict[str, tuple[int, int | None]] = {}  # container id -> (sample number, bytes)
        self._samples = 0

    def sample(self, snapshot: Snapshot) -> Usage:
        now = time.monotonic()
        interval = now - self._last_time if self._last_time is not None else None
        self._last_time = now
        usage = Usage(interval=interval)
        self._samples += 1
        usage.processes = self._sample_processes(snapshot, interval)
        usage.containers = {
            c.id: self._sample_container(c, interval, usage.processes) for c in snapshot.containers.values()
        }
        for gone in self._ctr_ns.keys() - snapshot.containers.keys():
            del self._ctr_ns[gone]
        for gone in self._files.keys() - snapshot.containers.keys():
            del self._files[gone]
        for gone in self._inactive.keys() - snapshot.containers.keys():
            del self._inactive[gone]
        return usage

    def _sample_processes(self, snapshot: Snapshot, interval: float | None) -> dict[int, ProcessUsage]:
        previous = self._proc_ticks
        current: dict[int, tuple[int, int]] = {}
        found: dict[int, ProcessUsage] = {}
        scale = 100.0 / (CLOCK_TICKS * interval) if interval else 0.0
        for pid, process in snapshot.processes.items():
            current[pid] = (process.start_ticks, process.cpu_ticks)
            before = previous.get(pid)
            cpu = None
            if (
                interval and before is not None and before[0] == process.start_ticks
            ):  # same process, not a reused PID
                cpu = max(process.cpu_ticks - before[1], 0) * scale
            found[pid] = ProcessUsage(cpu, process.rss_pages * PAGE_SIZE)
        self._proc_ticks = current
        return found

    def files_of(self, container: Container) -> CgroupFiles:
        """Where the container's counters are; looked up once per container (and again if its init changes)."""
        cached = self._files.get(container.id)
        if cached is not None and cached[0] == container.init_pid:
            return cached[1]
        lines = []
        if container.init_pid is not None:
            data = read_pid_file(self.proc, container.init_pid, "cgroup")
            lines = parse_cgroup(data) if data else []
        files = self.mounts.locate(lines, container.cgroup)
        self._files[container.id] = (container.init_pid, files)
        return files

    def _sample_container(
        self, container: Container, interval: float | None, processes: dict[int, ProcessUsage]
    ) -> ContainerUsage:
        if not owns_cgroup(container):
            return _summed(container, processes)
        files = self.files_of(container)
        cpu = None
        if files.cpu is not None and files.cpu_version is not None:
            used = cpu_usage_ns(files.cpu, files.cpu_version)
            before = self._ctr_ns.get(container.id)
            if used is not None:
                if interval and before is not None and before[0] == files.cpu:
                    cpu = max(used - before[1], 0) / (interval * 1e9) * 100.0
                self._ctr_ns[container.id] = (files.cpu, used)
        version = files.memory_version or files.cpu_version
        if version is None:
            return _summed(container, processes)
        return ContainerUsage(
            cpu,
            self._memory(container.id, files),
            files.memory_limit,
            f"cgroup {version}",
            len(container.pids),
        )

    def _memory(self, cid: str, files: CgroupFiles) -> int | None:
        used = memory_usage(files)
        if used is None:
            return None
        cached = self._inactive.get(cid)
        if cached is None or self._samples - cached[0] >= MEMORY_STAT_EVERY:
            cached = (self._samples, inactive_file(files))
            self._inactive[cid] = cached
        inactive = cached[1]
        return used - inactive if inactive is not None and inactive < used else used


def owns_cgroup(container: Container) -> bool:
    """True when the container's cgroup is its own: a runtime rule named it by this id. A container found by its
    private PID namespace alone may sit in a cgroup it shares with anything (even the root)."""
    if container.cgroup in ("", "/"):
        return False
    return any(m.id == container.id for m in match_cgroup_path(container.cgroup))


def _summed(container: Container, processes: dict[int, ProcessUsage]) -> ContainerUsage:
    """Figures from the container's processes (resident sets add up shared pages more than once)."""
    seen = [processes[pid] for pid in container.pids if pid in processes]
    cpus = [p.cpu_percent for p in seen if p.cpu_percent is not None]
    cpu = sum(cpus) if cpus else None
    memory = sum(p.rss_bytes for p in seen) if seen else None
    return ContainerUsage(cpu, memory, None, "processes", len(container.pids))
