"""Sources of per-container facts. Each returns samples for the catalog's metrics and says how long they stay true.

A source's result is cached per container *instance* (id, init PID, init start time), for `ttl` seconds
(None: for the life of that init process). A source that `follows_processes` keeps its result past `ttl` while
the container's processes are the same ones, up to `max_age`: what it reads belongs to those processes, so a
container without process churn is measured once, not every `ttl`. `expensive` sources share `--slow-budget`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from ..cgroupfs import CgroupFiles, CgroupMounts, cpu_usage_ns, memory_in_use, read_bytes
from ..errors import CtrlensError
from ..host import Host
from ..model import Container, Snapshot
from ..mounts import read_mounts, root_fs
from ..namespaces import namespaces_of
from ..procfs import CgroupLine, ProcHandle, parse_cgroup, parse_stat, status_ids
from .catalog import NAMESPACE_TYPES

LabelValues = tuple[str, ...]  # label values after `id`, in the metric's label order


@dataclass(frozen=True, slots=True)
class Sample:
    metric: str
    labels: LabelValues
    value: float


class InstanceChanged(CtrlensError):
    """The container's init PID now names another process: treat like an exit, not an error."""


class PartialFacts(CtrlensError):
    """Some facts could not be read (usually a missing capability): keep `samples`, count one error."""

    def __init__(self, samples: list[Sample], reason: str) -> None:
        super().__init__(reason)
        self.samples = samples


class Source(Protocol):
    stage: str
    ttl: float | None
    expensive: bool
    follows_processes: bool
    max_age: float | None

    def measure(self, container: Container, snapshot: Snapshot) -> list[Sample]: ...


def open_init(container: Container, snapshot: Snapshot, host: Host) -> ProcHandle:
    """A handle on the container's init, checked to be the process the scan saw (not a reused PID)."""
    if container.init_pid is None:
        raise InstanceChanged(f"container {container.short_id} has no process")
    handle = ProcHandle(container.init_pid, host.proc)
    seen = snapshot.processes.get(container.init_pid)
    try:
        if seen is not None and parse_stat(handle.read("stat")).start_ticks != seen.start_ticks:
            raise InstanceChanged(f"pid {container.init_pid} was reused")
    except BaseException:
        handle.close()
        raise
    return handle


def flag(value: bool) -> float:
    return 1.0 if value else 0.0


class PostureSource:
    """Host namespaces shared, root, writable root filesystem: from the init's ns links, status and mountinfo."""

    stage = "posture"
    ttl: float | None = 60.0  # an entrypoint may still be switching user (gosu, su-exec) at the first look
    expensive = False
    follows_processes = True
    max_age: float | None = 600.0  # setns or a remount inside are rare, not impossible

    def __init__(self, host: Host) -> None:
        self.host = host

    def measure(self, container: Container, snapshot: Snapshot) -> list[Sample]:
        samples: list[Sample] = []
        with open_init(container, snapshot, self.host) as handle:
            namespaces = [ns for ns in namespaces_of(handle, self.host) if ns.type in NAMESPACE_TYPES]
            for ns in namespaces:
                shared = ns.shared_with_host
                if shared is not None:
                    samples.append(Sample("ctrlens_container_host_namespace", (ns.type,), flag(shared)))
            uids = handle.status().get("Uid")
            if uids:
                samples.append(Sample("ctrlens_container_runs_as_root", (), flag(status_ids(uids)[1] == 0)))
            fs = root_fs(read_mounts(handle))
            if fs is not None:
                samples.append(Sample("ctrlens_container_rootfs_writable", (), flag(not fs.read_only)))
            if all(ns.inode is None for ns in namespaces) and handle.alive():
                raise PartialFacts(samples, "namespaces unreadable (CAP_SYS_PTRACE missing?)")
        return samples


class CgroupSource:
    """CPU and memory counters and limits from the container's cgroup (`ctrlens top`'s reader: no Textual there)."""

    stage = "cgroup"
    ttl: float | None = 0.0  # counters: read on every collection
    expensive = False
    follows_processes = False
    max_age: float | None = None
    _LOCATE_TTL = 60.0  # limits change only with `docker update` and the like

    def __init__(self, host: Host, *, limit_flags: bool = True) -> None:
        self.host = host
        self.limit_flags = limit_flags  # the *_unlimited gauges, when no audit source gives them
        self.mounts = CgroupMounts(host)
        self._located: dict[tuple[str, int | None], tuple[float, CgroupFiles, str | None]] = {}

    def measure(self, container: Container, snapshot: Snapshot) -> list[Sample]:
        files, pids_max = self._locate(container, snapshot)
        samples: list[Sample] = []
        if files.cpu is not None and files.cpu_version is not None:
            used = cpu_usage_ns(files.cpu, files.cpu_version)
            if used is not None:
                samples.append(Sample("ctrlens_container_cpu_seconds_total", (), used / 1e9))
        memory = memory_in_use(files)
        if memory is not None:
            samples.append(Sample("ctrlens_container_memory_bytes", (), float(memory)))
        if files.memory is not None and files.memory_limit is not None:
            samples.append(Sample("ctrlens_container_memory_limit_bytes", (), float(files.memory_limit)))
        if self.limit_flags and files.memory is not None:
            samples.append(Sample("ctrlens_container_memory_unlimited", (), flag(files.memory_limit is None)))
        if self.limit_flags and pids_max is not None:
            samples.append(Sample("ctrlens_container_pids_unlimited", (), flag(pids_max == "max")))
        return samples

    def forget(self, live: set[str]) -> None:
        for key in [k for k in self._located if k[0] not in live]:
            del self._located[key]

    def _locate(self, container: Container, snapshot: Snapshot) -> tuple[CgroupFiles, str | None]:
        key = (container.id, container.init_pid)
        now = time.monotonic()
        cached = self._located.get(key)
        if cached is not None and now - cached[0] < self._LOCATE_TTL:
            return cached[1], cached[2]
        lines: list[CgroupLine] = []
        if container.init_pid is not None:
            with open_init(container, snapshot, self.host) as handle:
                lines = parse_cgroup(handle.read("cgroup"))
        files = self.mounts.locate(lines, container.cgroup)
        pids_max = self._pids_max(lines, container.cgroup)
        self._located[key] = (now, files, pids_max)
        return files, pids_max

    def _pids_max(self, lines: list[CgroupLine], fallback: str) -> str | None:
        """`max` or a number from pids.max (v1 pids controller, else v2); None when neither is there."""
        for path in self.mounts.value_files(lines, fallback, "pids", "pids.max"):
            data = read_bytes(path)
            if data:
                return data.strip().decode("ascii", "replace")
        return None
