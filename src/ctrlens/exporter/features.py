"""Sources backed by the feature packages: `ctrlens.audit` (posture findings), `ctrlens.secrets` (counts only),
`ctrlens.diff` (drift). Each is slow next to a scan, so each is `expensive` (it shares --slow-budget) and cached.

Nothing here keeps a secret: the secrets source turns a report into one number before returning.
"""

from __future__ import annotations

from typing import Any

from ..errors import ProcessGone
from ..host import Host
from ..model import Container, Snapshot
from ..mounts import read_mounts, root_fs
from .catalog import SEVERITIES
from .sources import PartialFacts, Sample, flag, open_init

PRIVILEGED_RULES = ("CTRL-CAP-PRIVILEGED", "CTRL-CAP-NEAR-PRIVILEGED")
SENSITIVE_MOUNT_RULES = ("CTRL-MOUNT-RUNTIME-SOCKET", "CTRL-MOUNT-HOST-PATH", "CTRL-MOUNT-RW-SUBMOUNT")
LIMIT_RULES = {
    "memory": ("CTRL-LIMIT-MEMORY", "ctrlens_container_memory_unlimited"),
    "pids": ("CTRL-LIMIT-PIDS", "ctrlens_container_pids_unlimited"),
}


class _PerSnapshot:
    """A helper built once per snapshot (an audit context, a secrets scanner), on first need."""

    def __init__(self) -> None:
        self._for: int | None = None
        self._value: Any = None

    def get(self, snapshot: Snapshot, make: Any) -> Any:
        if self._for != id(snapshot):
            self._value, self._for = make(), id(snapshot)
        return self._value


class AuditSource:
    """Privileged, seccomp, added capabilities, sensitive mounts, missing limits, finding counts by severity."""

    stage = "audit"
    ttl: float | None = (
        120.0  # at most this often while processes come and go (`docker exec` without seccomp)
    )
    expensive = True
    follows_processes = True
    max_age: float | None = 3600.0  # limits change out of band (`docker update`)

    def __init__(self, host: Host) -> None:
        from ..audit import AuditContext, audit
        from ..audit.capabilities import names, runtime_default, widest

        self.host = host
        self._audit = audit  # the CLI's own audit, secrets layer included: one findings count for every face
        self._context_type = AuditContext
        self._names, self._runtime_default, self._widest = names, runtime_default, widest
        self._context = _PerSnapshot()

    def measure(self, container: Container, snapshot: Snapshot) -> list[Sample]:
        ctx = self._context.get(snapshot, lambda: self._context_type(snapshot, self.host))
        result = self._audit(snapshot, container, self.host, context=ctx)
        if result.gone or result.facts is None:
            raise ProcessGone(f"container {container.id} exited")
        facts = result.facts
        findings = result.findings
        failed = [error.split(":", 1)[0] for error in result.errors]
        ids = {f.id for f in findings}
        samples = [
            Sample("ctrlens_container_privileged", (), flag(bool(ids & set(PRIVILEGED_RULES)))),
            Sample("ctrlens_container_seccomp_disabled", (), flag("CTRL-SECCOMP-DISABLED" in ids)),
            Sample(
                "ctrlens_container_sensitive_mounts",
                (),
                float(sum(1 for f in findings if f.id in SENSITIVE_MOUNT_RULES)),
            ),
        ]
        counts = result.counts()
        samples += [Sample("ctrlens_container_findings", (sev,), float(counts[sev])) for sev in SEVERITIES]
        default = self._runtime_default(container.runtime, ctx.cap_bound.mask)
        if default is not None:
            effective = self._widest(facts).cap("CapEff")
            samples.append(
                Sample(
                    "ctrlens_container_added_capabilities",
                    (),
                    float(len(self._names(effective & ~default[0]))),
                )
            )
        for controller, (rule_id, metric) in LIMIT_RULES.items():
            unknown = any(f.id == "CTRL-LIMIT-UNKNOWN" and f.title.startswith(controller) for f in findings)
            if "limits" not in failed and not unknown:
                samples.append(Sample(metric, (), flag(rule_id in ids)))
        if failed:
            raise PartialFacts(samples, f"audit layers unreadable: {', '.join(failed)}")
        return samples


class SecretsSource:
    """How many secrets each container exposes in its processes' environments and command lines."""

    stage = "secrets"
    ttl: float | None = 120.0  # environments are fixed at exec: new processes are what changes
    expensive = True
    follows_processes = True
    max_age: float | None = 3600.0

    def __init__(self, host: Host) -> None:
        from ..secrets import Fingerprinter, SecretScanner

        self.host = host
        self._scanner_type = SecretScanner
        # A per-run key: fingerprints are not shown, and the host key file may sit on a read-only mount.
        self._fingerprint = Fingerprinter.for_run()
        self._scanner = _PerSnapshot()

    def measure(self, container: Container, snapshot: Snapshot) -> list[Sample]:
        scanner = self._scanner.get(
            snapshot, lambda: self._scanner_type(snapshot, fingerprint=self._fingerprint, proc=self.host.proc)
        )
        report = scanner.scan(container)  # findings carry fingerprints, never values; only the count leaves
        samples = [Sample("ctrlens_container_secrets_exposed", (), float(len(report.records)))]
        if report.processes_denied:
            raise PartialFacts(samples, "environments unreadable (CAP_SYS_PTRACE missing?)")
        return samples


class DriftSource:
    """Files changed in the container's writable layer since it started, and new executables among them.

    Overlay containers only: for the others (LXC, nspawn, a bare namespace on the host's /) the diff package
    walks the whole root filesystem by mtime, which can take many seconds; `ctrlens diff` does that on demand.
    """

    stage = "drift"
    ttl: float | None = 300.0  # files change without new processes: by time only
    expensive = True
    follows_processes = False
    max_age: float | None = None

    def __init__(self, host: Host) -> None:
        from ..diff import diff_container

        self.host = host
        self._diff = diff_container

    def measure(self, container: Container, snapshot: Snapshot) -> list[Sample]:
        with open_init(container, snapshot, self.host) as handle:
            fs = root_fs(read_mounts(handle))  # one mountinfo read tells overlay from the rest
        if fs is None or fs.fstype != "overlay":
            return []
        result = self._diff(snapshot, container, self.host)
        return [
            Sample("ctrlens_container_drift_files", (), float(len(result.changes))),
            Sample("ctrlens_container_drift_executables", (), float(len(result.new_executables))),
        ]
