"""What a scan finds: processes, containers, and the snapshot that ties them together.

These are plain data. The JSON produced from them (`to_dict`) is a documented, stable interface (docs/json.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .accounts import HostAccounts
from .host import Host


class Role(StrEnum):
    """The part a process plays next to containers (None in `Process.role`: an ordinary process)."""

    SHIM = "shim"  # containerd-shim-*, conmon, [lxc monitor], systemd-nspawn supervisor (proven by exe, docs)
    KERNEL = "kernel-thread"
    RUNTIME = (
        "runtime-helper"  # in a container's cgroup but outside its pid namespace: runc init, podman cleanup
    )


ROLE_SHIM = Role.SHIM
ROLE_KERNEL = Role.KERNEL
ROLE_RUNTIME = Role.RUNTIME

_local_accounts: HostAccounts | None = None


def user_name(uid: int, accounts: HostAccounts | None = None) -> str:
    """Host user name for a uid (from `accounts`, else this machine's /etc/passwd), or the number."""
    global _local_accounts
    if accounts is None:
        if _local_accounts is None:
            _local_accounts = HostAccounts(Host())
        accounts = _local_accounts
    return accounts.user_name(uid)


@dataclass(slots=True)
class Process:
    pid: int
    ppid: int
    uid: int  # effective uid, in host terms
    comm: str
    cmdline: list[str]
    state: str
    start_ticks: int
    cgroup: str  # the cgroup path attribution used (most trusted line first)
    cgroups: list[str] = field(default_factory=list)  # every distinct path, most trusted first
    pid_ns: int | None = None
    mnt_ns: int | None = None
    nspid: list[int] | None = None  # from status NSpid, read only for container processes
    container_id: str | None = None
    role: Role | None = None  # SHIM for runtime shims/monitors, KERNEL for kernel threads
    shim_of: list[str] = field(default_factory=list)  # container ids a shim process serves
    cpu_ticks: int = 0  # utime + stime from the scan's read of stat (not in the JSON: a rate needs two)
    rss_pages: int = 0
    # Host path of the runtime binary (shim, monitor, engine daemon) this process provably runs: a root-owned
    # host file, same inode as /proc/PID/exe (runtimes/executables.py). None for every other process.
    runtime_exe: str | None = None
    # The exe link exists but we may not read it (no ptrace access): shims and daemons cannot be proven.
    exe_hidden: bool = False
    accounts: HostAccounts | None = field(default=None, repr=False, compare=False)  # the scanned host's names

    @property
    def user(self) -> str:
        return user_name(self.uid, self.accounts)

    @property
    def command(self) -> str:
        return " ".join(self.cmdline).rstrip() if self.cmdline else f"[{self.comm}]"

    @property
    def pid_in_container(self) -> int | None:
        return self.nspid[-1] if self.nspid and len(self.nspid) > 1 else None


@dataclass(slots=True)
class Pod:
    name: str | None
    namespace: str | None
    uid: str | None
    qos: str | None = None  # guaranteed, burstable, besteffort
    sandbox_id: str | None = None

    @property
    def ref(self) -> str | None:
        """ "namespace/name" as kubectl shows it, or the name alone."""
        if not self.name:
            return None
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "qos": self.qos,
            "sandbox_id": self.sandbox_id,
        }


@dataclass(slots=True)
class RestartPolicy:
    name: str  # no, always, unless-stopped, on-failure, kubelet, lxc-autostart, unknown
    max_retries: int | None = None
    restart_count: int | None = None
    source: str | None = None  # the file it was read from

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "max_retries": self.max_retries,
            "restart_count": self.restart_count,
            "source": self.source,
        }


