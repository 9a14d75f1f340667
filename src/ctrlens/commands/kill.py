"""`ctrlens kill REF`: signal a container or a process, saying first what will follow, then what did."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import UsageError
from ..output import add_output_option, safe_text, write_json, write_ndjson

NAME = "kill"
ORDER = 60
HELP = "signal a container or process, knowing what follows (restart policy, kubelet)"
DESCRIPTION = """\
Signal a container (its init process, or every process with --all) or a single PID, from the host.

Before sending, ctrlens says what will follow:
  - what the signal does to each process: ends it, is caught by a handler, or is dropped by the kernel
    (a container's init that has no handler for SIGTERM never sees it: only KILL and STOP are forced);
  - whether the container ends, or only that process (a worker dies alone);
  - whether something will bring the container back, read from the runtime's own files: Docker's restart
    policy (always, unless-stopped, on-failure:N with the current restart count), Podman's (from its libpod
    database), a Kubernetes pod's kubelet, containerd's restart monitor labels; LXC never restarts on exit.
Then it asks for confirmation (on a terminal; --yes otherwise), signals through a pidfd taken before those
checks (a PID reused in the meantime is never hit), waits up to --wait seconds and reports what happened:
exited, restarted as a new PID, or still running.

examples:
  ctrlens kill web                  SIGTERM to web's init (and see whether it will even notice)
  ctrlens kill -s KILL web --yes    end web now; reports its new PID if Docker restarts it
  ctrlens kill --all -s TERM web    every process of web
  ctrlens kill 4242 -s HUP          one process (the container keeps running)
  ctrlens kill web -s KILL --dry-run -o json   the plan only, as JSON
"""
EPILOG = """\
exit codes: 0 signal sent (or --dry-run), 2 bad signal or usage, 3 no such container or process (or it exited
before the signal), 4 refused (no confirmation, kernel thread, host init), 5 permission denied.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="container ID, unique prefix or name, or a host PID")
    parser.add_argument(
        "-s",
        "--signal",
        default="TERM",
        metavar="SIGNAL",
        help="signal name or number: TERM (default), KILL, HUP, INT, USR1, STOP, CONT, 9…",
    )
    parser.add_argument(
        "-a", "--all", action="store_true", help="signal every process of the container, not only its init"
    )
    parser.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("-n", "--dry-run", action="store_true", help="show the plan, send nothing")
    parser.add_argument(
        "-w",
        "--wait",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="how long to watch for exit and restart afterwards (default 5; 0: do not wait)",
    )
    add_output_option(parser)


def run(args: argparse.Namespace, ctx: Any) -> int:
    from ..act import Refused, execute, parse_signal, plan_kill

    sig = parse_signal(args.signal)  # bad input fails before any scan
    if args.wait < 0:
        raise UsageError("--wait must be 0 or more seconds")
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host).mask_snapshot(snapshot)  # the plan shows command lines: no secrets in them
    with plan_kill(snapshot, args.ref, sig, all=args.all, host=ctx.host) as plan:
        text = args.output == "table"
        plan_stream = ctx.out if text else ctx.err
        if text or not args.yes:
            plan_stream.write("\n".join(plan.lines()) + "\n")
        if args.dry_run:
            _emit(args, ctx, plan, None)
            return 0
        if not args.yes and not _confirm(f"Send {plan.signal_name}?", ctx):
            raise Refused("nothing sent")
        outcome = execute(plan, wait=args.wait)
        if text:
            ctx.out.write(f"result: {safe_text(outcome.message)}\n")
        else:
            _emit(args, ctx, plan, outcome)
        return 0 if outcome.state != "not-sent" else 3


def _confirm(question: str, ctx: Any) -> bool:
    from ..act import Refused

    if not (sys.stdin.isatty() and ctx.err.isatty()):
        raise Refused(
            "not sending without confirmation: there is no terminal to ask on; pass --yes "
            "(or --dry-run to only see the plan)"
        )
    ctx.err.write(f"{question} [y/N] ")
    ctx.err.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _emit(args: argparse.Namespace, ctx: Any, plan: Any, outcome: Any) -> None:
    if args.output == "table":
        return
    record = {"plan": plan.to_dict(), "outcome": outcome.to_dict() if outcome else None}
    if args.output == "json":
        write_json(record, ctx.out)
    else:
        write_ndjson([record], ctx.out)
