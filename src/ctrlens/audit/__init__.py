"""`ctrlens audit`: the isolation each container really has, read from /proc and cgroupfs alone.

    from ctrlens.audit import audit_container, audit_snapshot, AuditContext
    findings = audit_container(snapshot, container, host)        # list[Finding], GOOD/INFO included
    reports = audit_snapshot(snapshot, host)                     # list[ContainerAudit], one context for all
    reports[0].summary()                                         # {"ns": "ok", "caps": "HIGH", …}
    [f.to_dict("docker") for f in findings]                      # id, severity, title, evidence, why, fix, cis

One module per layer (namespaces, capabilities, seccomp, lsm, user, rootfs, mounts, devices, limits, secrets),
each with `check(facts, ctx)`. Rule ids are stable (`CTRL-NS-PID-HOST`); `RULES` lists them all.
"""

from __future__ import annotations

from .cis import CIS_IDS, CIS_VERSION
from .context import AuditContext
from .facts import ContainerFacts, read_facts
from .finding import LAYERS, RANK, RULES, SEVERITIES, Finding, Fix, Layer, Rule, Severity, at_least
from .run import CHECKS, ContainerAudit, audit, audit_container, audit_snapshot

__all__ = [
    "CHECKS",
    "CIS_IDS",
    "CIS_VERSION",
    "LAYERS",
    "RANK",
    "RULES",
    "SEVERITIES",
    "AuditContext",
    "ContainerAudit",
    "ContainerFacts",
    "Finding",
    "Fix",
    "Layer",
    "Rule",
    "Severity",
    "at_least",
    "audit",
    "audit_container",
    "audit_snapshot",
    "read_facts",
]  # fmt: skip
