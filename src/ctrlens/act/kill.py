"""Kill planning: which processes a REF names, what the signal will do to each, what follows for the container.

The pidfds are taken FIRST, then every check reads through them (host-facts §3): the start time read through the
handle must equal the one the scan saw, so a PID that was reused between the scan and the plan is refused, and a
process that exits after the plan can never be confused with a newcomer holding its PID when the signal is sent.

    plan = plan_kill(snapshot, "web", signal.SIGKILL)     # holds pidfds; nothing is sent yet
    print("\\n".join(plan.lines()))
    outcome = execute(plan)                                # signals through the pidfds, waits, rescans
    plan.close()
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any, Self

from ..errors import CtrlensError, PermissionDenied, ProcessGone, UsageError
from ..host import Host
from ..model import ROLE_KERNEL, Container, Process, Snapshot
from ..procfs import ProcHandle, parse_stat
from ..refs import Target, resolve_ref
from ..text import cut, safe_text, shorten
from . import signals as sg
from .disposition import disposition
from .follows import ENDS, SURVIVES, UP_TO_PROGRAM, work_out
from .restart import MAYBE, NO, YES, RestartForecast

MAX_LISTED = 12  # processes listed one per line with --all
BRIEF_COMMAND = 200  # characters of a command line shown in the plan (the JSON has it whole)


class Refused(CtrlensError):
    """The plan refuses a target (kernel thread, the host's init, a PID reused since the scan)."""


@dataclass(slots=True)
class KillTarget:
    """One process to signal, with its pidfd held since planning."""

    pid: int
    comm: str
    command: str
    start_ticks: int
    namespace_init: bool  # PID 1 of a PID namespace other than the host's
    container_init: bool  # the init of the container the plan is about
    effect: str  # signals.TERMINATES, CAUGHT, DROPPED…
    handle: ProcHandle | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "comm": self.comm,
            "command": self.command,
            "namespace_init": self.namespace_init,
            "container_init": self.container_init,
            "effect": self.effect,
            "pidfd_held": self.handle is not None and self.handle.pidfd is not None,
        }


@dataclass(slots=True)
class KillPlan:
    """Everything decided before a signal is sent. Holds pidfds: `close()` it (or use `with`)."""

    signal: int
    scope: str  # "container" (its init), "all" (every process of it), "process" (one PID)
    container: Container | None
    targets: list[KillTarget]
    expect: str  # ENDS, SURVIVES, UP_TO_PROGRAM: for the container when there is one, else for the process
    summary: str  # one sentence: what will follow
    restart: RestartForecast | None = None
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(
        default_factory=list
    )  # processes left out: exited or PID reused since the scan
    watch: ProcHandle | None = field(
        default=None, repr=False
    )  # the container's init when only workers are hit
    host: Host = field(default_factory=Host, repr=False)

    @property
    def signal_name(self) -> str:
        return sg.signal_name(self.signal)

    @property
    def init_target(self) -> KillTarget | None:
        return next((t for t in self.targets if t.container_init), None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for target in self.targets:
            if target.handle is not None:
                target.handle.close()
        if self.watch is not None:
            self.watch.close()

    def lines(self) -> list[str]:
        """The plan for a person: what gets the signal, what it does, what follows."""
        what = _describe_container(self.container) if self.container else None
        out = []
        first = self.targets[0]
        if self.scope == "process":
            where = f" in container {what}" if what else " (a host process, in no container)"
            out.append(f"{self.signal_name} to process {first.pid} ({_brief(first.command)}){where}")
        elif self.scope == "all":
            out.append(f"{self.signal_name} to all {len(self.targets)} processes of container {what}")
        else:
            out.append(
                f"{self.signal_name} to container {what}: its init, pid {first.pid} ({_brief(first.command)})"
            )
        shown = self.targets if self.scope == "all" else []
        for t in shown[:MAX_LISTED]:
            role = "init" if t.container_init else ""
            out.append(
                f"  pid {t.pid:<7} {role:<4}  {cut(t.command, 40):<40}  {sg.describe_effect(t.effect, self.signal)}"
            )
        if len(shown) > MAX_LISTED:
            out.append(f"  … and {len(shown) - MAX_LISTED} more")
        if self.scope != "all":
            out.append(f"  effect:  {sg.describe_effect(first.effect, self.signal)}")
        out.append(f"  follows: {self.summary}")
        if self.restart is not None:
            out.append(f"  restart: {_restart_line(self.restart)}")
            if self.restart.sources:
                out.append(f"           (read from {', '.join(self.restart.sources)})")
        out.extend(f"  note:    {n}" for n in self.notes)
        out.extend(f"  skipped: {s}" for s in self.skipped)
        return [safe_text(line) for line in out]

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": self.signal_name,
            "signal_number": self.signal,
            "scope": self.scope,
            "container": self.container.brief() | {"init_pid": self.container.init_pid}
            if self.container
            else None,
            "targets": [t.to_dict() for t in self.targets],
            "expect": self.expect,
            "summary": self.summary,
            "restart": self.restart.to_dict() if self.restart else None,
            "notes": list(self.notes),
            "skipped": list(self.skipped),
        }


