"""Namespaces shared with the host, compared by inode with the host's (fixed inodes, kthreadd for mnt/net)."""

from __future__ import annotations

from collections.abc import Iterator

from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, HIGH, INFO, LOW, MEDIUM, NS, Finding, Fix, Severity, rule


def _fix(flag: str, kube: str | None, lxc: str | None = None) -> Fix:
    return Fix(docker=f"drop --{flag}=host", podman=f"drop --{flag}=host", kubernetes=kube, lxc=lxc)


# type -> (severity when shared, why, fix); CIS ids in audit/cis.py
SHARED: dict[str, tuple[Severity, str, Fix]] = {
    "pid": (HIGH, ("It sees and can signal every host process; with ptrace or the same uid it can read their "
            "memory and environment."), _fix("pid", "spec.hostPID: false")),
    "net": (HIGH, ("It uses the host's interfaces: it can bind host ports, reach services on localhost and sniff "
            "traffic (with NET_RAW)."), _fix("network", "spec.hostNetwork: false", "lxc.net.0.type = veth")),
    "mnt": (HIGH, "It sees the host's mount table and filesystems.", _fix("mount", None)),
    "ipc": (MEDIUM, "It shares System V IPC and POSIX message queues with host processes.",
            _fix("ipc", "spec.hostIPC: false")),
    "uts": (LOW, "It can change the host's hostname (with SYS_ADMIN) and sees it.", _fix("uts", None)),
    "cgroup": (INFO, ("It sees host cgroup paths in /proc/self/cgroup (an information leak); runtimes create a "
               "cgroup namespace by default only on cgroup v2."),
               Fix(docker="docker run --cgroupns=private", podman="podman run --cgroupns=private")),
    "time": (INFO, "No runtime creates a time namespace; shared is normal.", Fix()),
    "user": (INFO, ("Container uids are host uids: root in it is root on the host for every file it reaches. "
             "Caps are judged together with it (CAPS) and root with it (USER)."),
             Fix(docker="dockerd --userns-remap=default", podman="podman run --userns=auto",
                 kubernetes="spec.hostUsers: false", lxc="lxc.idmap = u 0 100000 65536 / g 0 100000 65536")),
}  # fmt: skip
RULES = {
    t: rule(f"CTRL-NS-{t.upper()}-HOST", NS, f"shares the host's {t} namespace", why, fix)
    for t, (_, why, fix) in SHARED.items()
}
PRIVATE = rule("CTRL-NS-PRIVATE", NS, "namespaces private", "Every namespace that isolates is its own.")


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    shared = []
    for ns_type, (severity, *_rest) in SHARED.items():
        inode = facts.namespaces.get(ns_type)
        host_inode = ctx.host_ns.get(ns_type)
        if inode is None or host_inode is None or inode != host_inode:
            continue
        shared.append(ns_type)
        title = (
            "no user namespace: container uids are host uids"
            if ns_type == "user"
            else f"shares the host's {ns_type} namespace"
        )
        yield RULES[ns_type].finding(severity, title, [(f"/proc/{facts.pid}/ns/{ns_type} -> {ns_type}:[{inode}] "
                                                       f"(the host's)")], facts.pid)  # fmt: skip
    if not any(SHARED[t][0] in (HIGH, MEDIUM, LOW) for t in shared) and any(facts.namespaces.values()):
        nspid = facts.init.status.get("NSpid")
        evidence = [facts.init.field("NSpid")] if nspid else []
        yield PRIVATE.finding(GOOD, "pid, net, mnt, ipc and uts namespaces are its own", evidence, facts.pid)
