"""Sending a planned signal through the held pidfds, then waiting to report what really happened.

After the signal: poll the pidfds until the targets exit (or the wait runs out); when a container's init exited,
rescan until the same container ID shows up with a new init (restarted) or the wait ends (exited).
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import PermissionDenied, ProcessGone
from ..linux.process import describe_wait_status, pidfd_exit_status
from ..model import Container, Snapshot
from ..runtimes.context import CLOCK_TICKS
from . import signals as sg
from .kill import KillPlan, KillTarget
from .restart import NO

# Outcome states.
NOT_SENT = "not-sent"  # every target had gone: nothing was signalled
SENT = "sent"  # signalled, not waited for
EXITED = "exited"  # the container (or the process) is gone
RESTARTED = "restarted"  # the same container runs again with a new init process
RUNNING = "running"  # still running when the wait ended

POLL_INTERVAL = 0.1


@dataclass(slots=True)
class TargetResult:
    pid: int
    sent: bool
    error: str | None = None  # why nothing was sent to it
    exited: bool | None = None  # None: not waited for
    how: str | None = None  # "killed by SIGKILL", "exit code 0" (kernels with PIDFD_GET_INFO exit status)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "sent": self.sent,
            "error": self.error,
            "exited": self.exited,
            "how": self.how,
        }


@dataclass(slots=True)
class KillOutcome:
    signal: int
    state: str  # NOT_SENT, SENT, EXITED, RESTARTED, RUNNING
    message: str
    results: list[TargetResult] = field(default_factory=list)
    new_pid: int | None = None  # the restarted container's new init
    container_running: bool | None = None  # for a worker kill: is the container still up
    waited: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "signal": sg.signal_name(self.signal),
            "state": self.state,
            "message": self.message,
            "new_pid": self.new_pid,
            "container_running": self.container_running,
            "waited_seconds": round(self.waited, 3),
            "targets": [r.to_dict() for r in self.results],
        }


def send(plan: KillPlan) -> list[TargetResult]:
    """Signal every target through its pidfd, init last. A target that exited gets nothing, and nor does any
    process that took its PID since: the pidfd refers to the old process only."""
    results = []
    for target in plan.targets:
        if target.handle is None:
            results.append(TargetResult(target.pid, False, "no pidfd held"))
            continue
        try:
            target.handle.send_signal(plan.signal)
            results.append(TargetResult(target.pid, True))
        except ProcessGone:
            results.append(
                TargetResult(
                    target.pid,
                    False,
                    "it had exited, so nothing was sent; a process now holding its PID was not touched",
                    exited=True,
                )
            )
        except PermissionDenied as exc:
            results.append(TargetResult(target.pid, False, str(exc)))
    return results


def execute(
    plan: KillPlan, *, wait: float = 5.0, rescan: Callable[[], Snapshot] | None = None
) -> KillOutcome:
    """Send the plan's signal and report what happened within `wait` seconds (0: do not wait)."""
    started = time.monotonic()
    sent_at = _boot_ticks()
    results = send(plan)
    sent = [(t, r) for t, r in zip(plan.targets, results, strict=False) if r.sent]
    if not sent:
        reasons = "; ".join(f"pid {r.pid}: {r.error}" for r in results)
        return KillOutcome(plan.signal, NOT_SENT, f"nothing was signalled: {reasons}", results)
    if wait <= 0 or plan.signal == 0:
        names = ", ".join(str(r.pid) for _, r in sent)
        return KillOutcome(plan.signal, SENT, f"{plan.signal_name} sent to pid {names}", results)
    deadline = started + wait
    _wait_for_exits(sent, deadline)
    if rescan is None:
        from ..scanner import scan

        def rescan() -> Snapshot:
            return scan(plan.host)

    if plan.scope == "process":
        outcome = _process_outcome(plan, sent, results)
    else:
        outcome = _container_outcome(plan, sent, results, deadline, rescan, sent_at)
    outcome.waited = time.monotonic() - started
    return outcome


def _wait_for_exits(sent: list[tuple[KillTarget, TargetResult]], deadline: float) -> None:
    """Poll the pidfds: one becomes readable when its process exits."""
    pending = {t.handle.pidfd: (t, r) for t, r in sent if t.handle is not None and t.handle.pidfd is not None}
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLIN)
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for fd, _event in poller.poll(left * 1000):
            target, result = pending.pop(fd)
            poller.unregister(fd)
            result.exited = True
    for _target, result in pending.values():
        result.exited = False
    # The exit status is there once the process is reaped (by its shim): give that a moment.
    for target, result in sent:
        if result.exited and target.handle is not None and target.handle.pidfd is not None:
            result.how = _exit_status(target.handle.pidfd)


def _exit_status(pidfd: int) -> str | None:
    for _ in range(10):
        status = pidfd_exit_status(pidfd)
        if status is not None:
            return describe_wait_status(status)
        time.sleep(0.02)
    return None


def _process_outcome(
    plan: KillPlan, sent: list[tuple[KillTarget, TargetResult]], results: list[TargetResult]
) -> KillOutcome:
    target, result = sent[0]
    how = f" ({result.how})" if result.how else ""
    if not result.exited:
        return KillOutcome(plan.signal, RUNNING, f"process {target.pid} is still running", results)
    message = f"process {target.pid} exited{how}"
    running = None
    if plan.container is not None:
        running = plan.watch.alive() if plan.watch is not None else None
        name = plan.container.display_name
        if running:
            message += f"; container {name} is still running (init pid {plan.container.init_pid})"
        elif running is False:
            message += f"; container {name} ended too (its init exited)"
    return KillOutcome(plan.signal, EXITED, message, results, container_running=running)


