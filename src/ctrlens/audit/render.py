"""Text views of audit results: the containers × layers matrix (readable at 80 columns) and the findings."""

from __future__ import annotations

from collections.abc import Iterable

from ..text import cut, safe_text
from .cis import CIS_VERSION
from .finding import HIGH, LAYERS, LOW, MEDIUM, RANK, Finding, Rule
from .run import ContainerAudit

HEADERS = {"ns": "NS", "caps": "CAPS", "seccomp": "SECCOMP", "lsm": "LSM", "user": "USER", "rootfs": "ROOTFS",
           "mounts": "MOUNTS", "devices": "DEVICES", "limits": "LIMITS", "secrets": "SECRETS"}  # fmt: skip
SHORT = {HIGH: "HIGH", MEDIUM: "MED", LOW: "low", "info": "info", "good": "good"}
LEGEND = (
    "HIGH/MED/low: the worst finding of the layer   ok: nothing at low or above\n"
    "n/a: not available on this host   skip: not checked   ?: could not be read"
)


def matrix(audits: list[ContainerAudit], width: int) -> str:
    """One row per container, one column per layer, single-space separated: 65 columns plus the name."""
    widths = [max(len(HEADERS[layer]), 4) for layer in LAYERS]
    names = [safe_text(a.container.display_name) for a in audits]
    fixed = sum(widths) + len(widths)
    name_width = max([9, *map(len, names)])
    name_width = max(10, min(name_width, width - fixed))
    lines = [
        f"{'CONTAINER':<{name_width}} "
        + " ".join(f"{HEADERS[layer]:<{w}}" for layer, w in zip(LAYERS, widths, strict=False))
    ]
    for audit, name in zip(audits, names, strict=False):
        cells = audit.summary()
        row = f"{cut(name, name_width):<{name_width}} " + " ".join(
            f"{cells[layer]:<{w}}" for layer, w in zip(LAYERS, widths, strict=False)
        )
        lines.append(row.rstrip())
    return "\n".join(lines)


def heading(audit: ContainerAudit) -> str:
    c = audit.container
    pod = f", pod {c.pod.ref}" if c.pod and c.pod.ref else ""
    return safe_text(f"{c.display_name} ({c.runtime}, {c.short_id}{pod}, pid {audit.pid})")


def findings(audit: ContainerAudit, floor: str, width: int, *, full: bool) -> list[str]:
    lines = [heading(audit)]
    shown = audit.shown(floor)
    if audit.gone:
        lines.append("  (exited during the audit)")
    for f in shown:
        lines.append(cut(safe_text(f"  {SHORT[f.severity]:<5} {f.id:<30} {f.title}"), width))
        if full:
            lines.extend(_details(f, audit, width))
    for error in audit.errors:
        lines.append(cut(safe_text(f"  ?     not checked: {error}"), width))
    if not shown and not audit.gone:
        lines.append(f"  nothing at or above {floor}")
    return lines


def _details(f: Finding, audit: ContainerAudit, width: int) -> list[str]:
    out = [f"        evidence: {safe_text(e)}" for e in f.evidence]
    out.append(f"        why:      {f.why}")
    fix = f.fix.for_runtime(audit.container.runtime, audit.in_pod, audit.pod_ref) if f.fix else None
    if fix:
        out.append(f"        fix:      {safe_text(fix)}")  # the pod's name is the pod author's text
    if f.cis:
        out.append(f"        CIS:      {f.cis}")
    return out


def totals(audits: Iterable[ContainerAudit], floor: str, *, full: bool = False) -> str:
    audits = list(audits)
    counts: dict[str, int] = dict.fromkeys((HIGH, MEDIUM, LOW), 0)
    for audit in audits:
        for severity, n in audit.counts().items():
            if severity in counts:
                counts[severity] += n
    parts = ", ".join(f"{n} {s}" for s, n in counts.items())
    gone = sum(1 for a in audits if a.gone)
    extra = f"; {gone} exited during the audit" if gone else ""
    hints = [] if RANK[floor] <= RANK["info"] else ["--severity info shows the rest"]
    hints += [] if full else ["--full the evidence and fixes"]
    hint = "; " + ", ".join(hints) if hints else ""
    return f"{len(audits)} container(s): {parts}{extra}{hint}\nCIS ids: {CIS_VERSION}"


def explain(rule: Rule) -> str:
    lines = [f"{rule.id}  ({rule.layer})  {rule.name}", "", f"why: {rule.why}"]
    if rule.fix:
        for runtime, text in rule.fix.to_dict().items():
            if text:
                lines.append(f"fix ({runtime}): {text}")
    if rule.cis:
        lines.append(f"{CIS_VERSION}: {rule.cis}")
    return "\n".join(lines)
