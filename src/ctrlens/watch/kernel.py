"""`watch` driven by the kernel's process events (`ctrlens.linux.proc_events`) instead of a poll.

A reader thread takes fork/exec/exit events off the netlink socket and reads each new process's cgroup and stat at
once (a `docker run --rm … true` lives for a millisecond: read later, it is gone). The watch thread then:
- exec of a process in a container cgroup no running instance is known for: `container.started` now, from that
  process alone (cgroup rule + the runtime's metadata, as the scanner does);
- exit of a known container's init: `container.stopped` now;
- either, or an exec in a known container: a full rescan shortly after (bursts coalesce into one), whose diff gives
  `process.started` and catches anything the events did not tell; what the events already said is not repeated;
- a full rescan every `rescan` seconds as a safety net, and at once when the socket overran (ENOBUFS).
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..host import Host
from ..linux.proc_events import PROC_EVENT_EXEC, PROC_EVENT_EXIT, PROC_EVENT_FORK, ProcConnector, ProcEvent
from ..model import ROLE_SHIM, Container, Pod, Process, Snapshot
from ..procfs.parse import cgroup_paths, parse_cgroup, parse_status, status_ids
from ..runtimes import MetaContext, enrich, match_cgroup_path
from ..runtimes.shims import shim_signal
from ..scanner import read_process
from . import diff
from .events import CONTAINER_STARTED, CONTAINER_STOPPED, Event, identity
from .loop import Watcher, Write

MIN_GAP = 1.0  # seconds from the start of one rescan to the start of the next (a burst asks for many)
COALESCE = 0.1  # seconds from the first event that asks for a rescan to the rescan: a burst needs one
_MAX_TRACKED = (
    65536  # fork records kept for processes in container cgroups (bounded: a fork storm is not ours)
)
_KEEP_MARKS = 120.0  # seconds an instance the events already reported stays remembered after it left


@dataclass(slots=True)
class _Item:
    event: ProcEvent | None  # None: the socket overran, or a scan finished (`scan`)
    proc: Process | None  # read when the event arrived (fork, exec); None when already gone
    scan: tuple[list[Event], float, Snapshot | None] | None = (
        None  # a rescan's events, its start, its snapshot
    )
    failure: BaseException | None = None  # the rescan raised: the watch thread re-raises it


@dataclass(slots=True)
class _Instance:
    key: tuple[str, int | None]
    started: str | None
    brief: dict[str, Any]
    since: float = 0.0  # when an event told it (0: a scan): a scan begun before that cannot know it


class _Rescanner(threading.Thread):
    """Full scans (with the slow detectors) off the watch thread: events keep flowing while /proc is read."""

    def __init__(self, watcher: Watcher, out: queue.Queue[_Item]) -> None:
        super().__init__(name="ctrlens-rescan", daemon=True)
        self.watcher, self.out = watcher, out
        self.wanted = threading.Event()
        self.halt = threading.Event()
        self.busy = False

    def run(self) -> None:
        while not self.halt.is_set():
            if not self.wanted.wait(0.2):
                continue
            self.wanted.clear()
            began = time.time()
            try:
                events = self.watcher.poll()
            except Exception as exc:  # noqa: BLE001 - handed to the watch thread, which raises it
                self.out.put(_Item(None, None, failure=exc))
                return
            self.out.put(_Item(None, None, scan=(events, began, self.watcher.last)))
            self.halt.wait(max(0.0, MIN_GAP - (time.time() - began)))  # a burst: scans, not a scan loop


class _Reader(threading.Thread):
    def __init__(self, connector: ProcConnector, host: Host, out: queue.Queue[_Item]) -> None:
        super().__init__(name="ctrlens-proc-events", daemon=True)
        self.connector, self.host, self.proc_dir, self.out = connector, host, host.proc, out
        self.halt = threading.Event()

    def run(self) -> None:
        import select

        while not self.halt.is_set():
            try:
                ready, _, _ = select.select([self.connector], [], [], 0.2)
                if not ready:
                    continue
                events, overrun = self.connector.read()
            except (OSError, ValueError):
                return  # closed
            if overrun:
                self.out.put(_Item(None, None))
            for event in events:
                proc = None
                if event.what in (PROC_EVENT_FORK, PROC_EVENT_EXEC) and event.pid == event.tid:
                    proc = self._read(event.pid)
                self.out.put(_Item(event, proc))

    def _read(self, pid: int) -> Process | None:
        """The process, when its cgroup names a container: one small read for the host's own processes (most
        forks), so the reader keeps up with a burst while the container's short-lived processes still exist."""
        try:
            with open(f"{self.proc_dir}/{pid}/cgroup", "rb") as f:
                raw = f.read()
        except OSError:
            return None
        paths = cgroup_paths(parse_cgroup(raw))
        if not any(match_cgroup_path(path) for path in paths):
            return None
        return read_process(self.proc_dir, pid, self.host)


