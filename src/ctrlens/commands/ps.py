"""`ctrlens ps`: every process with the container, runtime and pod it belongs to."""

from __future__ import annotations

import argparse
from typing import Any

from ..model import ROLE_RUNTIME, ROLE_SHIM, Container, Process, Snapshot
from ..output import Column, Result, add_output_option, cut, render_table, safe_text, terminal_width
from ._base import Context
from .pods import add_pod_filters, in_pods

NAME = "ps"
ORDER = 10
HELP = "list processes with their container, runtime and pod"
DESCRIPTION = """\
Every process on the host, with the container (name, else short ID), runtime and pod it belongs to.
Runtime shims (containerd-shim-runc-v2, conmon, [lxc monitor]) are marked as such.
Like ps -C, exit 1 when -C matches no process (in every output format).

examples:
  ctrlens ps -C nginx           which nginx is in a container, which is on the host
  ctrlens ps --forest           the process tree with shims and containers, like ps -ef --forest
  ctrlens ps --container web    the processes of one container
  ctrlens ps --namespace shop   the processes of the pods of one Kubernetes namespace (--pod NAME: one pod)
  ctrlens ps -o json | jq '.[] | select(.container.runtime=="podman")'
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-C",
        dest="comm",
        metavar="NAME",
        action="append",
        help="only processes whose command name is NAME (like ps -C); repeatable",
    )
    parser.add_argument("--container", metavar="REF", help="only the processes of this container")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--containers-only", action="store_true", help="only processes inside containers")
    which.add_argument("--host-only", action="store_true", help="only host processes (not in any container)")
    parser.add_argument("--forest", action="store_true", help="show the process tree, annotated")
    parser.add_argument(
        "--reveal",
        action="store_true",
        help="show secrets in command lines and labels instead of redacting them",
    )
    add_pod_filters(parser)
    add_output_option(parser)


def select(snapshot: Snapshot, args: argparse.Namespace, ctx: Context) -> list[Process]:
    procs = list(snapshot.processes.values())
    if args.comm:
        names = set(args.comm)
        procs = [p for p in procs if p.comm in names]
    if args.container:
        target = ctx.resolve(args.container)
        if target.container is None:
            wanted = {target.process.pid} if target.process else set()
            procs = [p for p in procs if p.pid in wanted]
        else:
            procs = [p for p in procs if p.container_id == target.container.id]
    if args.namespace or args.pod:
        procs = [p for p in procs if in_pods(snapshot.container_of(p.pid), args)]
    if args.containers_only:
        procs = [p for p in procs if p.container_id is not None]
    if args.host_only:
        procs = [p for p in procs if p.container_id is None]
    procs.sort(key=lambda p: p.pid)
    return procs


def container_label(snapshot: Snapshot, proc: Process, container: Container | None) -> str | None:
    """What the CONTAINER column says; `container` is the process's own (looked up once by the caller)."""
    if proc.role == ROLE_SHIM:
        served = [snapshot.containers[c].display_name for c in proc.shim_of if c in snapshot.containers]
        return "shim: " + ",".join(served) if served else "(shim)"
    if proc.role == ROLE_RUNTIME:
        return "(runtime)"
    return container.display_name if container else None


def _row(snapshot: Snapshot, proc: Process) -> dict[str, Any]:
    container = snapshot.container_of(proc.pid)
    return {
        "pid": proc.pid,
        "ppid": proc.ppid,
        "user": proc.user,
        "container": container_label(snapshot, proc, container),
        "runtime": container.runtime if container else None,
        "pod": _pod_label(container),
        "command": proc.command,
    }


def _pod_label(container: Container | None) -> str | None:
    """namespace/name, else the pod's uid from its cgroup path (a pod whose runtime files are unreadable)."""
    pod = container.pod if container else None
    if pod is None:
        return None
    return pod.ref or (f"pod{pod.uid}" if pod.uid else None)


COLUMNS = [
    Column("PID", "pid", 5, 8, ">"),
    Column("PPID", "ppid", 5, 8, ">"),
    Column("USER", "user", 4, 10),
    Column("CONTAINER", "container", 9, 24),
    Column("RUNTIME", "runtime", 7, 10),
    Column("POD", "pod", 3, 24),
    Column("COMMAND", "command", 10, None),
]


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host, reveal=args.reveal).mask_snapshot(snapshot)  # secrets in argv and labels
    procs = select(snapshot, args, ctx)

    def table() -> str:
        if args.forest:
            return forest(snapshot, procs)
        rows = [_row(snapshot, p) for p in procs]
        columns = COLUMNS if any(r["pod"] for r in rows) else [c for c in COLUMNS if c.header != "POD"]
        return render_table(rows, columns)

    return Result(
        document=lambda: [snapshot.process_dict(p) for p in procs],
        table=table,
        exit_code=1 if args.comm and not procs else 0,  # like ps -C: nothing matched
    )


def forest(snapshot: Snapshot, procs: list[Process]) -> str:
    """ps -ef --forest, annotated: each container's top process says which container it starts."""
    wanted = {p.pid for p in procs}
    # Keep the ancestors of selected processes so the tree stays connected.
    for proc in procs:
        ppid = proc.ppid
        while ppid in snapshot.processes and ppid not in wanted:
            wanted.add(ppid)
            ppid = snapshot.processes[ppid].ppid
    kids: dict[int, list[int]] = {}
    for pid in sorted(wanted):
        kids.setdefault(snapshot.processes[pid].ppid, []).append(pid)
    roots = sorted(pid for pid in wanted if snapshot.processes[pid].ppid not in wanted)
    width = terminal_width()
    labels = {pid: _forest_label(snapshot, snapshot.processes[pid]) for pid in wanted}
    label_width = max([9, *(len(text) for text in labels.values())])
    label_width = min(label_width, 22 if width <= 100 else 40)
    lines = [f"{'PID':>7}  {'USER':<8}  {'CONTAINER':<{label_width}}  COMMAND"]

    def walk(pid: int, depth: int) -> None:
        proc = snapshot.processes[pid]
        indent = "    " * (depth - 1) + " \\_ " if depth else ""
        command = indent + safe_text(proc.command)
        label = cut(labels[pid], label_width)
        line = f"{pid:>7}  {cut(proc.user, 8):<8}  {label:<{label_width}}  {command}"
        lines.append(cut(line, width))
        for child in kids.get(pid, []):
            walk(child, depth + 1)

    for root in roots:
        walk(root, 0)
    return "\n".join(lines)


def _forest_label(snapshot: Snapshot, proc: Process) -> str:
    """The container a subtree enters is named once, at its top process; shims say whom they serve."""
    container = snapshot.container_of(proc.pid)
    if container is None:
        return safe_text(container_label(snapshot, proc, None) or "")
    parent = snapshot.container_of(proc.ppid)
    if parent is None or parent.id != container.id:
        return safe_text(f"{container.display_name} ({container.runtime})")
    return "  ″"  # same container as the line above
