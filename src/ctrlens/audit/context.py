"""Host-wide facts every container's audit compares against, gathered once per audit run.

- the host's capability bounding set: what "privileged" means on THIS host (host-facts §0: every process here
  lacks CAP_SYS_RESOURCE, so "all 41 caps" would never match a privileged container);
- which LSMs are active (AppArmor, SELinux), so an absent LSM is "not available", never a finding;
- the host's mount table, to turn a container's bind mounts into host paths;
- the engines' data roots and sockets, from the daemons' command lines;
- where the cgroup hierarchies are mounted, under `--host-root`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..accounts import HostAccounts
from ..cgroupfs import CgroupLayout, discover_layout
from ..host import Host
from ..model import ROLE_KERNEL, Snapshot
from ..procfs import MountEntry, parse_status
from ..procfs.files import CAP_SMALL, read_small
from ..procfs.hostwide import host_mount_table, read_pid_file
from ..runtimes.context import EngineDirs, discover_engine_dirs, option_value

# Sockets the engines listen on by default; the daemons' command lines add the others.
DEFAULT_SOCKETS = (
    "/run/docker.sock", "/var/run/docker.sock", "/run/containerd/containerd.sock", "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock", "/var/run/crio/crio.sock", "/run/podman/podman.sock", "/run/dockershim.sock",
    "/run/cri-dockerd.sock", "/run/k3s/containerd/containerd.sock", "/run/docker/containerd/containerd.sock",
)  # fmt: skip
SOCKET_NAMES = (
    "docker.sock",
    "containerd.sock",
    "crio.sock",
    "podman.sock",
    "dockershim.sock",
    "cri-dockerd.sock",
)


@dataclass(slots=True)
class CapBound:
    mask: int | None
    source: str  # evidence: which host process it was read from


@dataclass(slots=True)
class LsmState:
    apparmor: bool
    selinux: str | None  # "enforcing", "permissive" or None
    evidence: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return self.apparmor or self.selinux is not None


class AuditContext:
    """Built once per run (`AuditContext(snapshot, host)`), shared by every container's audit."""

    def __init__(self, snapshot: Snapshot, host: Host) -> None:
        self.snapshot = snapshot
        self.host = host
        self.host_ns = snapshot.host_namespaces or host.host_namespaces()
        self.cap_bound = _host_cap_bound(snapshot, host)
        self.lsm = _lsm_state(host)
        self.host_mounts = _host_mounts(host)
        self.host_peer_groups = {g for m in self.host_mounts for g in _peer_groups(m, "shared:")}
        self.host_mounts_by_dev: dict[str, list[MountEntry]] = {}
        for entry in self.host_mounts:
            self.host_mounts_by_dev.setdefault(entry.major_minor, []).append(entry)
        self.engine_dirs: EngineDirs = discover_engine_dirs(snapshot.processes, host)
        self.sockets = _engine_sockets(snapshot)
        self.cgroup: CgroupLayout = discover_layout(host)
        self._exists: dict[str, bool] = {}
        self.accounts = HostAccounts(host)
        self.cgroup_cache: dict[str, str | None] = {}  # parents' limit files, shared by their containers
        self.memo: dict[str, object] = {}  # per-run tables the layer modules build once
        self._volume_dirs = tuple(
            f"{r}/volumes" for r in (*self.engine_dirs.docker_roots, *self.engine_dirs.containers_storage)
        )
        self.secrets: object | None = None  # the secrets scanner, made on first use (audit.secrets)

    def host_has(self, host_path: str) -> bool:
        """Whether a path exists on the host (cached: masked-path checks ask the same ones for every container)."""
        found = self._exists.get(host_path)
        if found is None:
            found = self._exists[host_path] = os.path.lexists(self.host.path(host_path))
        return found

    def account(self, uid: int) -> str | None:
        """The host's user name for a uid, from the host's own /etc/passwd (honours --host-root)."""
        return self.accounts.name_of(uid)

    @property
    def volume_dirs(self) -> tuple[str, ...]:
        return self._volume_dirs

    def data_roots(self) -> list[str]:
        d = self.engine_dirs
        return [*d.docker_roots, *d.containers_storage, *d.lxc_paths, *d.containerd_states,
                "/var/lib/containerd", "/var/lib/kubelet"]  # fmt: skip


def _peer_groups(entry: MountEntry, prefix: str) -> list[int]:
    return [
        int(tag[len(prefix) :])
        for tag in entry.optional
        if tag.startswith(prefix) and tag[len(prefix) :].isdigit()
    ]


def _read(path: str) -> bytes | None:
    try:
        return read_small(path, cap=CAP_SMALL)  # bounded, never blocks on a crafted tree's FIFO
    except OSError:
        return None


def _host_cap_bound(snapshot: Snapshot, host: Host) -> CapBound:
    """CapBnd of a host userspace process: PID 1, else a runtime shim, else ourselves. Never kthreadd: kernel
    threads keep all 41 bits even where userspace was started without some (host-facts §0)."""
    candidates = ["1"] + [
        str(p.pid) for p in snapshot.processes.values() if p.role == "shim" and p.container_id is None
    ]
    if host.is_live and host.root == "/":
        candidates.append("self")
    for pid in candidates[:8]:
        data = read_pid_file(host.proc, pid, "status")
        if not data:
            continue
        value = parse_status(data).get("CapBnd")
        if value:
            try:
                return CapBound(int(value, 16), f"/proc/{pid}/status: CapBnd:\t{value}")
            except ValueError:
                continue
    return CapBound(None, "host bounding set unreadable")


def _lsm_state(host: Host) -> LsmState:
    state = LsmState(apparmor=False, selinux=None)
    enabled = _read(host.path("/sys/module/apparmor/parameters/enabled"))
    if enabled is not None and enabled.strip() in (b"Y", b"1"):
        state.apparmor = True
        state.evidence.append("/sys/module/apparmor/parameters/enabled: Y")
    enforce = _read(host.path("/sys/fs/selinux/enforce"))
    if enforce is not None:
        state.selinux = "enforcing" if enforce.strip() == b"1" else "permissive"
        state.evidence.append(f"/sys/fs/selinux/enforce: {enforce.strip().decode(errors='replace')}")
    return state


def _host_mounts(host: Host) -> list[MountEntry]:
    """The mount table of the host's mount namespace (procfs: kthreadd's, never a container's)."""
    return host_mount_table(host.proc, self_is_host=host.root == "/")


def _engine_sockets(snapshot: Snapshot) -> list[str]:
    found = list(DEFAULT_SOCKETS)
    for proc in snapshot.processes.values():
        if proc.role == ROLE_KERNEL or not proc.cmdline or proc.container_id is not None:
            continue
        exe = os.path.basename(proc.cmdline[0])
        value = None
        if exe == "dockerd":
            value = option_value(proc.cmdline, "-H", "--host")
        elif exe in ("containerd", "crio"):
            value = option_value(proc.cmdline, "--address", "-a", "--listen")
        if value:
            path = value.removeprefix("unix://")
            if path.startswith("/") and path not in found:
                found.append(path)
    return found