def _container_outcome(
    plan: KillPlan,
    sent: list[tuple[KillTarget, TargetResult]],
    results: list[TargetResult],
    deadline: float,
    rescan: Callable[[], Snapshot],
    sent_at: int,
) -> KillOutcome:
    container = plan.container
    if container is None:
        raise ValueError("a container-wide kill plan has no container")
    init = next(((t, r) for t, r in sent if t.container_init), None)
    name = container.display_name
    if init is None:
        gone = sum(1 for _, r in sent if r.exited)
        return KillOutcome(
            plan.signal,
            RUNNING,
            f"{gone} of {len(sent)} processes exited; the container's init was "
            "not signalled, so it is still running",
            results,
        )
    target, result = init
    if not result.exited:
        ended = sum(1 for t, r in sent if r.exited and not t.container_init)
        extra = f" ({ended} of its other processes exited)" if ended else ""
        return KillOutcome(
            plan.signal,
            RUNNING,
            f"container {name} is still running: its init, pid {target.pid}, did not exit{extra}",
            results,
        )
    how = result.how or ""
    expect_restart = plan.restart is not None and plan.restart.verdict != NO
    candidate: int | None = None
    while True:
        snapshot = rescan()
        again = snapshot.containers.get(container.id)
        if again is None or again.init_pid == target.pid:
            again = _successor(snapshot, container) or again
        new_init = again.init_pid if again is not None else None
        if (
            again is not None
            and new_init
            and new_init != target.pid
            and _started_since(snapshot, new_init, sent_at, target.namespace_init)
        ):
            # The same init in two scans in a row: the runtime has finished starting it.
            if new_init == candidate:
                return _restarted(plan, name, target.pid, how, again, results)
            candidate = new_init
        else:
            candidate = None
        now = time.monotonic()
        # A candidate seen at the deadline gets one more scan to confirm it.
        if (
            (again is None and not expect_restart)
            or (now >= deadline and candidate is None)
            or now >= deadline + 1
        ):
            break
        time.sleep(POLL_INTERVAL)
    message = f"container {name} exited: its init, pid {target.pid}, is gone" + (f" ({how})" if how else "")
    if expect_restart:
        message += " and nothing restarted it within the wait"
        if plan.restart is not None and plan.restart.by and "containerd" in plan.restart.by:
            message += " (containerd's restart monitor checks every 10 s: try --wait 15)"
    return KillOutcome(plan.signal, EXITED, message, results, container_running=False)


# While a runtime starts a container, its cgroup briefly holds the runtime's own bootstrap processes.
_BOOTSTRAP_COMMS = ("runc", "crun", "youki", "runsc", "conmon", "containerd-shim")


def _started_since(snapshot: Snapshot, pid: int, ticks: int, own_pid_namespace: bool) -> bool:
    """A new init: started after the signal (not a survivor of a container without its own PID namespace), in a
    PID namespace of its own if the old one was (not a runtime helper such as conmon's `podman container cleanup`,
    which the scan may count in the container), and no longer the runtime's bootstrap (`runc init` becomes the
    container's program by exec, keeping its PID)."""
    proc = snapshot.processes.get(pid)
    if proc is None or proc.start_ticks < ticks:
        return False
    if own_pid_namespace and proc.pid_ns is not None and proc.pid_ns == snapshot.host_namespaces.get("pid"):
        return False
    if proc.comm.startswith(_BOOTSTRAP_COMMS):
        return False
    return not (proc.comm == "exe" and proc.cmdline[1:2] == ["init"])


def _boot_ticks() -> int:
    """Now, in the clock ticks since boot that /proc/PID/stat start times use (one tick of slack)."""
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * CLOCK_TICKS) - 1


def _successor(snapshot: Snapshot, container: Container) -> Container | None:
    """A kubelet restarts a pod's container as a NEW container: same pod UID and container name, another ID."""
    pod = container.pod
    if pod is None or not pod.uid or not container.kube_container:
        return None
    for other in snapshot.containers.values():
        if (
            other.id != container.id
            and other.pod is not None
            and other.pod.uid == pod.uid
            and other.kube_container == container.kube_container
        ):
            return other
    return None


def _restarted(
    plan: KillPlan, name: str, old_pid: int, how: str, again: Container, results: list[TargetResult]
) -> KillOutcome:
    by = f" by {plan.restart.by}" if plan.restart and plan.restart.by else ""
    before = plan.restart.policy.restart_count if plan.restart and plan.restart.policy else None
    count = again.restart_policy.restart_count if again.restart_policy else None
    # The runtime may write its new count after the process starts: only report a count that moved.
    counted = (
        f"; restart count now {count}" if count is not None and before is not None and count > before else ""
    )
    as_new = (
        f" as a new container {again.short_id}" if plan.container and again.id != plan.container.id else ""
    )
    return KillOutcome(
        plan.signal,
        RESTARTED,
        f"container {name} was restarted{by}{as_new}: its init is now pid {again.init_pid} (the old init, pid "
        f"{old_pid}, {how or 'exited'}{counted})",
        results,
        new_pid=again.init_pid,
        container_running=True,
    )
