"""Running the checks: one container (`audit_container`) or a whole snapshot (`audit_snapshot`).

Each layer module has `check(facts, ctx) -> Iterator[Finding]`; adding a check is adding a function there.
Facts are read once per container, host facts once per run (`AuditContext`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import CtrlensError, PermissionDenied, ProcessGone
from ..host import Host
from ..model import Container, Snapshot
from . import capabilities, devices, limits, lsm, mounts, namespaces, rootfs, seccomp, secrets, user
from .cis import CIS_VERSION
from .context import AuditContext
from .facts import ContainerFacts, read_facts
from .finding import (
    CAPS,
    DEVICES,
    GOOD,
    HIGH,
    INFO,
    LAYERS,
    LIMITS,
    LOW,
    LSM,
    MEDIUM,
    MOUNTS,
    NS,
    RANK,
    ROOTFS,
    SECCOMP,
    SECRETS,
    USER,
    Finding,
    count_by_severity,
)  # fmt: skip

Check = Callable[[ContainerFacts, AuditContext], Iterator[Finding]]
CHECKS: tuple[tuple[str, Check], ...] = (
    (NS, namespaces.check), (CAPS, capabilities.check), (SECCOMP, seccomp.check), (LSM, lsm.check),
    (USER, user.check), (ROOTFS, rootfs.check), (MOUNTS, mounts.check), (DEVICES, devices.check),
    (LIMITS, limits.check), (SECRETS, secrets.check),
)  # fmt: skip

# Matrix cells: the worst severity of a layer, or what the layer's informational findings say.
CELL = {HIGH: "HIGH", MEDIUM: "MED", LOW: "low"}
NOT_AVAILABLE = {"CTRL-LSM-NOT-AVAILABLE": "n/a", "CTRL-SECRETS-SKIPPED": "skip"}
UNKNOWN_RULES = ("CTRL-LIMIT-UNKNOWN", "CTRL-DEV-UNKNOWN")
UNREADABLE_LAYER = {"ns": NS, "uid_map": USER}


@dataclass(slots=True)
class ContainerAudit:
    container: Container
    findings: list[Finding] = field(default_factory=list)
    pid: int | None = None
    errors: list[str] = field(default_factory=list)  # layers that could not be checked, and why
    denied: list[str] = field(default_factory=list)  # of those, layers /proc refused for lack of privilege
    gone: bool = False  # the container exited before (or while) it was audited
    facts: ContainerFacts | None = None  # what the checks read (for faces that show more than findings)

    @property
    def in_pod(self) -> bool:
        return self.container.pod is not None and bool(self.container.pod.name or self.container.pod.uid)

    @property
    def pod_ref(self) -> str | None:
        """NS/NAME of the container's pod (what its fixes of pod-level fields name), else None."""
        return self.container.pod.ref if self.container.pod else None

    def worst(self) -> str:
        return max((f.severity for f in self.findings), key=RANK.__getitem__, default=GOOD)

    def layer_status(self, layer: str) -> str:
        """HIGH, MED, low, ok, n/a (not available on this host), skip, or ? (could not be read)."""
        found = [f for f in self.findings if f.layer == layer]
        worst = max((f.severity for f in found), key=RANK.__getitem__, default=None)
        if worst in CELL:
            return CELL[worst]
        for f in found:
            if f.id in NOT_AVAILABLE:
                return NOT_AVAILABLE[f.id]
        if any(f.id in UNKNOWN_RULES for f in found) or any(e.startswith(layer + ":") for e in self.errors):
            return "?"
        return "ok"

    def counts(self) -> dict[str, int]:
        """Findings per severity, secrets included: the one count the CLI, TUI and exporter report."""
        return count_by_severity(self.findings)

    def summary(self) -> dict[str, str]:
        return {layer: self.layer_status(layer) for layer in LAYERS}

    def shown(self, floor: str) -> list[Finding]:
        """Findings at or above `floor`, most severe first (stable within a severity: layer order)."""
        chosen = [f for f in self.findings if RANK[f.severity] >= RANK[floor]]
        return sorted(chosen, key=lambda f: -RANK[f.severity])

    def to_dict(self, floor: str = INFO) -> dict[str, Any]:
        c = self.container
        return {
            "container": c.brief(),
            "id": c.id,
            "name": c.display_name,
            "runtime": c.runtime,
            "pid": self.pid,
            "worst": str(self.worst()),
            "summary": self.summary(),
            "counts": self.counts(),
            "findings": [f.to_dict(c.runtime, self.in_pod, self.pod_ref) for f in self.shown(floor)],
            "errors": list(self.errors),
            "gone": self.gone,
            "benchmark": CIS_VERSION,
        }


def audit_container(
    snapshot: Snapshot,
    container: Container,
    host: Host,
    *,
    context: AuditContext | None = None,
    secrets_scan: bool = True,
) -> list[Finding]:
    """Every finding for one container (GOOD and INFO included). Raises ProcessGone if it exited, PermissionDenied
    when /proc refuses (not root). Pass one `context` when auditing many containers."""
    result = audit(snapshot, container, host, context=context, secrets_scan=secrets_scan, strict=True)
    return result.findings


def audit(
    snapshot: Snapshot,
    container: Container,
    host: Host,
    *,
    context: AuditContext | None = None,
    secrets_scan: bool = True,
    strict: bool = False,
) -> ContainerAudit:
    """A `ContainerAudit`. Unless `strict`, a container that exited comes back with `gone=True`."""
    ctx = context or AuditContext(snapshot, host)
    result = ContainerAudit(container, pid=container.init_pid)
    try:
        facts = read_facts(container, host)
    except ProcessGone:
        if strict:
            raise
        result.gone = True
        return result
    except (OSError, CtrlensError) as exc:
        if strict or isinstance(exc, PermissionDenied):
            raise
        result.errors = [f"{layer}: {exc}" for layer in LAYERS]  # nothing checked: every cell "?"
        return result
    result.facts = facts
    for what in facts.unreadable:  # not root: say so in the layer instead of reporting "ok"
        result.errors.append(f"{UNREADABLE_LAYER.get(what, what)}: /proc/{facts.pid}/{what} unreadable")
        result.denied.append(UNREADABLE_LAYER.get(what, what))
    for layer, check in CHECKS:
        if layer == SECRETS and not secrets_scan:
            result.findings.append(secrets.skipped(facts, "--no-secrets"))
            continue
        try:
            result.findings.extend(check(facts, ctx))
        except ProcessGone:
            if strict:
                raise
            result.gone = True
            return result
        except PermissionDenied as exc:
            result.errors.append(f"{layer}: {exc}")
            result.denied.append(layer)
        except (CtrlensError, OSError, ValueError) as exc:
            result.errors.append(f"{layer}: {exc}")
    return result


def audit_snapshot(
    snapshot: Snapshot,
    host: Host,
    containers: Iterable[Container] | None = None,
    *,
    secrets_scan: bool = True,
) -> list[ContainerAudit]:
    """Audits of every container (or the given ones), sorted by name; containers that exited are marked gone."""
    ctx = AuditContext(snapshot, host)
    chosen = list(snapshot.containers.values() if containers is None else containers)
    chosen.sort(key=lambda c: (c.display_name, c.id))
    return [audit(snapshot, c, host, context=ctx, secrets_scan=secrets_scan) for c in chosen]


__all__ = ["CHECKS", "ContainerAudit", "audit", "audit_container", "audit_snapshot"]
