"""`ctrlens env REF`: the environment of a container's processes, with secrets redacted."""

from __future__ import annotations

import argparse
from typing import Any

from ..output import Column, Result, add_output_option, table_result
from ._base import Context

NAME = "env"
ORDER = 30
HELP = "the environment of a container, secrets redacted"
DESCRIPTION = """\
The environment of the container's init process, one variable a line, then the variables of any other
process whose environment differs from the init's (changed or added variables only). Values that hold a
secret are shown as <redacted: RULE, N chars, fp FINGERPRINT> unless --reveal; `ctrlens secrets` explains
the rules and who else on the host can read them. A PID as REF shows that process alone.

/proc/PID/environ is the environment the process started with: later setenv() calls do not show.

examples:
  ctrlens env web
  ctrlens env web --all-processes -o json
  ctrlens env 4242 --reveal
"""
EPILOG = """\
JSON keys (one record per variable): pid, comm, name, value (redacted unless --reveal), redacted,
secret (null, or rule, length, fingerprint).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="container ID or unique prefix, name, or PID")
    parser.add_argument("--reveal", action="store_true", help="show secret values instead of redacting them")
    parser.add_argument(
        "--all-processes",
        action="store_true",
        help="every variable of every process of the container, not only what differs",
    )
    add_output_option(parser)


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..errors import ProcessGone
    from ..secrets import read_process
    from ..secrets.redact import Redactor

    ctx.scan()
    target = ctx.resolve(args.ref)
    init_pid = target.pid
    if init_pid is None:
        raise ProcessGone(f"{args.ref}: the container has no running process")
    pids = [init_pid]
    if target.container is not None and (not target.by_pid or args.all_processes):
        pids += sorted(p for p in target.container.pids if p != init_pid)
    redactor = Redactor.for_host(ctx.host, reveal=args.reveal)

    rows: list[dict[str, Any]] = []
    init_env: set[tuple[str, str]] | None = None
    gone = 0
    for pid in pids:
        data = read_process(pid, ctx.host.proc)
        if data is None:
            if pid == init_pid:
                raise ProcessGone(f"process {pid} exited while its environment was read")
            gone += 1
            continue
        pairs = data.environ
        if init_env is None:
            init_env = set(pairs)
        elif not args.all_processes:
            pairs = [pair for pair in pairs if pair not in init_env]
        rows += [_row(data.pid, data.comm, shown) for shown in redactor.environ(pairs)]
    if gone:
        ctx.error(f"{gone} process(es) exited while being read; not shown")
    return table_result(rows, COLUMNS, empty_text="(empty environment)")


def _row(pid: int, comm: str, shown: Any) -> dict[str, Any]:
    finding = shown.finding
    return {
        "pid": pid,
        "comm": comm,
        "name": shown.name,
        "value": shown.value,
        "redacted": shown.redacted,
        "secret": None
        if finding is None
        else {"rule": finding.rule, "length": finding.length, "fingerprint": finding.fingerprint},
    }


COLUMNS = [
    Column("PID", "pid", max_width=8, align=">"),
    Column("NAME", "name", min_width=8, max_width=40),
    Column("VALUE", "value", min_width=10),
]
