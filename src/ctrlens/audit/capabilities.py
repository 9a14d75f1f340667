"""Capabilities: decoded to names, compared with the runtime's default set and with the HOST's bounding set.

"Privileged" is CapEff ⊇ the host's bounding set (read from a host process: here every process lacks
CAP_SYS_RESOURCE, host-facts §0). In a user namespace the caps hold only over that namespace's resources, so
each risk there is judged one step lower, and the finding says so.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..runtimes.base import CONTAINERD, CRIO, DOCKER, KUBERNETES, LXC, NSPAWN, PODMAN
from .context import AuditContext
from .facts import ContainerFacts, ProcessFacts
from .finding import CAPS, GOOD, HIGH, INFO, LOW, MEDIUM, Finding, Fix, Severity, lower, rule

# include/uapi/linux/capability.h, bits 0-40.
CAP_NAMES = (
    "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
    "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
    "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
    "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
    "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
    "CHECKPOINT_RESTORE",
)  # fmt: skip
CAP_BITS = {name: bit for bit, name in enumerate(CAP_NAMES)}


def names(mask: int) -> list[str]:
    """Bit mask -> capability names; unknown high bits as CAP_<bit>."""
    return [CAP_NAMES[b] if b < len(CAP_NAMES) else f"CAP_{b}" for b in range(64) if mask >> b & 1]


def mask_of(*caps: str) -> int:
    value = 0
    for cap in caps:
        value |= 1 << CAP_BITS[cap]
    return value


# What each runtime grants by default (a container without --cap-add/--cap-drop).
DOCKER_DEFAULT = mask_of(
    "CHOWN",
    "DAC_OVERRIDE",
    "FSETID",
    "FOWNER",
    "MKNOD",
    "NET_RAW",
    "SETGID",
    "SETUID",
    "SETFCAP",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
)  # a80425fb
PODMAN_DEFAULT = mask_of(
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)  # 800405fb
CRIO_DEFAULT = mask_of(
    "CHOWN", "DAC_OVERRIDE", "FSETID", "FOWNER", "SETGID", "SETUID", "SETPCAP", "NET_BIND_SERVICE", "KILL"
)  # crio.conf default_capabilities
NSPAWN_DEFAULT = mask_of(
    "AUDIT_CONTROL", "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_OWNER",
    "KILL", "LEASE", "LINUX_IMMUTABLE", "MKNOD", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "SETFCAP", "SETGID",
    "SETPCAP", "SETUID", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_NICE", "SYS_PTRACE", "SYS_RESOURCE",
    "SYS_TTY_CONFIG",
)  # fmt: skip
# LXC keeps everything but what lxc.cap.drop in its common.conf removes.
LXC_DROPPED = mask_of("MAC_ADMIN", "MAC_OVERRIDE", "SYS_TIME", "SYS_MODULE")
ALL_CAPS = (1 << len(CAP_NAMES)) - 1


def runtime_default(runtime: str, host_bound: int | None) -> tuple[int, str] | None:
    """The runtime's default set and how to call it; None when the runtime is not known."""
    if runtime == DOCKER:
        return DOCKER_DEFAULT, "docker's default 14"
    if runtime in (CONTAINERD, KUBERNETES):
        return DOCKER_DEFAULT, "containerd's default 14 (= docker's)"
    if runtime == PODMAN:
        return PODMAN_DEFAULT, "podman's default 11"
    if runtime == CRIO:
        return CRIO_DEFAULT, "cri-o's default 9"
    if runtime == NSPAWN:
        return NSPAWN_DEFAULT, "systemd-nspawn's default 26"
    if runtime == LXC:
        return (
            host_bound if host_bound is not None else ALL_CAPS
        ) & ~LXC_DROPPED, "LXC's default (all but 4)"
    return None


