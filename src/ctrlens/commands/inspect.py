"""`ctrlens inspect REF`: processes, namespaces, cgroup, root filesystem and metadata of one container or process."""

from __future__ import annotations

import argparse

from ..output import Result, add_output_option
from ._base import Context

NAME = "inspect"
ORDER = 15
HELP = "everything known of one container or process"
DESCRIPTION = """\
All that ctrlens knows of one container (or of the container a PID belongs to): its processes, the shim
above it, its namespaces and which are shared with the host, its cgroup path, its root filesystem and
where that lives on the host (the overlay upper dir), the user-namespace map, and metadata read from the
runtime's own files (name, image, labels, restart policy, Kubernetes pod).

examples:
  ctrlens inspect web
  ctrlens inspect 4242 -o json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="container ID or unique prefix, name, or PID")
    parser.add_argument(
        "--reveal",
        action="store_true",
        help="show secrets in command lines and labels instead of redacting them",
    )
    add_output_option(parser)


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..inspect import inspect_target, render
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host, reveal=args.reveal).mask_snapshot(snapshot)  # secrets in argv and labels
    target = ctx.resolve(args.ref)
    record = inspect_target(snapshot, target, ctx.host)
    return Result(document=record, table=lambda: render(record))
