"""`ctrlens containers`: one row a running container, every runtime, no socket."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from ..model import Container, Snapshot
from ..output import Column, Result, add_output_option, render_table
from ._base import Context
from .pods import add_pod_filters, in_pods

NAME = "containers"
ORDER = 5
HELP = "list running containers of every runtime (the default command)"
DESCRIPTION = """\
One row a running container: Docker, containerd (ctr, nerdctl, Kubernetes), CRI-O, Podman, LXC,
systemd-nspawn, and namespaced processes that no runtime rule names ("unknown").
Names, images and pods come from the runtimes' own files on the host, not from their sockets.

examples:
  ctrlens containers
  ctrlens containers --runtime podman -o json
  ctrlens containers --namespace kube-system --no-sandbox
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        action="append",
        metavar="NAME",
        help="only containers of this runtime (docker, containerd, cri-o, podman, lxc, nspawn, unknown)",
    )
    parser.add_argument(
        "--no-sandbox", action="store_true", help="hide Kubernetes pause (sandbox) containers"
    )
    parser.add_argument(
        "--reveal",
        action="store_true",
        help="show secrets in command lines and labels instead of redacting them",
    )
    add_pod_filters(parser)
    add_output_option(parser)


def age(iso: str | None, now: float | None = None) -> str | None:
    if not iso:
        return None
    try:
        then = datetime.fromisoformat(iso[:19]).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return iso
    seconds = max(0, int((now or time.time()) - then))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def container_rows(
    snapshot: Snapshot, runtimes: list[str] | None = None, no_sandbox: bool = False
) -> list[Container]:
    rows = list(snapshot.containers.values())
    if runtimes:
        rows = [c for c in rows if c.runtime in runtimes]
    if no_sandbox:
        rows = [c for c in rows if not c.sandbox]
    rows.sort(key=lambda c: (c.runtime, c.display_name))
    return rows


COLUMNS = [
    Column("ID", "short_id", 12, 17),
    Column("NAME", "name", 4, 28),
    Column("RUNTIME", "runtime", 7, 10),
    Column("IMAGE", "image", 5, None),
    Column("POD", "pod_ref", 3, 30),
    Column("PID", "init_pid", 3, 8, ">"),
    Column("PROCS", "process_count", 5, 5, ">"),
    Column("STARTED", "age", 7, 9),
]


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host, reveal=args.reveal).mask_snapshot(snapshot)  # secrets in argv and labels
    containers = [c for c in container_rows(snapshot, args.runtime, args.no_sandbox) if in_pods(c, args)]

    def table() -> str:
        if not containers:  # said beside the table only: an empty JSON list needs no words
            ctx.err.write(
                "no running containers found"
                + (" (not root: some may be hidden)\n" if snapshot.warnings else "\n")
            )
        records = [c.to_dict() for c in containers]
        for rec, c in zip(records, containers, strict=True):
            rec["age"] = age(rec["started"])
            rec["pod_ref"] = c.pod.ref if c.pod else None
        columns = COLUMNS if any(r["pod_ref"] for r in records) else [c for c in COLUMNS if c.header != "POD"]
        return render_table(records, columns)

    return Result(document=lambda: [c.to_dict() for c in containers], table=table)