# The caps that break isolation, with how bad each is without a user namespace.
DANGEROUS: dict[str, tuple[Severity, str]] = {
    "SYS_ADMIN": (
        HIGH,
        "mount filesystems, cgroup release_agent escapes, most of the kernel's admin interfaces",
    ),
    "SYS_MODULE": (HIGH, "load kernel modules: code in the host kernel"),
    "SYS_PTRACE": (HIGH, "trace and inject into any process it can see (with --pid=host: host processes)"),
    "SYS_RAWIO": (HIGH, "raw I/O ports and /dev/mem access"),
    "DAC_READ_SEARCH": (HIGH, "open_by_handle_at: read any host file by inode (the 'shocker' escape)"),
    "BPF": (HIGH, "load eBPF programs: read kernel memory, tamper with other processes' traffic"),
    "SYS_BOOT": (HIGH, "reboot the host, kexec a new kernel"),
    "MAC_ADMIN": (HIGH, "change the AppArmor/SELinux policy that confines containers"),
    "MAC_OVERRIDE": (HIGH, "bypass the mandatory access control policy"),
    "NET_ADMIN": (
        MEDIUM,
        "reconfigure interfaces, routes and firewall of its network namespace (the host's "
        "with --net=host)".strip(),
    ),
    "PERFMON": (MEDIUM, "perf events: observe the kernel and other processes"),
    "SYS_TIME": (MEDIUM, "set the host clock (the clock is not namespaced)"),
    "SYSLOG": (MEDIUM, "read kernel logs and kernel addresses"),
    "LINUX_IMMUTABLE": (MEDIUM, "clear immutable/append-only flags on files it reaches"),
    "AUDIT_CONTROL": (MEDIUM, "change or disable the kernel audit rules"),
    "SYS_RESOURCE": (MEDIUM, "override resource limits and quotas"),
    "CHECKPOINT_RESTORE": (MEDIUM, "set PIDs of new processes, read other processes' state"),
    "IPC_OWNER": (LOW, "bypass permission checks on IPC objects it can see"),
    "SYS_NICE": (LOW, "raise its priority and starve other workloads"),
    "NET_BROADCAST": (LOW, "broadcast and listen to multicast"),
    "SYS_PACCT": (LOW, "turn process accounting on or off"),
    "SYS_TTY_CONFIG": (LOW, "vhangup and other tty configuration"),
    "WAKE_ALARM": (LOW, "set alarms that wake the system"),
    "BLOCK_SUSPEND": (LOW, "block system suspend"),
    "LEASE": (LOW, "take leases on files it does not own"),
    "IPC_LOCK": (LOW, "lock memory, escaping memory accounting"),
    "AUDIT_READ": (LOW, "read the audit log via multicast netlink"),
}
NEAR_PRIVILEGED_MISSING = 5  # at most this many host caps absent: near-privileged

_CAP_FIX = Fix(
    docker="docker run --cap-drop ALL --cap-add <only what it needs>",
    podman="podman run --cap-drop all --cap-add <only what it needs>",
    kubernetes="securityContext.capabilities: {drop: [ALL], add: [<only what it needs>]}",
    lxc="lxc.cap.drop = <caps> (or lxc.cap.keep), or an unprivileged container (lxc.idmap)",
)
PRIVILEGED = rule(
    "CTRL-CAP-PRIVILEGED", CAPS, "privileged container: every capability the host can grant",
    "The container holds every capability of the host's bounding set: it can mount host filesystems, load "
    "kernel modules, reach every device. Root in it is root on the host.",
    Fix(docker="drop --privileged; add only the capabilities needed (--cap-add)",
        podman="drop --privileged; add only the capabilities needed (--cap-add)",
        kubernetes="securityContext.privileged: false",
        lxc="an unprivileged container (lxc.idmap) and lxc.cap.drop"),
)  # fmt: skip
NEAR_PRIVILEGED = rule(
    "CTRL-CAP-NEAR-PRIVILEGED",
    CAPS,
    "near-privileged container: all but a few host capabilities",
    "Missing a handful of capabilities does not make a container safe: with SYS_ADMIN and the rest it can still "
    "mount, trace and reconfigure the host.",
    _CAP_FIX,
)
ADDED = rule(
    "CTRL-CAP-ADDED",
    CAPS,
    "capabilities beyond the runtime's default",
    "Each capability added to the runtime's default set widens what root in the container may do to the kernel.",
    _CAP_FIX,
)
AMBIENT = rule(
    "CTRL-CAP-AMBIENT", CAPS, "ambient capabilities",
    "Ambient capabilities survive execve of ordinary programs, so a non-root process keeps them in every child.",
    Fix(docker="do not set ambient capabilities in the image's entrypoint", podman="do not set ambient capabilities",
        kubernetes="do not set ambient capabilities (no securityContext field grants them)", lxc="lxc.cap.drop"),
)  # fmt: skip
RUNTIME_DEFAULT = rule(
    "CTRL-CAP-RUNTIME-DEFAULT",
    CAPS,
    "the runtime's default capabilities",
    "The runtime's default set is a compromise: most workloads need none of it (MKNOD and NET_RAW included).",
    _CAP_FIX,
)
NONE = rule(
    "CTRL-CAP-NONE",
    CAPS,
    "no effective capabilities",
    "A process without capabilities cannot use any privileged kernel interface.",
)
DANGEROUS_RULES = {
    cap: rule(f"CTRL-CAP-{cap.replace('_', '-')}", CAPS, f"dangerous capability {cap}", f"CAP_{cap}: {what}.",
              Fix(docker=f"docker run --cap-drop {cap}", podman=f"podman run --cap-drop {cap}",
                  kubernetes=f"securityContext.capabilities.drop: [{cap}]", lxc=f"lxc.cap.drop = {cap.lower()}"))
    for cap, (_, what) in DANGEROUS.items()
}  # fmt: skip


