"""Device access. cgroup v1: the devices controller's `devices.list` (an allow-list). cgroup v2: the device
controller is an eBPF program (BPF_CGROUP_DEVICE) attached to the cgroup; its rules cannot be read back from
/proc, so the check says whether one is attached (bpf(BPF_PROG_QUERY), root only)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..linux.bpf import BPF_CGROUP_DEVICE, BPF_F_QUERY_EFFECTIVE, attached_program_count
from .cgroupfs import controller_dir, read_value
from .context import AuditContext
from .facts import ContainerFacts
from .finding import DEVICES, GOOD, HIGH, INFO, MEDIUM, Finding, Fix, rule

# Each runtime's own default allow-list, as cgroup v1 devices.list shows it (a container is judged against its
# own runtime's list, never a merge: Docker denies fuse, LXC allows it; runc/crun allow tun, LXC does not).
MKNOD_ANY = frozenset({"c *:* m", "b *:* m"})
PSEUDO = frozenset({"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm", "c 5:2 rwm",
                    "c 136:* rwm"})  # null zero full random urandom tty ptmx pts  # fmt: skip
# runc appends these to every container's rules (libcontainer/specconv AllowedDevices): the above and tun.
RUNC_DEFAULT = MKNOD_ANY | PSEUDO | {"c 10:200 rwm"}
# crun's default_devices (src/libcrun/cgroup-resources.c): runc's plus /dev/console.
CRUN_DEFAULT = RUNC_DEFAULT | {"c 5:1 rwm"}
# moby's DefaultLinuxSpec (oci/defaults.go) allows zero, null, urandom, random, tty, console and denies fuse
# (c 10:229); runc (or crun) adds its own list on top.
DOCKER_DEFAULT = RUNC_DEFAULT | {"c 5:1 rwm"}
# LXC's config/templates/common.conf(.in): deny all, mknod of anything, the pseudo-devices, console and fuse.
LXC_DEFAULT = MKNOD_ANY | PSEUDO | {"c 5:1 rwm", "c 10:229 rwm"}
# Podman, containerd (CRI or ctr, oci.WithDefaultUnixDevices) and CRI-O add nothing to their OCI runtime's
# list, which is runc's or crun's: crun's is the wider of the two.
DEFAULT_ALLOWED: dict[str, frozenset[str]] = {
    "docker": DOCKER_DEFAULT,
    "podman": CRUN_DEFAULT,
    "containerd": CRUN_DEFAULT,
    "cri-o": CRUN_DEFAULT,
    "lxc": LXC_DEFAULT,
}
OCI_DEFAULT = CRUN_DEFAULT  # other runtimes (nspawn, ECS, unknown): what an OCI runtime allows by default


def default_allowed(runtime: str) -> frozenset[str]:
    """The devices cgroup entries `runtime` grants every container by default."""
    return DEFAULT_ALLOWED.get(runtime, OCI_DEFAULT)


KNOWN = {"1:3": "null", "1:5": "zero", "1:7": "full", "1:8": "random", "1:9": "urandom", "1:1": "mem",
         "1:2": "kmem", "1:4": "port", "1:11": "kmsg", "10:200": "net/tun", "10:229": "fuse", "10:232": "kvm",
         "10:236": "mapper/control", "254:*": "virtio block", "8:*": "sd* disks", "7:*": "loop*",
         "253:*": "device-mapper", "189:*": "usb", "226:*": "dri"}  # fmt: skip

ALL_DEVICES = rule(
    "CTRL-DEV-ALL", DEVICES, "every host device allowed",
    "The devices cgroup allows read, write and mknod of every device: with root it can open the host's disks "
    "and memory.",
    Fix(docker="drop --privileged and --device-cgroup-rule 'a *:* rwm'", podman="drop --privileged",
        kubernetes="securityContext.privileged: false", lxc="lxc.cgroup.devices.deny = a, then allow only the needed"),
)  # fmt: skip
EXTRA = rule(
    "CTRL-DEV-EXTRA", DEVICES, "host devices allowed beyond the runtime's default",
    "Each device allowed beyond the defaults is a host kernel driver and its data (a disk, /dev/mem, kvm…) "
    "opened to the container.",
    Fix(docker="drop --device / --device-cgroup-rule", podman="drop --device", kubernetes="remove the device "
        "plugin resource or hostPath device", lxc="remove the lxc.cgroup.devices.allow entries"),
)  # fmt: skip
NO_FILTER = rule(
    "CTRL-DEV-NO-FILTER", DEVICES, "no device filter (cgroup v2)",
    "On cgroup v2 device access is policed by an eBPF program the runtime attaches; with none attached any "
    "device node the container can create or reach is usable.",
    Fix(docker="drop --privileged", podman="drop --privileged", kubernetes="securityContext.privileged: false",
        lxc="lxc.cgroup2.devices.deny = a"),
)  # fmt: skip
EBPF = rule(
    "CTRL-DEV-EBPF",
    DEVICES,
    "device filter is an eBPF program",
    "On cgroup v2 the allowed devices are an eBPF program's rules, which /proc does not show.",
)
DEFAULT = rule(
    "CTRL-DEV-DEFAULT",
    DEVICES,
    "default device allow-list",
    "Only the pseudo-devices every container needs (null, zero, random, tty, pts…).",
)
UNKNOWN = rule(
    "CTRL-DEV-UNKNOWN",
    DEVICES,
    "device access not readable",
    "The devices controller was not found (or is not readable) for this container.",
)


def _name(entry: str) -> str:
    parts = entry.split()
    if len(parts) == 3:
        for key in (parts[1], parts[1].split(":")[0] + ":*"):
            if key in KNOWN:
                return f"{entry} ({KNOWN[key]})"
    return entry


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    cdir = controller_dir(facts, ctx, "devices", "cgroup.controllers")
    if cdir is None:
        yield UNKNOWN.finding(INFO, "device access unknown: no devices controller found", [], facts.pid)
        return
    if cdir.version == 1:
        text = read_value(ctx, f"{cdir.path}/devices.list")
        if text is None:
            yield UNKNOWN.finding(
                INFO, f"device access unknown: {cdir.path}/devices.list unreadable", [], facts.pid
            )
            return
        entries = [line.strip() for line in text.splitlines() if line.strip()]
        if "a *:* rwm" in entries:
            yield ALL_DEVICES.finding(
                HIGH, "every device allowed (a *:* rwm)", [f"{cdir.path}/devices.list: a *:* rwm"], facts.pid
            )
            return
        default = default_allowed(facts.container.runtime)
        extra = [e for e in entries if e not in default]
        if extra:
            yield EXTRA.finding(
                MEDIUM,
                f"devices allowed beyond {facts.container.runtime}'s default: "
                + ", ".join(map(_name, extra)),
                [f"{cdir.path}/devices.list: {' | '.join(extra)}"],
                facts.pid,
            )
        else:
            yield DEFAULT.finding(
                GOOD,
                f"{facts.container.runtime}'s default device allow-list",
                [f"{cdir.path}/devices.list: {len(entries)} default entries"],
                facts.pid,
            )
        return
    count = attached_device_programs(ctx.host.path(cdir.path))
    where = (
        f"{cdir.path}: BPF_CGROUP_DEVICE programs (effective): {count if count is not None else 'unknown'}"
    )
    if count is None:
        yield EBPF.finding(INFO, "device access is an eBPF program (cgroup v2); whether one is attached could not "
                                 "be queried", [where], facts.pid)  # fmt: skip
    elif count == 0:
        yield NO_FILTER.finding(HIGH, "cgroup v2 and no eBPF device program attached", [where], facts.pid)
    else:
        yield EBPF.finding(INFO, f"device access is an eBPF program (cgroup v2): {count} attached; its rules are "
                                 "not readable from /proc", [where], facts.pid)  # fmt: skip


def attached_device_programs(cgroup_dir: str) -> int | None:
    """How many BPF_CGROUP_DEVICE programs apply to a cgroup v2 directory (inherited ones too); None when the
    kernel refuses (not root, no bpf syscall, not a cgroup v2 directory)."""
    try:
        fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return attached_program_count(fd, BPF_CGROUP_DEVICE, BPF_F_QUERY_EFFECTIVE)
    finally:
        os.close(fd)
