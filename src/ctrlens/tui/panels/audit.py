"""Audit findings of the container (`ctrlens.audit`), as severity badges with the evidence and the fix.

The audit reads many /proc files and the environment (for the secrets layer): it runs in a worker thread.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from ...text import safe_text
from .base import Panel, not_available

# White on a saturated colour reads on light and dark terminals alike.
BADGE = {
    "high": "bold white on red3",
    "medium": "bold white on dark_orange3",
    "low": "bold black on yellow3",
    "info": "bold white on dodger_blue3",
    "good": "bold white on green4",
}
CELL_STYLE = {"HIGH": "bold red3", "MED": "bold dark_orange3", "low": "yellow3", "ok": "green4"}


class AuditPanel(Panel):
    DEFAULT_CSS = """
    AuditPanel > VerticalScroll { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel--note", markup=False)
        with VerticalScroll():
            yield Static("", id="audit-findings")

    def load(self) -> None:
        try:
            from ... import audit  # noqa: F401 - only to know whether the feature is in this build
        except ImportError:
            self.note(not_available("Audit findings", "ctrlens.audit"))
            return
        target = self.target
        if target is None or target.container is None:
            self.note("Audit checks containers; this is a host process.")
            return
        self.note(f"Auditing {safe_text(target.container.display_name)}…")
        self._run()

    @work(thread=True, exclusive=True, group="audit")
    def _run(self) -> None:
        from ...audit import audit

        if self.target is None or self.target.container is None:
            return  # the tab only runs for a container (checked when it opened)
        try:
            result = audit(self.snapshot, self.target.container, self.host)
        except Exception as exc:  # noqa: BLE001 - the tab says it failed; the rest of the TUI goes on
            self.app.call_from_thread(self.note, f"Audit failed: {type(exc).__name__}")
            return
        self.app.call_from_thread(self._show, result)

    def _show(self, result: Any) -> None:
        if result.gone:
            self.note("The container exited during the audit.")
            return
        summary = Text()
        for layer, cell in result.summary().items():
            summary.append(f"{layer} ")
            summary.append(cell, CELL_STYLE.get(cell, "dim"))
            summary.append("  ")
        worst = result.worst()
        counts = {s: n for s, n in result.counts().items() if s in BADGE}  # the CLI's and exporter's count
        head = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        self.note(f"Worst: {worst.upper()} ({head}); `ctrlens audit` gives the same with SARIF output.")
        body = Text()
        body.append_text(summary)
        body.append("\n")
        runtime, in_pod, pod = result.container.runtime, result.in_pod, result.pod_ref
        for finding in result.shown("info"):
            body.append("\n")
            body.append(f" {finding.severity.upper():<6}", BADGE.get(finding.severity, "reverse"))
            body.append(f" {finding.id}  ", "bold")
            body.append(safe_text(finding.title))
            for line in finding.evidence[:4]:
                body.append(f"\n     evidence: {safe_text(line)}", "dim")
            fix = finding.fix.for_runtime(runtime, in_pod, pod) if finding.fix else None
            if fix:
                body.append(f"\n     fix: {safe_text(fix)}")
        good = counts.get("good", 0)
        if good:
            body.append(f"\n\n {good} checks passed.", "green4")
        for error in result.errors:
            body.append(f"\n could not check {safe_text(error)}", "dim")
        self.query_one("#audit-findings", Static).update(body)
