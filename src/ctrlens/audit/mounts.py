"""Host paths mounted into the container: runtime sockets, sensitive host directories, read-write submounts
left under a read-only bind (Docker's `:ro` is not recursive, host-facts §4), shared propagation and writable
cgroup mounts.

A container mount is mapped to a host path through the host's own mount table: same device, and the host mount
whose root is the longest prefix of the container mount's root (what findmnt does). Mounts on devices the host
has not mounted (the container's tmpfs, overlay, proc instances) are the container's own and are left alone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from ..procfs import MountEntry
from .context import SOCKET_NAMES, AuditContext
from .facts import ContainerFacts
from .finding import GOOD, HIGH, LOW, MEDIUM, MOUNTS, RANK, Finding, Fix, Severity, rule

_VOLUME_FIX = Fix(
    docker="remove the -v/--mount of that host path, or mount only the subdirectory needed, read-only (:ro)",
    podman="remove the -v of that host path, or mount only what is needed, read-only (:ro)",
    kubernetes="remove the hostPath volume (or narrow it; volumeMounts[].readOnly: true)",
    lxc="remove the lxc.mount.entry of that host path",
)
SOCKET = rule(
    "CTRL-MOUNT-RUNTIME-SOCKET",
    MOUNTS,
    "container runtime socket mounted",
    "Whoever reaches a runtime's socket can start a privileged container with the host's / mounted: it is root "
    "on the host.",
    _VOLUME_FIX,
)
HOST_PATH = rule(
    "CTRL-MOUNT-HOST-PATH",
    MOUNTS,
    "sensitive host path mounted",
    "A bind mount of a host system directory hands the container host files: credentials (/etc/shadow, "
    "kubelet keys), other containers' data (/var/lib/docker), devices (/dev) or the kernel's interfaces (/proc).",
    _VOLUME_FIX,
)
RW_SUBMOUNT = rule(
    "CTRL-MOUNT-RW-SUBMOUNT", MOUNTS, "read-write submount under a read-only bind",
    "A bind mount marked read-only is read-only only at its top: host mounts below it stay writable unless the "
    "runtime makes the bind recursively read-only.",
    Fix(docker="docker run --mount type=bind,src=…,dst=…,readonly,bind-recursive=readonly (Docker 25+), or bind "
               "only the subdirectory needed",
        podman="podman run -v SRC:DST:ro,rbind (podman makes :ro recursive since 4.x), or bind less",
        kubernetes="volumeMounts[].recursiveReadOnly: Enabled (1.30+)",
        lxc="lxc.mount.entry = SRC DST none rbind,ro 0 0"),
)  # fmt: skip
PROPAGATION = rule(
    "CTRL-MOUNT-PROPAGATION-SHARED", MOUNTS, "mount propagation shared with the host",
    "A shared mount propagates mounts both ways: what the container mounts there appears on the host.",
    Fix(docker="drop the :shared/:rshared propagation option", podman="drop the :shared/:rshared option",
        kubernetes="volumeMounts[].mountPropagation: None (not Bidirectional)", lxc="lxc.rootfs.options / private"),
)  # fmt: skip
CGROUP_RW = rule(
    "CTRL-MOUNT-CGROUP-RW", MOUNTS, "cgroup filesystem mounted read-write",
    "A writable cgroup v1 hierarchy is the release_agent escape (CVE-2022-0492) for a process with SYS_ADMIN, "
    "and lets it change its own limits.",
    Fix(docker="drop --privileged (cgroups are mounted read-only otherwise)", podman="drop --privileged",
        kubernetes="securityContext.privileged: false", lxc="lxc.mount.auto = cgroup:ro"),
)  # fmt: skip

CLEAN = rule(
    "CTRL-MOUNT-CLEAN",
    MOUNTS,
    "no sensitive host mounts",
    "Nothing of the host's beyond the runtime's own per-container files is mounted.",
)

# Host paths whose exposure is serious: (rw severity, ro severity).
SENSITIVE: dict[str, tuple[Severity, Severity]] = {
    "/": (HIGH, HIGH), "/etc": (HIGH, HIGH), "/root": (HIGH, HIGH), "/home": (HIGH, MEDIUM),
    "/boot": (HIGH, MEDIUM), "/proc": (HIGH, MEDIUM), "/sys": (HIGH, MEDIUM), "/dev": (HIGH, MEDIUM),
    "/run": (HIGH, MEDIUM), "/var/run": (HIGH, MEDIUM), "/var/lib/docker": (HIGH, HIGH),
    "/var/lib/kubelet": (HIGH, HIGH), "/var/lib/containerd": (HIGH, HIGH), "/var/lib/containers": (HIGH, HIGH),
    "/var/lib/lxc": (HIGH, HIGH), "/usr": (MEDIUM, LOW), "/lib": (MEDIUM, LOW), "/lib64": (MEDIUM, LOW),
    "/bin": (MEDIUM, LOW), "/sbin": (MEDIUM, LOW), "/var/log": (MEDIUM, LOW),
}  # fmt: skip
# Inside these, even a read-only bind of one file is serious.
SECRET_PATHS = ("/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/ssh", "/etc/kubernetes", "/etc/docker",
                "/root", "/var/lib/kubelet/pki", "/home")  # fmt: skip
# Inside these, a read-write bind is a finding; a read-only file (/etc/localtime) is not.
SYSTEM_DIRS = (
    "/etc",
    "/usr",
    "/lib",
    "/lib64",
    "/bin",
    "/sbin",
    "/boot",
    "/sys",
    "/proc",
    "/var/lib/kubelet",
)
_OWN_FSTYPES = ("cgroup", "cgroup2", "mqueue", "devpts")


def under(path: str, parent: str) -> bool:
    """True if `path` is `parent` or below it."""
    return parent == "/" or path == parent or path.startswith(parent.rstrip("/") + "/")


@dataclass(slots=True, frozen=True)
class HostBind:
    entry: MountEntry
    host_path: str


def host_path_of(entry: MountEntry, ctx: AuditContext) -> str | None:
    """The host path a container mount shows, or None when its device is not mounted on the host."""
    best: MountEntry | None = None
    for host in ctx.host_mounts_by_dev.get(entry.major_minor, ()):
        if under(entry.root, host.root) and (best is None or len(host.root) > len(best.root)):
            best = host
    if best is None:
        return None
    rest = entry.root[len(best.root) :] if best.root != "/" else entry.root
    return os.path.normpath(best.mount_point.rstrip("/") + "/" + rest.lstrip("/")) if rest.strip("/") else \
        best.mount_point  # fmt: skip


def host_binds(facts: ContainerFacts, ctx: AuditContext) -> list[HostBind]:
    """The container's mounts that show host paths (its own procfs, sysfs, cgroups, tmpfs are skipped)."""
    binds = []
    for entry in facts.mounts:
        if entry.fstype in _OWN_FSTYPES:
            continue
        if entry.fstype == "proc" and under(entry.mount_point, "/proc"):
            continue
        if entry.fstype == "sysfs" and under(entry.mount_point, "/sys"):
            continue  # --net=host shares the host's sysfs superblock: still the container's own /sys
        path = host_path_of(entry, ctx)
        if path is not None:
            binds.append(HostBind(entry, path))
    return binds


