"""Who the container's processes are in HOST terms: /proc/PID/status Uid is already translated through the
uid_map into the reader's (the host's) user namespace (host-facts §4), so uid 0 there is host root."""

from __future__ import annotations

from collections.abc import Iterator

from ..procfs import IdMapRange
from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, INFO, MEDIUM, USER, Finding, Fix, rule

ROOT = rule(
    "CTRL-USER-ROOT", USER, "runs as root on the host",
    "Its processes run as uid 0 without a user namespace: a file or device that escapes the container's view "
    "(a bind mount, a leaked fd, a kernel bug) is reached as host root.",
    Fix(docker="docker run --user <uid>:<gid> (or USER in the image), or dockerd --userns-remap",
        podman="podman run --user <uid>:<gid>, or --userns=auto",
        kubernetes="securityContext.runAsNonRoot: true, runAsUser: <uid>",
        lxc="an unprivileged container: lxc.idmap = u 0 100000 65536"),
)  # fmt: skip
REMAPPED = rule(
    "CTRL-USER-REMAPPED",
    USER,
    "root inside, an unprivileged uid on the host",
    "A user namespace maps container root to an ordinary host uid.",
)
NON_ROOT = rule(
    "CTRL-USER-NONROOT",
    USER,
    "runs as a non-root uid",
    "Not root: most of the kernel's privileged interfaces and root-owned host files are out of reach.",
)
HOST_ACCOUNT = rule(
    "CTRL-USER-HOST-ACCOUNT", USER, "its uid is a host account",
    "Without a user namespace a host user with the same uid can read its /proc/PID/environ and signal it "
    "(host-facts §5).",
    Fix(docker="pick a uid no host account uses", podman="podman run --userns=auto",
        kubernetes="spec.hostUsers: false", lxc="lxc.idmap"),
)  # fmt: skip


def inside_uid(ranges: list[IdMapRange], host_uid: int) -> int | None:
    """The uid inside the container of a host uid (the inverse of the uid_map)."""
    for r in ranges:
        if r.outside <= host_uid < r.outside + r.count:
            return r.inside + (host_uid - r.outside)
    return None


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    roots = [p for p in facts.processes if p.euid == 0]
    if roots:
        proc = roots[0]
        who = (
            "every process"
            if len(roots) == len(facts.processes)
            else f"{len(roots)} of {len(facts.processes)} processes"
        )
        yield ROOT.finding(MEDIUM, f"runs as root, host uid 0 ({who})", [proc.field("Uid"), facts.uid_map_evidence()],
                           proc.pid)  # fmt: skip
        return
    euid = facts.init.euid
    if euid is None:
        return
    inside = inside_uid(facts.uid_map, euid) if facts.user_namespace else euid
    evidence = [facts.init.field("Uid"), facts.uid_map_evidence()]
    if facts.user_namespace and inside == 0:
        yield REMAPPED.finding(GOOD, f"root inside its user namespace = host uid {euid}", evidence, facts.pid)
        return
    yield NON_ROOT.finding(GOOD, f"runs as host uid {euid}" + (f" (uid {inside} inside)" if inside != euid else ""),
                           evidence, facts.pid)  # fmt: skip
    account = ctx.account(euid)
    if not facts.user_namespace and account:
        yield HOST_ACCOUNT.finding(
            INFO, f"uid {euid} is the host account {account!r}", [facts.init.field("Uid")], facts.pid
        )
