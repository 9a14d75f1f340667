"""Everything the checks look at for one container, read once from /proc through `ProcHandle`s.

The init process gives the container-wide facts (namespaces, uid_map, mounts, LSM label, cgroups); every process
of the container gives its credentials, because `docker exec --privileged` or `-u 0` changes one process, not the
container. Processes that exit meanwhile are skipped; if the init itself is gone, `read_facts` raises ProcessGone.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field

from ..errors import PermissionDenied, ProcessGone
from ..host import NAMESPACE_TYPES, Host
from ..model import Container
from ..procfs import (
    CgroupLine,
    IdMapRange,
    MountEntry,
    ProcHandle,
    is_identity_map,
    parse_cgroup,
    parse_id_map,
    parse_mountinfo,
    parse_status,
    status_ids,
)

STATUS_FIELDS = ("Uid", "Gid", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
                 "Seccomp_filters", "NSpid")  # fmt: skip


@dataclass(slots=True)
class ProcessFacts:
    pid: int
    status: dict[str, str]  # the raw fields of STATUS_FIELDS that the kernel gave

    def cap(self, name: str) -> int:
        """CapEff, CapPrm, CapBnd, CapAmb or CapInh as a bit mask (0 when absent)."""
        try:
            return int(self.status.get(name, "0"), 16)
        except ValueError:
            return 0

    def number(self, name: str) -> int | None:
        try:
            return int(self.status[name])
        except (KeyError, ValueError):
            return None

    @property
    def euid(self) -> int | None:
        """Effective uid in HOST terms: /proc translates Uid into the reader's user namespace."""
        ids = status_ids(self.status.get("Uid", "")) if self.status.get("Uid") else ()
        return ids[1] if len(ids) > 1 else None

    def field(self, name: str) -> str:
        """`/proc/PID/status: Uid: 0 0 0 0`, as evidence (the kernel's tabs shown as spaces)."""
        return f"/proc/{self.pid}/status: {name}: {' '.join(self.status.get(name, '?').split())}"


@dataclass(slots=True)
class LsmLabel:
    apparmor: str | None = None  # attr/apparmor/current (5.8+), or attr/current when it reads like AppArmor
    selinux: str | None = None  # attr/current when it is a SELinux context (user:role:type:level)
    source: str | None = None  # the file the label came from, for evidence
    error: str | None = None  # "EINVAL" etc. when no LSM answers


@dataclass(slots=True)
class ContainerFacts:
    container: Container
    init: ProcessFacts
    processes: list[ProcessFacts]  # init first, then the other processes still alive
    namespaces: dict[str, int | None]
    uid_map: list[IdMapRange]
    uid_map_text: str
    mounts: list[MountEntry]
    mount_lines: dict[int, str]  # mount id -> the exact mountinfo line
    lsm: LsmLabel
    cgroups: list[CgroupLine]
    unreadable: list[str] = field(default_factory=list)  # what could not be read (not root, old kernel)

    @property
    def pid(self) -> int:
        return self.init.pid

    @property
    def user_namespace(self) -> bool:
        """True when the container runs in its own user namespace (uids and caps are remapped)."""
        return bool(self.uid_map) and not is_identity_map(self.uid_map)

    def mount_evidence(self, entry: MountEntry) -> str:
        line = self.mount_lines.get(entry.mount_id) or f"{entry.mount_id} … {entry.mount_point}"
        return f"/proc/{self.pid}/mountinfo: {line}"

    def uid_map_evidence(self) -> str:
        text = " | ".join(" ".join(line.split()) for line in self.uid_map_text.splitlines()) or "(empty)"
        return f"/proc/{self.pid}/uid_map: {text}"


def _status(handle: ProcHandle) -> ProcessFacts:
    raw = parse_status(handle.read("status"))
    return ProcessFacts(handle.pid, {k: raw[k] for k in STATUS_FIELDS if k in raw})


def _lsm(handle: ProcHandle) -> LsmLabel:
    label = LsmLabel()
    for name in ("attr/apparmor/current", "attr/current"):
        try:
            text = handle.read(name).rstrip(b"\0\n").decode("utf-8", "replace")
        except ProcessGone:
            label.error = "ENOENT"  # attr/apparmor/ exists since 5.8; a real exit is caught by ensure_alive
            continue
        except (OSError, PermissionDenied) as exc:
            code = getattr(exc, "errno", None)
            label.error = errno.errorcode.get(code, str(exc)) if code else str(exc)
            continue
        if not text:
            continue
        if _is_selinux_context(text):
            label.selinux = text
        else:
            label.apparmor = text
        label.source = f"/proc/{handle.pid}/{name}"
        label.error = None
        return label
    return label


def _is_selinux_context(text: str) -> bool:
    """user:role:type:level (level may hold more colons); AppArmor labels are "name (mode)" or "unconfined"."""
    parts = text.split(":")
    return len(parts) >= 4 and " " not in parts[0] and parts[1].endswith("_r")


def read_facts(container: Container, host: Host) -> ContainerFacts:
    """The facts of one container. Raises ProcessGone when its init exited, PermissionDenied when not root."""
    if container.init_pid is None:
        raise ProcessGone(f"container {container.display_name} has no process left")
    unreadable: list[str] = []
    with ProcHandle(container.init_pid, host.proc) as handle:
        try:
            init = _status(handle)
            namespaces = {t: handle.namespace(t) for t in NAMESPACE_TYPES}
            if all(v is None for v in namespaces.values()):
                unreadable.append("ns")
            uid_map_text = _optional(handle, "uid_map", unreadable)
            mount_data = handle.read("mountinfo")
            lsm = _lsm(handle)
            cgroups = parse_cgroup(handle.read("cgroup"))
        except OSError as exc:
            # An exiting process answers EINVAL (its mount namespace is gone) before it answers ESRCH.
            if exc.errno == errno.EINVAL or not handle.alive():
                raise ProcessGone(f"process {handle.pid} exited during the audit") from None
            raise
        handle.ensure_alive()  # mountinfo and uid_map answer even after exit (host-facts §3)
    mounts = parse_mountinfo(mount_data)
    lines = {}
    for line in mount_data.decode("utf-8", "surrogateescape").splitlines():
        head = line.split(" ", 1)[0]
        if head.isdigit():
            lines[int(head)] = line
    processes = [init]
    for pid in container.pids:
        if pid == init.pid:
            continue
        try:
            with ProcHandle(pid, host.proc) as other:
                processes.append(_status(other))
        except (ProcessGone, PermissionDenied):
            continue  # a worker that exited meanwhile is normal
    return ContainerFacts(
        container=container,
        init=init,
        processes=processes,
        namespaces=namespaces,
        uid_map=parse_id_map(uid_map_text.encode()),
        uid_map_text=uid_map_text,
        mounts=mounts,
        mount_lines=lines,
        lsm=lsm,
        cgroups=cgroups,
        unreadable=unreadable,
    )


def _optional(handle: ProcHandle, name: str, unreadable: list[str]) -> str:
    try:
        return handle.read(name).decode("utf-8", "replace")
    except (OSError, PermissionDenied):
        unreadable.append(name)
        return ""