def _own_markers(facts: ContainerFacts) -> set[str]:
    """Path components that mark a host path as the runtime's own files for THIS container (hosts, resolv.conf,
    kubelet's pod volumes, the LXC rootfs)."""
    c = facts.container
    marks = {c.id}
    if c.pod is not None and c.pod.uid:
        marks |= {c.pod.uid, f"pod{c.pod.uid}"}
    if c.pod is not None and c.pod.sandbox_id:
        marks.add(c.pod.sandbox_id)
    sandbox = c.annotations.get("io.kubernetes.cri.sandbox-id") or c.annotations.get(
        "io.kubernetes.cri-o.SandboxID"
    )
    if sandbox:
        marks.add(sandbox)
    return marks


def _is_runtime_own(path: str, marks: set[str], ctx: AuditContext) -> bool:
    if not marks.isdisjoint(path.split("/")):
        return True
    return any(under(path, v) for v in ctx.volume_dirs)


def _targets(ctx: AuditContext) -> dict[str, tuple[Severity, Severity]]:
    """SENSITIVE plus this host's engine data roots, built once per run."""
    found = ctx.memo.get("sensitive")
    if found is None:
        found = ctx.memo["sensitive"] = {**dict.fromkeys(ctx.data_roots(), (HIGH, HIGH)), **SENSITIVE}
    return found  # type: ignore[return-value]


def _sensitive(
    path: str, read_only: bool, ctx: AuditContext, *, inside: bool = True
) -> tuple[Severity, str] | None:
    """(severity, what it exposes) for a host path, or None. `inside`: also judge paths below sensitive dirs."""
    targets = _targets(ctx)
    pick = 1 if read_only else 0
    exposed = sorted((s for s in targets if under(s, path)), key=lambda s: (-RANK[targets[s][pick]], len(s)))
    if exposed:  # the path is a sensitive directory or one of its ancestors
        worst = exposed[0]
        if path == "/":
            what = "the host's root filesystem"
        elif path in targets:
            what = f"host {path}"
        else:
            what = f"host {path} (holds {worst})"
        return targets[worst][pick], what
    if not inside:
        return None
    for secret in SECRET_PATHS:
        if under(path, secret):
            return HIGH, f"host {path}"
    if not read_only and any(under(path, d) for d in (*SYSTEM_DIRS, *ctx.data_roots())):
        return MEDIUM, f"host {path}"
    return None


