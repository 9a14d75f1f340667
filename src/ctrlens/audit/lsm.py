"""AppArmor and SELinux confinement, from attr/apparmor/current (5.8+) then attr/current.

On a host with neither (here: AppArmor not built, SELinux built but inactive, attr/current gives EINVAL) the
check says "not available on this host" as INFO: never a finding against the container.
"""

from __future__ import annotations

from collections.abc import Iterator

from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, INFO, LOW, LSM, MEDIUM, Finding, Fix, rule

NOT_AVAILABLE = rule(
    "CTRL-LSM-NOT-AVAILABLE",
    LSM,
    "no LSM on this host",
    "Neither AppArmor nor SELinux is active on this host, so no container can be confined by one.",
)
APPARMOR_UNCONFINED = rule(
    "CTRL-LSM-APPARMOR-UNCONFINED", LSM, "AppArmor: unconfined",
    "AppArmor is active on the host but this container runs unconfined: the docker-default profile's denials "
    "(mount, /proc/sys writes, /sys/kernel/security…) do not apply.",
    Fix(docker="drop --security-opt apparmor=unconfined (docker-default applies)",
        podman="drop --security-opt apparmor=unconfined (containers-default applies)",
        kubernetes="securityContext.appArmorProfile.type: RuntimeDefault",
        lxc="lxc.apparmor.profile = generated"),
)  # fmt: skip
APPARMOR_COMPLAIN = rule(
    "CTRL-LSM-APPARMOR-COMPLAIN", LSM, "AppArmor profile in complain mode",
    "A profile in complain mode logs what it would deny and denies nothing.",
    Fix(docker="aa-enforce <profile>", podman="aa-enforce <profile>", kubernetes="aa-enforce <profile> on the node",
        lxc="aa-enforce <profile>"),
)  # fmt: skip
SELINUX_UNCONFINED = rule(
    "CTRL-LSM-SELINUX-UNCONFINED", LSM, "SELinux: unconfined type",
    "SELinux is active but the container runs as spc_t/unconfined_t (label=disable or privileged), so the "
    "container_t policy that keeps it off host files does not apply.",
    Fix(docker="drop --security-opt label=disable", podman="drop --security-opt label=disable",
        kubernetes="securityContext.seLinuxOptions.type: container_t (or unset)", lxc="lxc.selinux.context"),
)  # fmt: skip
CONFINED = rule(
    "CTRL-LSM-CONFINED",
    LSM,
    "confined by an LSM profile",
    "A mandatory access control profile limits what root in the container can touch.",
)

UNCONFINED_SELINUX_TYPES = ("spc_t", "unconfined_t", "kernel_t", "initrc_t", "unconfined_service_t")


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    label = facts.lsm
    if label.apparmor is None and label.selinux is None:
        reason = f"attr/current: {label.error}" if label.error else "no label"
        if not ctx.lsm.any:
            yield NOT_AVAILABLE.finding(
                INFO,
                "not available on this host (neither AppArmor nor SELinux is active)",
                [f"/proc/{facts.pid}/attr/current: {reason}"],
                facts.pid,
            )
        return
    evidence = [f"{label.source}: {label.selinux or label.apparmor}"]
    if label.selinux is not None:
        ctype = label.selinux.split(":")[2]
        if ctype in UNCONFINED_SELINUX_TYPES:
            yield SELINUX_UNCONFINED.finding(
                MEDIUM, f"SELinux type {ctype}: not confined", evidence, facts.pid
            )
        else:
            yield CONFINED.finding(GOOD, f"SELinux type {ctype}", evidence, facts.pid)
        return
    profile = label.apparmor or ""
    if profile == "unconfined" or profile.endswith("(unconfined)"):
        yield APPARMOR_UNCONFINED.finding(MEDIUM, "AppArmor: unconfined", evidence, facts.pid)
    elif profile.endswith("(complain)"):
        yield APPARMOR_COMPLAIN.finding(LOW, f"AppArmor profile {profile}", evidence, facts.pid)
    else:
        yield CONFINED.finding(GOOD, f"AppArmor profile {profile}", evidence, facts.pid)
