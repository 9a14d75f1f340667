"""Acting on containers from the host: signals that know what follows, and host tools run inside namespaces.

Kill (the TUI and `ctrlens kill` share it):

    from ctrlens.act import plan_kill, execute, parse_signal
    with plan_kill(snapshot, "web", parse_signal("KILL")) as plan:   # pidfds taken, nothing sent
        print("\\n".join(plan.lines()))                               # what gets it, what follows, restart
        outcome = execute(plan, wait=5)                               # exited / restarted (new pid) / running

Exec: `enter.run_in_namespaces(pidfd_handle, ["net", "pid"], argv)` (see ctrlens.act.enter).
"""

from .execute import EXITED, NOT_SENT, RESTARTED, RUNNING, SENT, KillOutcome, TargetResult, execute, send
from .kill import ENDS, SURVIVES, UP_TO_PROGRAM, KillPlan, KillTarget, Refused, plan_kill
from .restart import MAYBE, NO, UNKNOWN, YES, RestartForecast, forecast_restart
from .signals import effect_of, parse_signal, signal_name

__all__ = [
    "ENDS",
    "EXITED",
    "MAYBE",
    "NO",
    "NOT_SENT",
    "RESTARTED",
    "RUNNING",
    "SENT",
    "SURVIVES",
    "UNKNOWN",
    "UP_TO_PROGRAM",
    "YES",
    "KillOutcome",
    "KillPlan",
    "KillTarget",
    "Refused",
    "RestartForecast",
    "TargetResult",
    "effect_of",
    "execute",
    "forecast_restart",
    "parse_signal",
    "plan_kill",
    "send",
    "signal_name",
]
