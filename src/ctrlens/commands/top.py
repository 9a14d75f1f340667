"""`ctrlens top`: a live terminal view of the host's containers, their shims and processes."""

from __future__ import annotations

import argparse
import os
import sys

from ..errors import UsageError
from ._base import Context

NAME = "top"
ORDER = 12
HELP = "live view of containers and their processes (terminal UI)"
DESCRIPTION = """\
A live view, refreshed every second: containers grouped with their runtime shims and processes, per-container
CPU% and memory from the cgroup, per-process CPU% and resident memory, host processes in their own group.
Enter on a row shows what `ctrlens inspect` shows, the audit findings, the environment (secrets hidden until
you press v) and a read-only file browser on the container's root; k kills, after the same confirmation as
`ctrlens kill`. Press ? for the keys.

examples:
  sudo ctrlens top
  ctrlens top --interval 2 --filter web
  ctrlens --host-root /host top        from a pod that mounts the host at /host
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="seconds between refreshes (default 1, at least 0.2)",
    )
    parser.add_argument("--filter", metavar="TEXT", default="", help="start with this filter")
    parser.add_argument("--containers-only", action="store_true", help="start without the host's processes")
    parser.add_argument("--sort", choices=("cpu", "mem", "name", "pid"), default="cpu", help="initial sort")
    parser.add_argument("--light", action="store_true", help="colours for a light terminal (t toggles)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    if not 0.2 <= args.interval <= 3600:
        raise UsageError("--interval must be between 0.2 and 3600 seconds")
    host = ctx.host  # a bad --host-root is the first thing to say
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("top needs a terminal; for scripts use `ctrlens ps -o json` or `ctrlens containers`")
    try:
        from ..tui.app import TopApp
    except ImportError:
        raise UsageError("top needs Textual: pip install 'ctrlens[tui]'") from None
    if os.geteuid() != 0 and host.is_live:
        print(
            "ctrlens: not root: names, environments and files of other users' containers will be missing",
            file=ctx.err,
        )
    app = TopApp(host, interval=args.interval, light=args.light)
    app.model.filter_text = args.filter
    app.model.containers_only = args.containers_only
    app.model.sort = args.sort
    app.run()
    return app.return_code or 0
