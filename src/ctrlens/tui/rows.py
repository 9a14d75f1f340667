"""The rows `ctrlens top` shows: containers grouped with their shims and processes, then the host's processes.

`TopModel.update(snapshot, usage)` diffs a new scan into long-lived `Row` objects (new rows made, gone rows
dropped, the rest updated in place); `visible()` applies collapse state, filter, "containers only" and the sort.
No Textual here: the widget only draws `visible()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..model import ROLE_KERNEL, ROLE_SHIM, Container, Process, Snapshot
from ..refs import Target
from ..text import safe_text
from .resources import Usage

CONTAINER = "container"
HOST = "host"
SHIM = "shim"
PROCESS = "process"

HOST_KEY = "host"
SORTS = ("cpu", "mem", "name", "pid")
_NONE = -1.0  # sorts rows without a figure after those with one


@dataclass(slots=True)
class Row:
    key: (
        str  # "c:<id>", "host", "p:<pid>", "s:<container id>:<pid>" (a pod's shim shows under each container)
    )
    kind: str
    group: str  # key of the group row ("c:<id>" or "host"); a group row is its own group
    name: str = ""  # container name or process command, safe for the terminal
    extra: str = ""  # shown dimmed after the name: the container's image
    detail: str = ""  # runtime for a container, user for a process
    pid: int | None = None  # a container's init pid
    count: int | None = None  # processes in a group
    cpu: float | None = None
    mem: int | None = None
    depth: int = 0  # set by `visible()`
    search: str = ""  # lower-case text the filter matches
    container_id: str | None = None
    version: int = 0  # bumped when a shown field changes, so the widget can cache drawn lines

    @property
    def is_group(self) -> bool:
        return self.kind in (CONTAINER, HOST)

    def set(
        self,
        name: str,
        extra: str,
        detail: str,
        pid: int | None,
        count: int | None,
        cpu: float | None,
        mem: int | None,
    ) -> None:
        values = (name, extra, detail, pid, count, cpu, mem)
        if values != (self.name, self.extra, self.detail, self.pid, self.count, self.cpu, self.mem):
            self.name, self.extra, self.detail, self.pid, self.count, self.cpu, self.mem = values
            self.search = f"{name} {extra} {detail} {pid or ''} {self.container_id or ''}".lower()
            self.version += 1


@dataclass(slots=True)
class _Group:
    row: Row
    tops: list[Row] = field(default_factory=list)  # members without a parent inside the group
    kids: dict[str, list[Row]] = field(default_factory=dict)


class TopModel:
    """All rows, and how to show them. Long-lived: one per app."""

    def __init__(self) -> None:
        self.rows: dict[str, Row] = {}
        self.groups: dict[str, _Group] = {}
        self.sort = "cpu"
        self.filter_text = ""
        self.containers_only = False
        self.show_kernel = False
        self.collapsed: set[str] = {
            HOST_KEY
        }  # the host's processes are many and not the point: closed at first
        self.hidden_kernel = 0
        self.generation = 0  # number of updates applied
        self.process_count = 0
        self.drawn_folded: set[str] = set()  # groups the last `visible()` drew closed (a filter opens them)

    def update(self, snapshot: Snapshot, usage: Usage) -> None:
        seen: set[str] = set()
        groups: dict[str, _Group] = {}
        for container in snapshot.containers.values():
            groups["c:" + container.id] = self._container_group(snapshot, usage, container, seen)
        groups[HOST_KEY] = self._host_group(snapshot, usage, seen)
        for key in self.rows.keys() - seen:
            del self.rows[key]
        self.collapsed &= seen | {HOST_KEY}
        self.groups = groups
        self.process_count = len(snapshot.processes)
        self.generation += 1

    def _row(self, key: str, kind: str, group: str, seen: set[str], container_id: str | None = None) -> Row:
        seen.add(key)
        row = self.rows.get(key)
        if row is None or row.kind != kind:
            row = self.rows[key] = Row(key, kind, group, container_id=container_id)
        row.group, row.container_id = group, container_id
        return row

    def _container_group(self, snapshot: Snapshot, usage: Usage, c: Container, seen: set[str]) -> _Group:
        key = "c:" + c.id
        row = self._row(key, CONTAINER, key, seen, c.id)
        cu = usage.containers.get(c.id)
        row.set(
            safe_text(c.display_name),
            safe_text(c.image or ""),
            c.runtime,
            c.init_pid,
            len(c.pids),
            cu.cpu_percent if cu else None,
            cu.memory_bytes if cu else None,
        )
        group = _Group(row)
        shim = snapshot.processes.get(c.shim_pid) if c.shim_pid else None
        if shim is not None:
            shim_row = self._row(f"s:{c.id}:{shim.pid}", SHIM, key, seen, c.id)
            self._set_process(shim_row, shim, usage, "shim", shim_label(shim))
            group.tops.append(shim_row)
        members = set(c.pids)
        for proc in snapshot.processes_of(c):
            prow = self._row(f"p:{proc.pid}", PROCESS, key, seen, c.id)
            self._set_process(prow, proc, usage, proc.user)
            if proc.ppid in members:
                group.kids.setdefault(f"p:{proc.ppid}", []).append(prow)
            else:
                group.tops.append(prow)
        return group

    def _host_group(self, snapshot: Snapshot, usage: Usage, seen: set[str]) -> _Group:
        row = self._row(HOST_KEY, HOST, HOST_KEY, seen)
        group = _Group(row)
        kernel = 0
        cpu_total = 0.0
        for proc in snapshot.processes.values():
            if proc.container_id is not None or (proc.role == ROLE_SHIM and proc.shim_of):
                continue
            if proc.role == ROLE_KERNEL and not self.show_kernel:
                kernel += 1
                continue
            prow = self._row(f"p:{proc.pid}", PROCESS, HOST_KEY, seen)
            self._set_process(prow, proc, usage, proc.user)
            cpu_total += prow.cpu or 0.0
            group.tops.append(prow)
        self.hidden_kernel = kernel
        extra = f"+{kernel} kernel threads (K)" if kernel else ""
        row.set(
            "host processes",
            extra,
            "host",
            None,
            len(group.tops),
            cpu_total if usage.interval else None,
            None,
        )
        return group

    @staticmethod
    def _set_process(row: Row, proc: Process, usage: Usage, detail: str, name: str | None = None) -> None:
        pu = usage.processes.get(proc.pid)
        row.set(
            safe_text(name or proc.command),
            "",
            detail,
            proc.pid,
            None,
            pu.cpu_percent if pu else None,
            pu.rss_bytes if pu else None,
        )

    # -- what is shown ---------------------------------------------------------------------------------------

    def visible(self) -> list[Row]:
        """The rows to draw, in order, with `depth` set; `drawn_folded` names the groups shown closed."""
        out: list[Row] = []
        self.drawn_folded = set()
        needle = self.filter_text.lower()
        containers = [g for k, g in self.groups.items() if k != HOST_KEY]
        group_key = self._sort_key(group=True)
        containers.sort(key=lambda g: group_key(g.row))
        ordered = containers
        host = self.groups.get(HOST_KEY)
        if host is not None and not self.containers_only:
            ordered = [*containers, host]
        member_key = self._sort_key(group=False)
        for group in ordered:
            head = group.row
            whole = not needle or needle in head.search
            shown: list[Row] = []
            self._walk(group, group.tops, 1, member_key, "" if whole else needle, shown)
            if not whole and not shown:
                continue
            head.depth = 0
            out.append(head)
            if head.key not in self.collapsed or (needle and not whole):
                out.extend(shown)
            else:
                self.drawn_folded.add(head.key)
        return out

    def _walk(
        self,
        group: _Group,
        rows: list[Row],
        depth: int,
        key: Callable[[Row], Any],
        needle: str,
        out: list[Row],
    ) -> bool:
        """Depth-first, siblings sorted (a container's shim first); with a needle, keep matches and their
        ancestors. True if any kept."""
        kept_any = False
        for row in sorted(rows, key=lambda r: (r.kind != SHIM, key(r))):
            mark = len(out)
            out.append(row)
            row.depth = depth
            kids = group.kids.get(row.key)
            below = self._walk(group, kids, depth + 1, key, needle, out) if kids else False
            if needle and not below and needle not in row.search:
                del out[mark:]
                continue
            kept_any = True
        return kept_any

    def _sort_key(self, *, group: bool) -> Callable[[Row], Any]:
        sort = self.sort
        if sort == "cpu":
            return lambda r: (-(r.cpu if r.cpu is not None else _NONE), r.name if group else r.pid or 0)
        if sort == "mem":
            return lambda r: (-(r.mem if r.mem is not None else _NONE), r.name if group else r.pid or 0)
        if sort == "pid":
            return lambda r: r.pid or 0
        return (lambda r: r.name.lower()) if group else (lambda r: r.pid or 0)

    def next_sort(self) -> str:
        self.sort = SORTS[(SORTS.index(self.sort) + 1) % len(SORTS)]
        return self.sort

    def toggle(self, group_key: str) -> None:
        if group_key in self.collapsed:
            self.collapsed.discard(group_key)
        else:
            self.collapsed.add(group_key)

    def set_all_collapsed(self, collapsed: bool) -> None:
        self.collapsed = set(self.groups) if collapsed else set()

    @property
    def container_count(self) -> int:
        return len(self.groups) - (HOST_KEY in self.groups)


def shim_label(proc: Process) -> str:
    """`containerd-shim-runc-v2`, `conmon`, `[lxc monitor] /var/lib/lxc web`: the program, not its long argv."""
    if not proc.cmdline or proc.cmdline[0].startswith("["):
        return proc.command
    return proc.cmdline[0].rsplit("/", 1)[-1]


def target_of(snapshot: Snapshot, row: Row) -> Target | None:
    """The container or process a table row stands for, in `snapshot` (None when it has gone)."""
    if row.kind == CONTAINER and row.container_id:
        container = snapshot.containers.get(row.container_id)
        if container is None:
            return None
        proc = snapshot.processes.get(container.init_pid) if container.init_pid else None
        return Target(container, proc, False)
    if row.pid is None:
        return None
    proc = snapshot.processes.get(row.pid)
    if proc is None:
        return None
    return Target(snapshot.container_of(row.pid), proc, True)
