"""The TUI's side of `ctrlens.act`: a kill plan for a table row, in the words `ctrlens kill` uses, and its execution.

Importing this module fails (ImportError) when `ctrlens.act` is missing; `kill.py` then shows "not available".
"""

from __future__ import annotations

from dataclasses import dataclass

from ..act import MAYBE, YES, KillPlan, execute, plan_kill
from ..errors import ProcessGone
from ..host import Host
from ..model import Snapshot
from ..text import safe_text
from .rows import Row, target_of


@dataclass(slots=True)
class KillRequest:
    plan: KillPlan  # holds pidfds until executed or closed
    question: str
    plan_text: str
    warning: str | None

    def close(self) -> None:
        self.plan.close()


def plan_for_row(host: Host, snapshot: Snapshot, row: Row, sig: int) -> KillRequest:
    """Plan (nothing sent) the kill of what `row` shows: a container (its init) or one process."""
    target = target_of(snapshot, row)
    if target is None:
        raise ProcessGone(f"{row.name} has gone since the last refresh")  # row.name is escaped already
    plan = plan_kill(snapshot, target, sig, host=host)
    lines = plan.lines()
    warning = None
    if plan.restart is not None and plan.restart.verdict in (YES, MAYBE):
        who = f" by {plan.restart.by}" if plan.restart.by else ""
        verdict = "WILL be restarted" if plan.restart.verdict == YES else "may be restarted"
        warning = safe_text(f"⚠ The container {verdict}{who}: {plan.restart.reason}")
    return KillRequest(plan, f"Send {plan.signal_name}?  (s switches TERM/KILL)", "\n".join(lines), warning)


def run(request: KillRequest, wait: float = 5.0) -> str:
    """Signal through the held pidfds and say what happened (blocks up to `wait` seconds: run in a worker)."""
    try:
        return execute(request.plan, wait=wait).message
    finally:
        request.close()