def read_nspid(proc_dir: str, pid: int) -> list[int] | None:
    """The pid in each nested pid namespace (status NSpid), as the scanner reads it for container processes."""
    try:
        with open(f"{proc_dir}/{pid}/status", "rb") as f:
            value = parse_status(f.read()).get("NSpid")
    except OSError:
        return None
    return list(status_ids(value)) if value else None


def _payload_match(proc: Process) -> tuple[str, Container] | None:
    """The container a process's cgroup names (the innermost payload), as the scanner builds it; None for host
    processes and runtime monitors."""
    for path in proc.cgroups:
        matches = match_cgroup_path(path)
        if matches:
            inner = matches[-1]
            if inner.shim:
                return None
            container = Container(
                id=inner.id,
                runtime=inner.runtime,
                cgroup=inner.cgroup,
                name=inner.name,
                engine_namespace=inner.engine_namespace,
                evidence=[f"cgroup {inner.cgroup} matches {inner.rule}"],
            )
            if inner.pod_uid or inner.qos:
                container.pod = Pod(name=None, namespace=None, uid=inner.pod_uid, qos=inner.qos)
            return inner.id, container
    return None


class KernelWatcher:
    """The Watcher's scans and detectors, with container starts and stops taken from process events."""

    def __init__(
        self, watcher: Watcher, connector: ProcConnector, warn: Callable[[str], None] | None = None
    ) -> None:
        self.watcher = watcher
        self.host: Host = watcher.host
        self.connector = connector
        self._warn = warn
        self.items: queue.Queue[_Item] = queue.Queue()
        self._reader = _Reader(connector, self.host, self.items)
        self._rescanner = _Rescanner(watcher, self.items)
        self._forked: dict[int, Process] = {}  # pid -> its read at fork, for processes in container cgroups
        self._inits: dict[int, _Instance] = {}  # init pid -> running instance (from scans and events)
        self._reported_starts: dict[tuple[str, int | None], float] = {}
        self._reported_stops: dict[tuple[str, int | None], float] = {}
        self.overruns = 0
        self.rescan_due: float | None = None

    # -- scans ---------------------------------------------------------------------------------------------------
    def first(self, *, initial: bool) -> list[Event]:
        self._reader.start()  # subscribed before the baseline scan: nothing falls between the two
        began = time.time()
        events = self.watcher.first(initial=initial)
        self._after_scan(began, self.watcher.last)
        self._rescanner.start()
        return events

    def request_rescan(self) -> None:
        """A full scan soon (one at a time; requests made while one runs give one more after it)."""
        self.rescan_due = None
        self._rescanner.wanted.set()

    def _scanned(self, found: list[Event], began: float, snapshot: Snapshot | None) -> list[Event]:
        events = [e for e in found if not self._already_told(e)]
        now = time.time()
        for event in events:  # told by the scan: the events must not tell it again
            if event.instance is not None and event.type == CONTAINER_STARTED:
                self._reported_starts[event.instance] = now
            elif event.instance is not None and event.type == CONTAINER_STOPPED:
                self._reported_stops[event.instance] = now
        events.extend(self._after_scan(began, snapshot))
        return events

    def _already_told(self, event: Event) -> bool:
        if event.type not in (CONTAINER_STARTED, CONTAINER_STOPPED):
            return False
        key = event.instance
        marks = self._reported_starts if event.type == CONTAINER_STARTED else self._reported_stops
        return key in marks

    def _after_scan(self, began: float, snapshot: Snapshot | None) -> list[Event]:
        """Known inits from the scan; instances the events started before it that it no longer has: stopped."""
        if snapshot is None:
            return []
        now = time.time()
        live: dict[int, _Instance] = {}
        for container in snapshot.containers.values():
            if not diff.settled(snapshot, container) or container.init_pid is None:
                continue
            key = diff.instance_key(snapshot, container)
            if key in self._reported_stops:
                continue  # its init exited (a zombie the scan still saw)
            live[container.init_pid] = _Instance(key, container.started, identity(container))
        seen = {i.key for i in live.values()}
        events = []
        for pid, inst in self._inits.items():
            if pid in live or inst.key in seen or inst.key in self._reported_stops:
                continue
            if inst.since >= began:
                live[pid] = inst  # told by an event after the scan began: the scan could not see it
                continue
            # Started by an event, gone before a scan saw it, and its exit not (yet) read: stopped.
            events.append(self._stopped(inst, pid, now))
        self._inits = live
        for marks in (self._reported_starts, self._reported_stops):
            for key in [k for k, t in marks.items() if k not in seen and now - t > _KEEP_MARKS]:
                del marks[key]
        return events

    # -- events --------------------------------------------------------------------------------------------------
    def handle(self, item: _Item) -> list[Event]:
        event = item.event
        now = time.time()
        if item.failure is not None:
            raise item.failure
        if item.scan is not None:
            return self._scanned(*item.scan)
        if event is None:
            self.overruns += 1
            if self._warn is not None:
                self._warn(
                    f"process events overran the socket buffer (overrun {self.overruns}): rescanning /proc"
                )
            self.rescan_due = now  # events were lost: the scan tells what they would have
            return []
        if event.pid != event.tid:
            return []  # threads
        if event.what == PROC_EVENT_FORK:
            if item.proc is not None and _payload_match(item.proc) is not None:
                if len(self._forked) >= _MAX_TRACKED:
                    self._forked.clear()
                self._forked[event.pid] = item.proc
            return []
        if event.what == PROC_EVENT_EXEC:
            return self._exec(event, item.proc, now)
        if event.what == PROC_EVENT_EXIT:
            self._forked.pop(event.pid, None)
            inst = self._inits.pop(event.pid, None)
            if inst is None:
                return []
            self._ask_rescan(now)
            return [self._stopped(inst, event.pid, now)]
        return []

    def _exec(self, event: ProcEvent, proc: Process | None, now: float) -> list[Event]:
        forked = self._forked.get(event.pid)
        if proc is None and forked is not None:
            last = self.watcher.last
            host_pid_ns = last.host_namespaces.get("pid") if last is not None else None
            if forked.pid_ns is None or forked.pid_ns == host_pid_ns:
                return []  # gone already, and its fork was the runtime's own (host pid namespace)
            proc = replace(forked, comm="", cmdline=[])  # gone already: its fork's read, less the old name
        if proc is None:
            return []
        found = _payload_match(proc)
        if found is None:
            return []
        cid, container = found
        self._ask_rescan(now)
        if any(inst.key[0] == cid for inst in self._inits.values()):
            return []  # a new process in a running container: the rescan reports it
        if proc.nspid is None:
            proc.nspid = read_nspid(self.host.proc, proc.pid)
        container.pids = [proc.pid]
        container.init_pid = proc.pid
        last = self.watcher.last
        snapshot = Snapshot(
            processes={proc.pid: proc},
            containers={cid: container},
            host_namespaces=last.host_namespaces if last is not None else {},
            taken_at=now,
        )
        if not diff.settled(snapshot, container):
            return []  # the runtime still setting it up, or the engine cleaning up after it
        if last is not None:
            # A fresh context: its file cache must not hold the runtime's listing from before this container.
            meta = self._meta_for(proc, last)
            enrich(container, meta)
            if container.started is None:
                container.started = meta.process_start_iso(proc)
        key = (cid, proc.start_ticks)
        self._inits[proc.pid] = _Instance(key, container.started, identity(container), since=now)
        self._reported_starts[key] = now
        started = diff.started_event(snapshot, container, now, CONTAINER_STARTED, self.watcher.mask)
        started.source = "kernel"
        started.instance = key
        return [started]

    def _meta_for(self, proc: Process, last: Snapshot) -> MetaContext:
        """The runtimes' file locations as the scan finds them: daemons' command lines, and the new container's
        own monitor (its parent: conmon names podman's storage root, lxc-monitor LXC's path)."""
        meta = MetaContext(self.host, last.processes)
        parents = [p for p in last.processes.values() if p.role == ROLE_SHIM]
        parent = read_process(self.host.proc, proc.ppid, self.host)
        if parent is not None:
            parents.append(parent)
        for shim in parents:
            signal = shim_signal(shim.cmdline, shim.comm)
            if signal is None:
                continue
            if signal.kind == "lxc-monitor" and signal.state_path:
                meta.dirs.add("lxc_paths", signal.state_path)
            if signal.kind == "conmon" and signal.bundle and "/overlay-containers/" in signal.bundle:
                meta.dirs.add("containers_storage", signal.bundle.split("/overlay-containers/")[0])
        return meta

    def _stopped(self, inst: _Instance, pid: int, now: float) -> Event:
        self._reported_stops[inst.key] = now
        detail = {"started": inst.started, "init_pid": pid}
        return Event(CONTAINER_STOPPED, now, inst.brief, detail, source="kernel", instance=inst.key)

    def _ask_rescan(self, now: float) -> None:
        if self.rescan_due is None:
            self.rescan_due = now + COALESCE

    def close(self) -> None:
        self._reader.halt.set()
        self._rescanner.halt.set()
        self.connector.close()


