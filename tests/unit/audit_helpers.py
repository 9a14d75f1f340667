"""Shared by the audit unit tests: audit the fixture container of an `AuditTree`."""

from __future__ import annotations

from ctrlens.audit import ContainerAudit, audit
from ctrlens.host import Host
from ctrlens.scanner import scan
from tests.fixtures.audit.tree import CID, AuditTree


def audit_tree(tree: AuditTree, *, secrets_scan: bool = False) -> ContainerAudit:
    host = Host(str(tree.root))
    snapshot = scan(host)
    return audit(snapshot, snapshot.containers[CID], host, secrets_scan=secrets_scan, strict=True)


def ids(result: ContainerAudit, floor: str = "low") -> set[str]:
    return {f.id for f in result.shown(floor)}


def finding(result: ContainerAudit, rule_id: str):
    found = [f for f in result.findings if f.id == rule_id]
    assert found, f"{rule_id} not in {sorted(f.id for f in result.findings)}"
    return found[0]
