"""Which CIS Docker Benchmark recommendation each audit rule fails, per benchmark version.

A rule has a CIS id only when its finding means the container fails that recommendation as the benchmark's
audit procedure states it (so CTRL-CAP-RUNTIME-DEFAULT has none: 5.4 faults capabilities *added* to the
default; CTRL-NS-USER-HOST has none: 5.31 faults `--userns=host`, which /proc cannot tell from a daemon
without userns-remap).

Sources for v1.6.0 (section 5 was renumbered there: 5.1 became "swarm mode not enabled", every other
section-5 id moved up by one):
- docker/docker-bench-security v1.6.0 ("Based on the CIS Docker Benchmark 1.6.0"), tests/5_container_runtime.sh:
  check_5_1 … check_5_32; its printed ids and titles, e.g. "5.16 - Ensure that the host's process namespace
  is not shared", "5.32 - Ensure that the Docker socket is not mounted inside any containers".
- turbot/steampipe-mod-docker-compliance, cis_v160/docs/cis_v160_5_*.md: the same numbering (5.15 restart
  policy "limit the restart attempts to 5", 5.16 host process namespace, 5.32 Docker socket).
- The benchmark's own audit text for 5.15 (restart policy): `always` is not compliant; `on-failure` must have a
  MaximumRetryCount of 5 or less. docs/audit.md lists where docker-bench-security's code differs from it.
v1.7.0 is not in the table: no primary source for its numbering was at hand.
"""

from __future__ import annotations

CIS_BENCHMARK = "CIS Docker Benchmark"
FOLLOWED = "v1.6.0"
CIS_VERSION = f"{CIS_BENCHMARK} {FOLLOWED}"

# The capabilities that have a rule of their own (audit/capabilities.py DANGEROUS): each is a cap beyond the
# runtime's default, i.e. one 5.4 faults.
_ADDABLE_CAPS = (
    "SYS-ADMIN", "SYS-MODULE", "SYS-PTRACE", "SYS-RAWIO", "DAC-READ-SEARCH", "BPF", "SYS-BOOT", "MAC-ADMIN",
    "MAC-OVERRIDE", "NET-ADMIN", "PERFMON", "SYS-TIME", "SYSLOG", "LINUX-IMMUTABLE", "AUDIT-CONTROL",
    "SYS-RESOURCE", "CHECKPOINT-RESTORE", "IPC-OWNER", "SYS-NICE", "NET-BROADCAST", "SYS-PACCT",
    "SYS-TTY-CONFIG", "WAKE-ALARM", "BLOCK-SUSPEND", "LEASE", "IPC-LOCK", "AUDIT-READ",
)  # fmt: skip

# version -> rule id -> recommendation id. Section 4 (images) keeps its numbering across these versions.
CIS_IDS: dict[str, dict[str, str]] = {
    "v1.6.0": {
        "CTRL-USER-ROOT": "4.1",  # Ensure that a user for the container has been created
        "CTRL-LSM-APPARMOR-UNCONFINED": "5.2",  # Ensure that, if applicable, an AppArmor Profile is enabled
        "CTRL-LSM-APPARMOR-COMPLAIN": "5.2",
        "CTRL-LSM-SELINUX-UNCONFINED": "5.3",  # Ensure that, if applicable, SELinux security options are set
        "CTRL-CAP-ADDED": "5.4",  # Ensure that Linux kernel capabilities are restricted within containers
        "CTRL-CAP-NEAR-PRIVILEGED": "5.4",
        **{f"CTRL-CAP-{cap}": "5.4" for cap in _ADDABLE_CAPS},  # one rule per dangerous capability added
        "CTRL-CAP-PRIVILEGED": "5.5",  # Ensure that privileged containers are not used
        "CTRL-MOUNT-HOST-PATH": "5.6",  # Ensure sensitive host system directories are not mounted on containers
        "CTRL-NS-NET-HOST": "5.10",  # Ensure that the host's network namespace is not shared
        "CTRL-LIMIT-MEMORY": "5.11",  # Ensure that the memory usage for containers is limited
        "CTRL-LIMIT-CPU": "5.12",  # Ensure that CPU priority is set appropriately on containers
        "CTRL-ROOTFS-WRITABLE": "5.13",  # Ensure that the container's root filesystem is mounted as read only
        "CTRL-LIMIT-RESTART": "5.15",  # Ensure that the 'on-failure' container restart policy is set to '5'
        "CTRL-NS-PID-HOST": "5.16",  # Ensure that the host's process namespace is not shared
        "CTRL-NS-IPC-HOST": "5.17",  # Ensure that the host's IPC namespace is not shared
        "CTRL-DEV-ALL": "5.18",  # Ensure that host devices are not directly exposed to containers
        "CTRL-DEV-EXTRA": "5.18",
        "CTRL-DEV-NO-FILTER": "5.18",
        "CTRL-MOUNT-PROPAGATION-SHARED": "5.20",  # Ensure mount propagation mode is not set to shared
        "CTRL-NS-UTS-HOST": "5.21",  # Ensure that the host's UTS namespace is not shared
        "CTRL-SECCOMP-DISABLED": "5.22",  # Ensure the default seccomp profile is not Disabled
        "CTRL-NNP-UNSET": "5.26",  # Ensure that the container is restricted from acquiring additional privileges
        "CTRL-LIMIT-PIDS": "5.29",  # Ensure that the PIDs cgroup limit is used
        "CTRL-MOUNT-RUNTIME-SOCKET": "5.32",  # Ensure that the Docker socket is not mounted inside any containers
    },
}


def cis_id(rule_id: str, version: str = FOLLOWED) -> str | None:
    """The recommendation `rule_id` fails in `version` of the benchmark, or None."""
    return CIS_IDS[version].get(rule_id)


__all__ = ["CIS_BENCHMARK", "CIS_IDS", "CIS_VERSION", "FOLLOWED", "cis_id"]
