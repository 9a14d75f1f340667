"""The root filesystem and the kernel interfaces under it: writable `/`, unmasked /proc and /sys paths, and
/proc paths that should be read-only. Runtimes mask and re-mount these by default (OCI `maskedPaths`,
`readonlyPaths`); privileged mode and `systempaths=unconfined` remove them."""

from __future__ import annotations

from collections.abc import Iterator

from ..mounts import root_mount
from ..procfs import MountEntry
from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, HIGH, LOW, MEDIUM, ROOTFS, Finding, Fix, rule

# moby's defaults (oci/defaults.go); podman and containerd use the same lists. Only paths that exist on the
# host are expected to be masked: runc skips the others.
MASKED_PATHS = ("/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
                "/sys/devices/virtual/powercap")  # fmt: skip
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

WRITABLE = rule(
    "CTRL-ROOTFS-WRITABLE", ROOTFS, "writable root filesystem",
    "A writable root lets an intruder drop tools and change binaries and configuration that the container "
    "trusts; an immutable root keeps the image as built (writes go to declared volumes and tmpfs).",
    Fix(docker="docker run --read-only (plus --tmpfs /tmp for scratch space)", podman="podman run --read-only",
        kubernetes="securityContext.readOnlyRootFilesystem: true", lxc="lxc.rootfs.options = ro"),
)  # fmt: skip
READ_ONLY = rule("CTRL-ROOTFS-READONLY", ROOTFS, "read-only root filesystem", "The image cannot be altered.")
UNMASKED = rule(
    "CTRL-PROC-UNMASKED", ROOTFS, "/proc and /sys paths not masked",
    "Runtimes hide kernel interfaces that leak host information or control (kcore, keys, timer_list, "
    "firmware…) behind empty mounts; here they are open.",
    Fix(docker="drop --security-opt systempaths=unconfined (and --privileged)",
        podman="drop --security-opt unmask=… (and --privileged)", kubernetes="securityContext.procMount: Default",
        lxc="lxc.mount.auto = proc:mixed sys:ro"),
)  # fmt: skip
PROC_WRITABLE = rule(
    "CTRL-PROC-WRITABLE", ROOTFS, "/proc paths writable",
    "/proc/sys (host-wide sysctls such as kernel.core_pattern), /proc/sysrq-trigger and /proc/irq are not "
    "namespaced: writing them changes the host.",
    Fix(docker="drop --security-opt systempaths=unconfined (and --privileged)",
        podman="drop --security-opt unmask=… (and --privileged)", kubernetes="securityContext.procMount: Default",
        lxc="lxc.mount.auto = proc:mixed"),
)  # fmt: skip
SYS_WRITABLE = rule(
    "CTRL-SYS-WRITABLE", ROOTFS, "/sys mounted read-write",
    "A writable sysfs lets it change host kernel and device settings (and uevent helpers run as host root).",
    Fix(docker="drop --privileged", podman="drop --privileged", kubernetes="securityContext.privileged: false",
        lxc="lxc.mount.auto = sys:ro"),
)  # fmt: skip


def covering_mount(mounts: list[MountEntry], path: str) -> MountEntry | None:
    """The mount a path is reached through: the longest mount point above it, the last one mounted on ties."""
    best: MountEntry | None = None
    for entry in mounts:
        point = entry.mount_point
        covers = path == point or path.startswith(point.rstrip("/") + "/")
        if covers and (best is None or len(point) >= len(best.mount_point)):
            best = entry
    return best


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    root = root_mount(facts.mounts)
    if root is not None:
        if root.read_only:
            yield READ_ONLY.finding(
                GOOD, "read-only root filesystem", [facts.mount_evidence(root)], facts.pid
            )
        else:
            yield WRITABLE.finding(LOW, f"root filesystem is writable ({root.fstype})", [facts.mount_evidence(root)],
                                   facts.pid)  # fmt: skip
    points = {m.mount_point for m in facts.mounts}
    has_proc = "/proc" in points
    expected = [p for p in MASKED_PATHS if ctx.host_has(p) and (has_proc or not p.startswith("/proc/"))]
    unmasked = [p for p in expected if p not in points]
    if unmasked:
        none = len(unmasked) == len(expected)
        yield UNMASKED.finding(
            MEDIUM,
            ("no masked paths: " if none else "not masked: ") + ", ".join(unmasked),
            [f"/proc/{facts.pid}/mountinfo: no mount on {', '.join(unmasked)} (present on the host)"],
            facts.pid,
        )
    if has_proc:
        writable = []
        evidence: list[str] = []
        for path in READONLY_PATHS:
            if not ctx.host_has(path):
                continue
            entry = covering_mount(facts.mounts, path)
            if entry is not None and not entry.read_only:
                writable.append(path)
                if len(evidence) < 2:
                    evidence.append(facts.mount_evidence(entry))
        if writable:
            yield PROC_WRITABLE.finding(MEDIUM, "writable: " + ", ".join(writable), evidence, facts.pid)
    sys_mount = next((m for m in reversed(facts.mounts) if m.mount_point == "/sys"), None)
    if sys_mount is not None and sys_mount.fstype == "sysfs" and not sys_mount.read_only:
        yield SYS_WRITABLE.finding(
            HIGH, "/sys is mounted read-write", [facts.mount_evidence(sys_mount)], facts.pid
        )