def _socket(path: str, ctx: AuditContext) -> str | None:
    if os.path.basename(path) in SOCKET_NAMES or path in ctx.sockets:
        return path
    inside = [s for s in ctx.sockets if under(s, path) and s != path]
    live = [s for s in inside if ctx.host_has(s)]
    return live[0] if live else None


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    found = list(_check(facts, ctx))
    yield from found
    if not found:
        yield CLEAN.finding(GOOD, "no sensitive host path, socket or writable cgroup mounted", [], facts.pid)


def _check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    binds = sorted(host_binds(facts, ctx), key=lambda b: len(b.entry.mount_point))
    marks = _own_markers(facts)
    reported: list[str] = []  # mount points already reported: what is under them is part of the same bind

    def inside_reported(point: str) -> bool:
        return any(under(point, p) and point != p for p in reported)

    for bind in binds:
        entry, path = bind.entry, bind.host_path
        if _is_runtime_own(path, marks, ctx) or inside_reported(entry.mount_point):
            continue
        mode = "read-only" if entry.read_only else "read-write"
        evidence = [facts.mount_evidence(entry), f"host path: {path}"]
        socket = None if path == "/" else _socket(path, ctx)  # the host's / is reported as such, below
        if socket is not None:
            shown = path if socket == path else f"{path} (holds {socket})"
            reported.append(entry.mount_point)
            yield SOCKET.finding(
                HIGH, f"runtime socket {shown} mounted at {entry.mount_point}", evidence, facts.pid
            )
            continue
        # The root mount is the runtime's (an overlay whose merged dir lives in its data root): judged only when
        # it exposes a sensitive directory itself (a container whose rootfs is the host's /).
        sensitive = _sensitive(path, entry.read_only, ctx, inside=entry.mount_point != "/")
        if sensitive is not None:
            severity, what = sensitive
            reported.append(entry.mount_point)
            yield HOST_PATH.finding(
                severity, f"{what} mounted {mode} at {entry.mount_point}", evidence, facts.pid
            )
    yield from _rw_submounts(facts, binds, marks, ctx)
    shared = []
    cgroups = []
    for entry in facts.mounts:
        groups = [t for t in entry.optional if t.startswith("shared:")]
        if any(int(t[7:]) in ctx.host_peer_groups for t in groups if t[7:].isdigit()):
            shared.append(entry)
        if (
            entry.fstype in ("cgroup", "cgroup2")
            and not entry.read_only
            and not inside_reported(entry.mount_point)
        ):
            cgroups.append(entry)
    for entry in shared:
        yield PROPAGATION.finding(
            LOW,
            f"{entry.mount_point} propagates mounts to and from the host",
            [facts.mount_evidence(entry)],
            facts.pid,
        )
    if cgroups:
        names = ", ".join(e.mount_point for e in cgroups[:4]) + (
            f" (+{len(cgroups) - 4})" if len(cgroups) > 4 else ""
        )
        yield CGROUP_RW.finding(
            MEDIUM,
            f"cgroup hierarchies writable: {names}",
            [facts.mount_evidence(e) for e in cgroups[:3]],
            facts.pid,
        )


def _rw_submounts(
    facts: ContainerFacts, binds: list[HostBind], marks: set[str], ctx: AuditContext
) -> Iterator[Finding]:
    """One finding per read-only bind that has writable host mounts below it."""
    for top in binds:
        if (
            not top.entry.read_only
            or top.entry.mount_point == "/"
            or _is_runtime_own(top.host_path, marks, ctx)
        ):
            continue
        point = top.entry.mount_point
        inner: list[HostBind] = []
        for sub in binds:
            e = sub.entry
            if e.read_only or e.mount_point == point or not under(e.mount_point, point):
                continue
            if all(e.mount_point != seen.entry.mount_point for seen in inner):
                inner.append(sub)
        if not inner:
            continue
        shown = ", ".join(s.entry.mount_point for s in inner[:3]) + (
            f" (+{len(inner) - 3})" if len(inner) > 3 else ""
        )
        evidence = [facts.mount_evidence(top.entry)] + [facts.mount_evidence(s.entry) for s in inner[:3]]
        if len(inner) > 3:
            evidence.append(f"… and {len(inner) - 3} more writable mounts under {point}")
        yield RW_SUBMOUNT.finding(
            HIGH, f"{len(inner)} host mount(s) writable under read-only {point}: {shown}", evidence, facts.pid
        )
