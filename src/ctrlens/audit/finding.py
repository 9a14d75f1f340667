"""What an audit check says: a `Rule` (stable id, why, fix per runtime, CIS id) and the `Finding` it raised.

Rules are registered once, at import, by the layer modules; SARIF lists them as its `rules`, and `ctrlens audit
--explain ID` prints one. A `Finding` is the rule applied to one container: a severity, a specific title and the
evidence, quoted from /proc (a status field, a mount line) or from cgroupfs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .cis import cis_id


class Severity(StrEnum):
    """A finding's severity; its value is what JSON, SARIF and the exporter's label carry."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"
    GOOD = "good"


class Layer(StrEnum):
    """An audit layer (a column of the summary matrix), in matrix order."""

    NS = "ns"
    CAPS = "caps"
    SECCOMP = "seccomp"
    LSM = "lsm"
    USER = "user"
    ROOTFS = "rootfs"
    MOUNTS = "mounts"
    DEVICES = "devices"
    LIMITS = "limits"
    SECRETS = "secrets"


HIGH, MEDIUM, LOW, INFO, GOOD = Severity  # the layer modules' shorthands
SEVERITIES = tuple(Severity)
RANK: dict[str, int] = {GOOD: 0, INFO: 1, LOW: 2, MEDIUM: 3, HIGH: 4}

NS, CAPS, SECCOMP, LSM, USER, ROOTFS, MOUNTS, DEVICES, LIMITS, SECRETS = Layer
LAYERS = tuple(Layer)


def at_least(severity: str, floor: str) -> bool:
    return RANK[Severity(severity)] >= RANK[Severity(floor)]


def lower(severity: Severity) -> Severity:
    """One step less severe (high -> medium …), for risks a user namespace contains."""
    return {HIGH: MEDIUM, MEDIUM: LOW}.get(severity, severity)


def count_by_severity(findings: list[Finding]) -> dict[str, int]:
    """How many findings of each severity: THE count every face reports (CLI table and JSON, TUI, exporter)."""
    counts = dict.fromkeys(SEVERITIES, 0)
    for f in findings:
        counts[f.severity] += 1
    return {str(s): n for s, n in counts.items()}


POD_SPEC = "spec."  # a Kubernetes fix on the pod's spec (hostNetwork, hostPID, hostIPC, hostUsers), not a container's


@dataclass(frozen=True, slots=True)
class Fix:
    """How to fix it, in each runtime's own terms."""

    docker: str | None = None
    podman: str | None = None
    kubernetes: str | None = None  # a securityContext (or pod spec) field
    lxc: str | None = None  # a container config key

    def for_runtime(self, runtime: str, in_pod: bool, pod: str | None = None) -> str | None:
        """The fix in the terms the runtime's plugin names (runtimes/plugin.py FixDialect). `pod` ("NS/NAME"):
        a pod-level field (`spec.…`) is set once for the whole pod, so its fix says which pod."""
        from ..runtimes import FixDialect, runtime_plugin

        plugin = runtime_plugin(runtime)
        dialect = FixDialect.KUBERNETES if in_pod else (plugin.fix_dialect if plugin else FixDialect.NONE)
        if dialect == FixDialect.KUBERNETES:
            if self.kubernetes and pod and self.kubernetes.startswith(POD_SPEC):
                return f"{self.kubernetes} in pod {pod}"
            return self.kubernetes or self.docker
        if dialect == FixDialect.PODMAN:
            return self.podman or self.docker
        if dialect == FixDialect.LXC:
            return self.lxc
        return self.docker  # docker, containerd outside Kubernetes (nerdctl takes docker's flags), the rest

    def to_dict(self) -> dict[str, str | None]:
        return {"docker": self.docker, "podman": self.podman, "kubernetes": self.kubernetes, "lxc": self.lxc}


@dataclass(frozen=True, slots=True)
class Rule:
    id: str  # stable: CTRL-<LAYER>-<WHAT>
    layer: Layer
    name: str  # a short generic title (the finding's title is specific)
    why: str
    fix: Fix | None = None

    @property
    def cis(self) -> str | None:
        """The CIS recommendation this rule's finding fails, in the benchmark version followed (audit/cis.py)."""
        return cis_id(self.id)

    def finding(self, severity: Severity, title: str, evidence: list[str], pid: int | None = None) -> Finding:
        return Finding(self, severity, title, list(evidence), pid)


RULES: dict[str, Rule] = {}


def rule(id: str, layer: Layer, name: str, why: str, fix: Fix | None = None) -> Rule:
    """Define (once) and register a rule. Its CIS id comes from the table in audit/cis.py."""
    if id in RULES:
        raise ValueError(f"audit rule {id} defined twice")
    RULES[id] = Rule(id, layer, name, why, fix)
    return RULES[id]


@dataclass(slots=True)
class Finding:
    rule: Rule
    severity: Severity
    title: str
    evidence: list[str] = field(default_factory=list)  # exact /proc fields, mount lines, cgroup files
    pid: int | None = None  # the host pid the evidence was read from

    @property
    def id(self) -> str:
        return self.rule.id

    @property
    def layer(self) -> Layer:
        return self.rule.layer

    @property
    def cis(self) -> str | None:
        return self.rule.cis

    @property
    def why(self) -> str:
        return self.rule.why

    @property
    def fix(self) -> Fix | None:
        return self.rule.fix

    def to_dict(
        self, runtime: str | None = None, in_pod: bool = False, pod: str | None = None
    ) -> dict[str, Any]:
        fix = self.rule.fix
        return {
            "id": self.id,
            "severity": str(self.severity),
            "layer": str(self.layer),
            "title": self.title,
            "evidence": list(self.evidence),
            "pid": self.pid,
            "why": self.why,
            "fix": fix.for_runtime(runtime, in_pod, pod) if fix and runtime else None,
            "fixes": fix.to_dict() if fix else None,
            "cis": self.cis,
        }