def widest(facts: ContainerFacts) -> ProcessFacts:
    """The process with the most effective capabilities (the init on ties)."""
    best = facts.init
    for proc in facts.processes[1:]:
        if proc.cap("CapEff").bit_count() > best.cap("CapEff").bit_count():
            best = proc
    return best


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    proc = widest(facts)
    eff = proc.cap("CapEff")
    userns = facts.user_namespace
    bound = ctx.cap_bound.mask
    ns_note = " (in its user namespace: over its own resources only)" if userns else ""
    evidence = [proc.field("CapEff")]
    if userns:
        evidence.append(facts.uid_map_evidence())
    if eff == 0:
        amb = proc.cap("CapAmb")
        if amb == 0:
            yield NONE.finding(GOOD, "no effective capabilities", evidence, proc.pid)
        return
    default = runtime_default(facts.container.runtime, bound)
    if bound is not None and eff & bound == bound:
        yield PRIVILEGED.finding(
            lower(HIGH) if userns else HIGH,
            f"privileged: every host capability ({len(names(bound))}){ns_note}",
            [*evidence, ctx.cap_bound.source],
            proc.pid,
        )
        return
    if bound is not None:
        missing = bound & ~eff
        if len(names(missing)) <= NEAR_PRIVILEGED_MISSING and eff & mask_of("SYS_ADMIN"):
            yield NEAR_PRIVILEGED.finding(
                lower(HIGH) if userns else HIGH,
                f"near-privileged: all host capabilities except {', '.join(names(missing))}{ns_note}",
                [*evidence, ctx.cap_bound.source],
                proc.pid,
            )
            return
    for cap in names(eff):
        if cap in DANGEROUS_RULES and (default is None or not default[0] >> CAP_BITS[cap] & 1):
            base = DANGEROUS[cap][0]
            yield DANGEROUS_RULES[cap].finding(
                lower(base) if userns else base, f"dangerous capability {cap}{ns_note}", evidence, proc.pid
            )
    if default is not None:
        extra = [c for c in names(eff & ~default[0]) if c not in DANGEROUS]
        if extra:
            yield ADDED.finding(
                LOW, f"capabilities beyond {default[1]}: {', '.join(extra)}", evidence, proc.pid
            )
        if eff & default[0] == eff:
            dropped = names(default[0] & ~eff)
            text = f"{default[1]} capabilities" if not dropped else f"{default[1]} less {', '.join(dropped)}"
            yield RUNTIME_DEFAULT.finding(INFO, text + f": {', '.join(names(eff))}", evidence, proc.pid)
    amb = proc.cap("CapAmb")
    if amb:
        yield AMBIENT.finding(MEDIUM if not userns else LOW, f"ambient capabilities: {', '.join(names(amb))}",
                              [proc.field("CapAmb")], proc.pid)  # fmt: skip