@dataclass(slots=True)
class Container:
    id: str
    runtime: str  # docker, containerd, cri-o, podman, lxc, nspawn, ecs, garden, unknown
    cgroup: str  # the cgroup path of the container
    name: str | None = None
    image: str | None = None
    engine_namespace: str | None = None  # containerd namespace (moby, k8s.io, default…)
    kube_container: str | None = None  # Kubernetes container name
    pod: Pod | None = None
    sandbox: bool = False  # the Kubernetes pause container
    init_pid: int | None = None
    pids: list[int] = field(default_factory=list)
    shim_pid: int | None = None
    parent_id: str | None = None  # the outer container of a nested one (docker in docker)
    created: str | None = None  # ISO-8601 UTC
    started: str | None = None  # ISO-8601 UTC
    restart_policy: RestartPolicy | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    bundle: str | None = None  # OCI bundle directory on the host
    metadata_files: list[str] = field(default_factory=list)  # host files the metadata came from
    evidence: list[str] = field(default_factory=list)  # why this is a container (rule that matched)
    # Host uid whose files may describe it: 0 for root's runtimes, the user's uid for a rootless one (whose
    # metadata that user writes); not in the JSON.
    owner_uid: int = 0

    @property
    def short_id(self) -> str:
        return self.id[:12] if _is_hex(self.id) and len(self.id) > 12 else self.id

    @property
    def display_name(self) -> str:
        return self.name or self.short_id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "short_id": self.short_id,
            "name": self.name,
            "runtime": self.runtime,
            "image": self.image,
            "pod": self.pod.name if self.pod else None,
            "namespace": self.pod.namespace if self.pod else None,
            "kube_container": self.kube_container,
            "engine_namespace": self.engine_namespace,
            "sandbox": self.sandbox,
            "init_pid": self.init_pid,
            "pids": list(self.pids),
            "process_count": len(self.pids),
            "shim_pid": self.shim_pid,
            "parent_id": self.parent_id,
            "cgroup": self.cgroup,
            "created": self.created,
            "started": self.started,
            "restart_policy": self.restart_policy.to_dict() if self.restart_policy else None,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "pod_info": self.pod.to_dict() if self.pod else None,
            "bundle": self.bundle,
            "metadata_files": list(self.metadata_files),
            "evidence": list(self.evidence),
        }

    def brief(self) -> dict[str, Any]:
        """The container as embedded in a process record."""
        return {
            "id": self.id,
            "name": self.name,
            "runtime": self.runtime,
            "image": self.image,
            "pod": self.pod.name if self.pod else None,
            "namespace": self.pod.namespace if self.pod else None,
        }


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


@dataclass(slots=True)
class Snapshot:
    """Every process and container seen in one pass over /proc."""

    processes: dict[int, Process]
    containers: dict[str, Container]
    host_root: str = "/"
    host_namespaces: dict[str, int] = field(default_factory=dict)
    taken_at: float = 0.0
    warnings: list[str] = field(default_factory=list)  # what could not be seen (not root, unreadable files)

    def container_of(self, pid: int) -> Container | None:
        proc = self.processes.get(pid)
        if proc is None or proc.container_id is None:
            return None
        return self.containers.get(proc.container_id)

    def processes_of(self, container: Container) -> Iterator[Process]:
        for pid in container.pids:
            proc = self.processes.get(pid)
            if proc is not None:
                yield proc

    def children(self) -> dict[int, list[int]]:
        kids: dict[int, list[int]] = {}
        for proc in self.processes.values():
            kids.setdefault(proc.ppid, []).append(proc.pid)
        for pids in kids.values():
            pids.sort()
        return kids

    def process_dict(self, proc: Process) -> dict[str, Any]:
        """The stable JSON record of one process (docs/json.md)."""
        container = self.containers.get(proc.container_id) if proc.container_id else None
        return {
            "pid": proc.pid,
            "ppid": proc.ppid,
            "uid": proc.uid,
            "user": proc.user,
            "comm": proc.comm,
            "command": proc.command,
            "argv": list(proc.cmdline),
            "state": proc.state,
            "pid_in_container": proc.pid_in_container,
            "role": proc.role,
            "shim_of": list(proc.shim_of),
            "cgroup": proc.cgroup,
            "container": container.brief() if container else None,
            "pod": container.pod.to_dict() if container and container.pod else None,
        }