def run(
    watcher: KernelWatcher,
    write: Write,
    *,
    rescan: float,
    initial: bool = False,
    stop: threading.Event | None = None,
    max_events: int | None = None,
    duration: float | None = None,
    accept: Callable[[Event], bool] | None = None,
) -> int:
    """Like `loop.run`, but woken by process events; a full rescan every `rescan` seconds."""
    stop = stop or threading.Event()
    started = time.monotonic()
    written = 0

    def emit(events: list[Event]) -> bool:
        nonlocal written
        for event in events:
            if accept is not None and not accept(event):
                continue
            write(event)
            written += 1
            if max_events is not None and written >= max_events:
                return False
        return True

    rescan = min(rescan, watcher.watcher.slow_interval)  # the detectors' checks need a scan to run on
    sys.setswitchinterval(0.001)  # the event thread waits less for the GIL while a rescan runs
    try:
        if not emit(watcher.first(initial=initial)):
            return written
        next_full = time.time() + rescan
        while not stop.is_set():
            now = time.time()
            if duration is not None and time.monotonic() - started >= duration:
                return written
            due = min(next_full, watcher.rescan_due if watcher.rescan_due is not None else next_full)
            if now >= due:
                if now >= next_full:
                    next_full = now + rescan
                watcher.request_rescan()
                continue
            wait = min(due - now, 0.25)
            try:
                item = watcher.items.get(timeout=max(wait, 0.0))
            except queue.Empty:
                continue
            batch = [item]
            while len(batch) < 1024:
                try:
                    batch.append(watcher.items.get_nowait())
                except queue.Empty:
                    break
            for item in batch:
                if not emit(watcher.handle(item)):
                    return written
        return written
    finally:
        watcher.close()
