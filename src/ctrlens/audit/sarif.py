"""Audit results as SARIF 2.1.0, through the one builder (`ctrlens.sarif`)."""

from __future__ import annotations

import hashlib
from typing import Any

from ..sarif import SarifResult, SarifRule, container_location, sarif_log
from .cis import CIS_VERSION
from .finding import GOOD, HIGH, INFO, LOW, MEDIUM, RULES, Rule
from .run import ContainerAudit

LEVEL = {HIGH: "error", MEDIUM: "warning", LOW: "note", INFO: "note", GOOD: "none"}


def _rule(rule: Rule) -> SarifRule:
    help_lines = [rule.why]
    if rule.fix:
        help_lines += [f"Fix ({runtime}): {text}" for runtime, text in rule.fix.to_dict().items() if text]
    if rule.cis:
        help_lines.append(f"{CIS_VERSION}: {rule.cis}")
    tags = ["security", "container-isolation", rule.layer] + ([f"CIS-{rule.cis}"] if rule.cis else [])
    return SarifRule(rule.id, rule.id, rule.name, rule.why, "warning", "\n".join(help_lines), tuple(tags))


def to_sarif(audits: list[ContainerAudit], floor: str) -> dict[str, Any]:
    results = []
    for audit in audits:
        c = audit.container
        where = container_location(c.id, c.display_name)
        for f in audit.shown(floor):
            digest = hashlib.sha256(f"{c.id}\0{f.id}\0{f.title}".encode()).hexdigest()[:32]
            fix = f.fix.for_runtime(c.runtime, audit.in_pod, audit.pod_ref) if f.fix else None
            results.append(SarifResult(
                f.id, f"{c.display_name}: {f.title}", [where], level=LEVEL[f.severity],
                fingerprints={"ctrlensFinding/v1": digest},
                properties={"severity": f.severity, "layer": f.layer, "evidence": list(f.evidence), "pid": f.pid,
                            "runtime": c.runtime, "fix": fix, "cis": f.cis},
            ))  # fmt: skip
    rules = [_rule(r) for r in sorted(RULES.values(), key=lambda r: r.id)]
    return sarif_log(rules, results, properties={"benchmark": CIS_VERSION, "severityFloor": floor})
