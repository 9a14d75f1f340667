"""`ctrlens kill REF`: signal a container or a process, saying first what will follow, then what did."""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from ..errors import UsageError
from ..output import Result, add_output_option
from ..text import safe_text
from ._base import Context

MAX_WAIT = 3600.0  # seconds: --wait beyond an hour is a typo, not a plan

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
  ctrlens kill pod/shop/web --all   every process of every container of a Kubernetes pod (its kubelet
                                    recreates them); without --all a pod is refused
  ctrlens kill web -s KILL --dry-run -o json   the plan only, as JSON
"""
EPILOG = """\
exit codes: 0 signal sent (or --dry-run), 2 bad signal or usage, 3 no such container or process (or it exited
before the signal), 4 refused (no confirmation, kernel thread, host init), 5 permission denied.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "ref", metavar="REF", help="container ID, unique prefix or name, a host PID, or pod/[NAMESPACE/]NAME"
    )
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
        type=_wait_seconds,
        default=5.0,
        metavar="SECONDS",
        help="how long to watch for exit and restart afterwards (default 5; 0: do not wait)",
    )
    add_output_option(parser)


def _wait_seconds(text: str) -> float:
    """--wait: a finite number of seconds, 0 to MAX_WAIT (`nan`, `inf`, `1e308` are refused: exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 to {MAX_WAIT:g} seconds")
    return value


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..act import Refused, execute, parse_signal, plan_kill

    sig = parse_signal(args.signal)  # bad input fails before any scan
    if not args.ref.strip():
        raise UsageError("REF is empty: give a container ID, name or PID")
    if args.wait < 0:
        raise UsageError("--wait must be 0 or more seconds")
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host).mask_snapshot(snapshot)  # the plan shows command lines: no secrets in them
    pod = _pod_ref(snapshot, args.ref)
    if pod is not None:  # pod/NAME: refused unless --all, then every container of the pod
        from .pods import kill_pod

        return kill_pod(args, ctx, snapshot, *pod)
    text = ctx.person_reads_stdout  # the plan is the table; with JSON it goes to stderr
    with plan_kill(snapshot, args.ref, sig, all=args.all, host=ctx.host) as plan:
        plan_stream = ctx.out if text else ctx.err
        if text or not args.yes:
            plan_stream.write("\n".join(plan.lines()) + "\n")
            plan_stream.flush()
        if args.dry_run:
            return _result(plan, None, None)
        if not args.yes and not _confirm(f"Send {plan.signal_name}?", ctx):
            raise Refused("nothing sent")
        outcome = execute(plan, wait=args.wait)
        return _result(
            plan, outcome, f"result: {safe_text(outcome.message)}", 0 if outcome.state != "not-sent" else 3
        )


def _result(plan: Any, outcome: Any, line: str | None, exit_code: int = 0) -> Result:
    record = {"plan": plan.to_dict(), "outcome": outcome.to_dict() if outcome else None}
    return Result(document=record, table=lambda: line or "", exit_code=exit_code)


def _pod_ref(snapshot: Any, ref: str) -> Any:
    """A `pod/…` REF that names no container (a pod called "pod" keeps its `pod/container` REFs)."""
    from ..errors import NotFound
    from ..refs import resolve_ref
    from .pods import pod_ref

    if not ref.startswith("pod/"):
        return None
    try:
        resolve_ref(snapshot, ref)
        return None
    except NotFound:
        return pod_ref(snapshot, ref)


def _confirm(question: str, ctx: Context) -> bool:
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