def _brief(command: str) -> str:
    """A command line in the plan: a 100 kB one would push the question off the screen."""
    return shorten(command, BRIEF_COMMAND)


def _describe_container(c: Container) -> str:
    name = c.display_name
    return f"{name} ({c.runtime}, {c.short_id})" if name != c.short_id else f"{name} ({c.runtime})"


def _restart_line(forecast: RestartForecast) -> str:
    head = {YES: "yes", NO: "no", MAYBE: "maybe"}.get(forecast.verdict, "unknown")
    return f"{head}: {forecast.reason}"


def plan_kill(
    snapshot: Snapshot,
    target: Target | str,
    sig: int = signal.SIGTERM,
    *,
    all: bool = False,
    host: Host | None = None,
) -> KillPlan:
    """Resolve `target`, take a pidfd on each process to signal, check each is still the one the scan saw,
    and work out what the signal will do and what follows. Sends nothing. Raises NotFound, UsageError, Refused."""
    host = host or Host()
    if not host.is_live or os.path.realpath(host.proc) != "/proc":
        raise UsageError(
            "kill needs the host's own /proc (run it on the host, or in a pod with hostPID: true "
            "and without --host-root)"
        )
    if isinstance(target, str):
        target = resolve_ref(snapshot, target)
    container = target.container
    proc = target.process
    if target.by_pid and all:
        raise UsageError(
            f"--all signals every process of a container: name the container, not PID {target.pid}"
        )
    if container is not None and not target.by_pid:
        scope = "all" if all else "container"
        pids = list(container.pids) if all else ([container.init_pid] if container.init_pid else [])
    else:
        scope = "process"
        pids = [proc.pid] if proc else []
    if not pids:
        raise ProcessGone(f"container {container.display_name if container else '?'} has no running process")
    if proc is not None:
        _refuse_special(proc)
    if container is not None and target.by_pid and proc is not None and proc.pid == container.init_pid:
        scope = "container"  # a PID that is the container's init: killing it is killing the container
    plan = KillPlan(sig, scope, container, [], SURVIVES, "", host=host)
    try:
        _take_targets(plan, snapshot, pids, host)
        if not plan.targets:
            raise ProcessGone("nothing left to signal: " + "; ".join(plan.skipped))
        work_out(plan, snapshot, proc)
    except BaseException:
        plan.close()
        raise
    return plan


def _refuse_special(proc: Process) -> None:
    if proc.role == ROLE_KERNEL:
        raise Refused(
            f"PID {proc.pid} ({proc.comm}) is a kernel thread: signals from user space do not stop it"
        )
    if proc.pid == 1:
        raise Refused("PID 1 is the host's init: ctrlens will not signal it")
    if proc.pid == os.getpid():
        raise Refused(f"PID {proc.pid} is this ctrlens process")


def _take_targets(plan: KillPlan, snapshot: Snapshot, pids: list[int], host: Host) -> None:
    init_pid = plan.container.init_pid if plan.container else None
    # Workers first, init last: when the init dies first the kernel kills the rest before they see our signal.
    for pid in sorted(pids, key=lambda p: (p == init_pid, p)):
        seen = snapshot.processes.get(pid)
        if seen is None or seen.role == ROLE_KERNEL:
            continue
        try:
            handle = ProcHandle(pid, host.proc)  # pidfd first: every check below reads through it
        except ProcessGone:
            plan.skipped.append(f"pid {pid} ({seen.comm}) exited since the scan")
            continue
        except PermissionDenied:
            raise PermissionDenied(
                f"pid {pid}: permission denied (signalling other users' processes needs root)"
            ) from None
        try:
            stat = parse_stat(handle.read("stat"))
            status = handle.status()
        except ProcessGone:
            handle.close()
            plan.skipped.append(f"pid {pid} ({seen.comm}) exited since the scan")
            continue
        if stat.start_ticks != seen.start_ticks:
            handle.close()
            plan.skipped.append(
                f"pid {pid} is now another process ({stat.comm}): the one the scan saw "
                f"({seen.comm}) exited and its PID was reused; not signalled"
            )
            continue
        masks = disposition(handle, status)
        effect = sg.effect_of(
            plan.signal,
            masks.caught,
            masks.ignored,
            namespace_init=masks.namespace_init,
            blocked_mask=masks.blocked,
        )
        plan.targets.append(
            KillTarget(
                pid,
                seen.comm,
                seen.command,
                seen.start_ticks,
                masks.namespace_init,
                pid == init_pid and plan.scope != "process",
                effect,
                handle,
            )
        )
    if plan.scope == "process" and plan.container is not None and plan.container.init_pid:
        init = plan.container.init_pid
        if init != pids[0]:
            try:
                plan.watch = ProcHandle(init, host.proc)
            except (ProcessGone, PermissionDenied):
                plan.watch = None


__all__ = ["ENDS", "SURVIVES", "UP_TO_PROGRAM", "KillPlan", "KillTarget", "Refused", "plan_kill"]
