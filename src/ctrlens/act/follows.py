"""What follows a planned signal: for the container (ends, survives, up to the program) and who restarts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..model import ROLE_SHIM, Process, Snapshot
from . import signals as sg
from .restart import forecast_restart

if TYPE_CHECKING:
    from .kill import KillPlan

# What the plan expects for the container (or the lone process).
ENDS = "ends"
SURVIVES = "survives"
UP_TO_PROGRAM = "up to the program"

_ENDING = {sg.TERMINATES: ENDS, sg.CAUGHT: UP_TO_PROGRAM, sg.BLOCKED: UP_TO_PROGRAM}


def work_out(plan: KillPlan, snapshot: Snapshot, proc: Process | None) -> None:
    """Fill `expect`, `summary`, `restart` and notes from the targets' effects."""
    name = plan.signal_name
    container = plan.container
    if plan.scope in ("container", "all"):
        if container is None:
            raise ValueError(f"a {plan.scope!r} kill plan has no container")
        init = plan.init_target
        others = [t for t in plan.targets if not t.container_init]
        if init is None:
            plan.expect = SURVIVES
            plan.summary = "its init was not signalled (it exited or changed since the scan)"
        else:
            plan.expect = _ENDING.get(init.effect, SURVIVES)
            if plan.expect == ENDS:
                plan.summary = (
                    "the container ends: its init dies, and the kernel then kills every other process "
                    "of its PID namespace"
                    if init.namespace_init
                    else "the container ends when its init dies (it has no PID namespace of its own, so "
                    "its other processes may outlive it)"
                )
            elif plan.expect == UP_TO_PROGRAM:
                how = "catches" if init.effect == sg.CAUGHT else "waits for"
                plan.summary = (
                    f"its init {how} {name}: it decides; most programs shut down and exit, and then "
                    "the container ends"
                )
            elif init.effect == sg.DROPPED:
                plan.summary = (
                    f"nothing: the kernel drops {name} sent to a namespace init with no handler for it "
                    "(use -s KILL to end the container)"
                )
            elif init.effect == sg.STOPS:
                plan.summary = "the container's init is frozen until it gets SIGCONT; the container stays up"
            else:
                plan.summary = f"the container keeps running ({sg.describe_effect(init.effect, plan.signal)})"
        ending = [t for t in others if t.effect == sg.TERMINATES]
        if plan.scope == "all" and plan.expect != ENDS and ending:
            plan.summary += f"; {len(ending)} of its other processes end"
        if plan.expect in (ENDS, UP_TO_PROGRAM):
            code = sg.exit_code_after(plan.signal) if plan.expect == ENDS else None
            plan.restart = forecast_restart(container, snapshot, code, plan.host)
        if container.sandbox:
            plan.notes.append(
                "this is a pod sandbox (pause container): its pod's containers share its namespaces"
            )
        return
    target = plan.targets[0]
    plan.expect = _ENDING.get(target.effect, SURVIVES)
    verb = {ENDS: "ends", UP_TO_PROGRAM: f"decides what to do with {name}"}.get(plan.expect)
    if verb is None:
        plan.summary = (
            f"process {target.pid} keeps running ({sg.describe_effect(target.effect, plan.signal)})"
        )
    elif container is not None:
        init_pid = container.init_pid
        plan.summary = (
            f"only process {target.pid} {verb}; the container keeps running (its init, pid {init_pid}, is "
            "not signalled)"
        )
        if proc is not None and proc.ppid == init_pid:
            plan.notes.append(
                f"its parent is the container's init (pid {init_pid}): if the init exits when its child "
                "does (a shell waiting on it), the container ends too"
            )
    else:
        plan.summary = f"process {target.pid} {verb}"
    if proc is not None and proc.role == ROLE_SHIM and proc.shim_of:
        served = ", ".join(
            snapshot.containers[c].display_name for c in proc.shim_of if c in snapshot.containers
        )
        plan.notes.append(
            f"pid {proc.pid} is the runtime shim/monitor of {served}: its runtime loses track of "
            "them (they may keep running unsupervised, or be killed)"
        )
    if container is None and proc is not None and proc.cgroup.endswith(".service"):
        unit = proc.cgroup.rsplit("/", 1)[-1]
        plan.notes.append(f"it belongs to {unit}: systemd restarts it if the unit says Restart=")
