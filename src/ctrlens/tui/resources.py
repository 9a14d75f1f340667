"""CPU and memory per container (from its cgroup) and per process (from /proc/PID/stat), as rates between samples.

A plain library: `ResourceSampler(host).sample(snapshot)` after each scan. The first sample has no CPU figures
(a rate needs two readings). Used by `ctrlens top`; the exporter can use it the same way (no Textual here).
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field

from ..host import Host
from ..model import Container, Snapshot
from ..procfs.parse import parse_cgroup
from ..procfs.usage import parse_stat_usage
from .cgroups import CgroupFiles, CgroupMounts, cpu_usage_ns, memory_in_use, read_bytes

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = resource.getpagesize()
_O_FILE = os.O_RDONLY | os.O_CLOEXEC


@dataclass(slots=True)
class ProcessUsage:
    cpu_percent: float | None  # 100 = one CPU busy; None on the first sample of this process
    rss_bytes: int


@dataclass(slots=True)
class ContainerUsage:
    cpu_percent: float | None  # from the cgroup: every process in it, threads and exited children included
    memory_bytes: int | None  # charged to the cgroup, minus inactive page cache (as `docker stats`)
    memory_limit: int | None
    cgroup_version: str | None  # "v1"/"v2" where the counters came from, None when no cgroup was found
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

    def sample(self, snapshot: Snapshot) -> Usage:
        now = time.monotonic()
        interval = now - self._last_time if self._last_time is not None else None
        self._last_time = now
        usage = Usage(interval=interval)
        usage.processes = self._sample_processes(snapshot, interval)
        usage.containers = {c.id: self._sample_container(c, interval) for c in snapshot.containers.values()}
        for gone in self._ctr_ns.keys() - snapshot.containers.keys():
            del self._ctr_ns[gone]
        for gone in self._files.keys() - snapshot.containers.keys():
            del self._files[gone]
        return usage

    def _sample_processes(self, snapshot: Snapshot, interval: float | None) -> dict[int, ProcessUsage]:
        previous = self._proc_ticks
        current: dict[int, tuple[int, int]] = {}
        found: dict[int, ProcessUsage] = {}
        scale = 100.0 / (CLOCK_TICKS * interval) if interval else 0.0
        proc = self.proc
        for pid, process in snapshot.processes.items():
            try:
                fd = os.open(f"{proc}/{pid}/stat", _O_FILE)
            except OSError:
                continue  # exited since the scan
            try:
                stat = parse_stat_usage(os.read(fd, 4096))
            except (OSError, ValueError, IndexError):
                continue
            finally:
                os.close(fd)
            if stat.start_ticks != process.start_ticks:
                continue  # the PID now names another process
            current[pid] = (stat.start_ticks, stat.cpu_ticks)
            before = previous.get(pid)
            cpu = None
            if interval and before is not None and before[0] == stat.start_ticks:
                cpu = max(stat.cpu_ticks - before[1], 0) * scale
            found[pid] = ProcessUsage(cpu, stat.rss_pages * PAGE_SIZE)
        self._proc_ticks = current
        return found

    def files_of(self, container: Container) -> CgroupFiles:
        """Where the container's counters are; looked up once per container (and again if its init changes)."""
        cached = self._files.get(container.id)
        if cached is not None and cached[0] == container.init_pid:
            return cached[1]
        lines = []
        if container.init_pid is not None:
            data = read_bytes(f"{self.proc}/{container.init_pid}/cgroup")
            lines = parse_cgroup(data) if data else []
        files = self.mounts.locate(lines, container.cgroup)
        self._files[container.id] = (container.init_pid, files)
        return files

    def _sample_container(self, container: Container, interval: float | None) -> ContainerUsage:
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
        return ContainerUsage(cpu, memory_in_use(files), files.memory_limit, version, len(container.pids))
