"""Seccomp and no_new_privs, per process: `docker exec` can start a process with neither."""

from __future__ import annotations

from collections.abc import Iterator

from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, LOW, MEDIUM, SECCOMP, Finding, Fix, rule

DISABLED = rule(
    "CTRL-SECCOMP-DISABLED", SECCOMP, "seccomp disabled",
    "Without a seccomp filter every system call is open to it, including the rarely used ones most kernel "
    "exploits go through (unshare, keyctl, io_uring, bpf…).",
    Fix(docker="drop --security-opt seccomp=unconfined (the default profile applies)",
        podman="drop --security-opt seccomp=unconfined",
        kubernetes="securityContext.seccompProfile.type: RuntimeDefault",
        lxc="lxc.seccomp.profile = /usr/share/lxc/config/common.seccomp"),
)  # fmt: skip
NNP_UNSET = rule(
    "CTRL-NNP-UNSET", SECCOMP, "no-new-privileges not set",
    "Without no_new_privs a setuid-root or file-capability binary in the image gives its caps back to a "
    "process that dropped them.",
    Fix(docker="docker run --security-opt no-new-privileges", podman="podman run --security-opt no-new-privileges",
        kubernetes="securityContext.allowPrivilegeEscalation: false", lxc="lxc.no_new_privs = 1"),
)  # fmt: skip
FILTERED = rule(
    "CTRL-SECCOMP-ON",
    SECCOMP,
    "seccomp filter and no_new_privs",
    "A syscall filter and no_new_privs narrow what a compromised process can ask of the kernel.",
)

MODES = {0: "disabled", 1: "strict", 2: "filter"}


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    off = [p for p in facts.processes if p.number("Seccomp") == 0]
    if off:
        pids = ", ".join(str(p.pid) for p in off[:8])
        who = "every process" if len(off) == len(facts.processes) else f"process {pids}"
        yield DISABLED.finding(
            MEDIUM,
            f"seccomp disabled ({who})",
            [off[0].field("Seccomp"), off[0].field("Seccomp_filters")],
            off[0].pid,
        )
    nnp_off = [p for p in facts.processes if p.number("NoNewPrivs") == 0]
    if nnp_off:
        pids = ", ".join(str(p.pid) for p in nnp_off[:8])
        who = "" if len(nnp_off) == len(facts.processes) else f" (process {pids})"
        yield NNP_UNSET.finding(
            LOW, f"no-new-privileges not set{who}", [nnp_off[0].field("NoNewPrivs")], nnp_off[0].pid
        )
    if not off and not nnp_off and facts.init.number("Seccomp") is not None:
        mode = MODES.get(facts.init.number("Seccomp") or 0, "?")
        yield FILTERED.finding(
            GOOD,
            f"seccomp {mode} and no_new_privs on every process",
            [facts.init.field("Seccomp"), facts.init.field("NoNewPrivs")],
            facts.pid,
        )
