"""Two snapshots in, events out: containers that appeared or left, processes new to a known container.

A process is known by (PID, start time), so a reused PID is a new process; a container by its ID and the start
time of its init, so a container restarted between two polls (same ID, new init) stops and starts again.
Events come in a stable order: stops, then starts, then processes, each sorted by container ID and PID.
"""

from __future__ import annotations

from collections.abc import Callable

from ..model import ROLE_SHIM, Container, Process, Snapshot
from .events import CONTAINER_RUNNING, CONTAINER_STARTED, CONTAINER_STOPPED, PROCESS_STARTED, Event, identity

Masker = Callable[[list[str]], list[str]]  # hides secrets in a command line before it is written out

# An OCI runtime mid-`create` sits in the new cgroup before it execs the container's command.
_RUNTIME_HELPERS = frozenset({"runc", "runc:[0:PARENT]", "runc:[1:CHILD]", "runc:[2:INIT]", "crun", "youki"})


def settled(snapshot: Snapshot, container: Container) -> bool:
    """False while the container's init is still the runtime setting it up: its start is seen a poll later."""
    init = snapshot.processes.get(container.init_pid) if container.init_pid is not None else None
    return init is not None and init.comm not in _RUNTIME_HELPERS


def _instance(snapshot: Snapshot, container: Container) -> tuple[str, int | None]:
    init = snapshot.processes.get(container.init_pid) if container.init_pid is not None else None
    return (container.id, init.start_ticks if init else None)


def process_detail(snapshot: Snapshot, proc: Process, mask: Masker) -> dict[str, object]:
    return {
        "pid": proc.pid,
        "ppid": proc.ppid,
        "pid_in_container": proc.pid_in_container,
        "uid": proc.uid,
        "comm": proc.comm,
        "argv": mask(list(proc.cmdline)),
    }


def _started(snapshot: Snapshot, container: Container, at: float, kind: str, mask: Masker) -> Event:
    init = snapshot.processes.get(container.init_pid) if container.init_pid is not None else None
    detail: dict[str, object] = {"started": container.started, "processes": len(container.pids)}
    detail["process"] = process_detail(snapshot, init, mask) if init else None
    return Event(kind, at, identity(container), detail)


def inventory(snapshot: Snapshot, at: float, mask: Masker) -> list[Event]:
    """`container.running` for every container: the state a consumer starts from (--initial)."""
    return [
        _started(snapshot, c, at, CONTAINER_RUNNING, mask)
        for c in sorted(snapshot.containers.values(), key=lambda c: c.id)
        if settled(snapshot, c)
    ]


def diff(before: Snapshot, after: Snapshot, at: float, mask: Masker) -> list[Event]:
    old = {_instance(before, c): c for c in before.containers.values() if settled(before, c)}
    new = {_instance(after, c): c for c in after.containers.values() if settled(after, c)}
    events: list[Event] = []
    for key in sorted(old.keys() - new.keys(), key=str):
        container = old[key]
        detail = {"started": container.started, "init_pid": container.init_pid}
        events.append(Event(CONTAINER_STOPPED, at, identity(container), detail))
    for key in sorted(new.keys() - old.keys(), key=str):
        events.append(_started(after, new[key], at, CONTAINER_STARTED, mask))
    known_procs = {(p.pid, p.start_ticks) for p in before.processes.values()}
    for key in sorted(new.keys() & old.keys(), key=str):
        container = new[key]
        for proc in after.processes_of(container):
            if (proc.pid, proc.start_ticks) not in known_procs and proc.role != ROLE_SHIM:
                events.append(
                    Event(
                        PROCESS_STARTED,
                        at,
                        identity(container),
                        {"process": process_detail(after, proc, mask)},
                    )
                )
    return events
