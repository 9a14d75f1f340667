"""`ctrlens exec REF -- COMMAND…`: run a host program inside a container's namespaces."""

from __future__ import annotations

import argparse
from typing import Any

from ._base import Context

NAME = "exec"
ORDER = 61
HELP = "run a host tool (tcpdump, ss, strace, ls…) inside a container's namespaces"
DESCRIPTION = """\
Run a program from the HOST inside chosen namespaces of a container (or of any process): debug images with
no shell, no package manager and no tools, without copying anything into them.

By default the program enters the container's net, pid, uts and ipc namespaces but keeps the host's mount
namespace, so host binaries and their libraries work as usual; the container's root filesystem is at
/proc/<pid>/root, which ctrlens prints on stderr and exports as $CTRLENS_ROOT.
With mnt in --ns the program sees the container's files as `/`: a static binary (busybox-static) runs as is;
a dynamically linked host binary is started through the host's loader with the host's libraries (this needs
pid entered too); files it opens by absolute path (locales, plugins, /etc) are the container's. Scripts cannot
run inside the container's mount namespace. With pid but not mnt, tools that read /proc (ps, top) still
see the host's /proc.
The program runs with ctrlens's privileges, cgroup and no seccomp filter: it is not confined like the
container's own processes. setns through a pidfd needs Linux 5.8+.

examples:
  ctrlens exec web -- ss -lntp                 listening sockets of web, with the host's ss
  ctrlens exec web -- ip addr                  its interfaces and addresses
  ctrlens exec web --ns net -- tcpdump -i any -n port 53
  ctrlens exec web -- curl -s localhost:8080/health   its own loopback, with the host's curl
  ctrlens exec web -- sh -c 'ls -la $CTRLENS_ROOT/etc'
  ctrlens exec web --ns net,pid,mnt -- busybox ps   the container's processes through its own /proc
  ctrlens exec web --ns all -- ls /            everything but the user namespace; `ls /` is its root

exit status: the program's (128+N if a signal N ended it); 127 command not found on the host, 126 it cannot
run (not executable, a script with mnt), 2 usage, 3 no such container, 4 entering failed, 5 a namespace
cannot be read or entered (not root): the program is then never run, and never on the host.
"""

NS_HELP = "namespaces to enter, comma separated: net,pid,uts,ipc (default), mnt, cgroup, time, user, or all"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="container ID, unique prefix or name, or a host PID")
    parser.add_argument("--ns", metavar="LIST", help=NS_HELP)
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print where the program runs")
    # dest "argv", not "command": the CLI keeps the subcommand's name in args.command.
    parser.add_argument(
        "argv",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND [ARG…]",
        help="the host program to run, and its arguments",
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..act import enter
    from ..errors import UsageError
    from ..procfs import ProcHandle, parse_stat

    argv = _split_options(args)
    if not argv:
        raise UsageError("no command given: ctrlens exec REF -- COMMAND [ARG…]")
    namespaces = enter.parse_namespaces(args.ns)
    enter.find_program(argv[0])  # a missing program is reported before any scan
    target = ctx.resolve(args.ref)
    pid = target.pid
    if pid is None or target.process is None:
        raise UsageError(f"{args.ref}: no running process to enter")
    with ProcHandle(pid, ctx.host.proc) as handle:
        if parse_stat(handle.read("stat")).start_ticks != target.process.start_ticks:
            from ..errors import ProcessGone

            raise ProcessGone(f"process {pid} exited and its PID was reused since the scan; try again")
        plan = enter.plan_exec(handle, argv, namespaces)
        if not args.quiet:
            _say_where(ctx, target, plan)
        return enter.run(plan, handle)


def _split_options(args: argparse.Namespace) -> list[str]:
    """argparse hands everything after REF to the command; take back our options written before `--`."""
    from ..errors import UsageError

    rest = list(args.argv)
    while rest:
        word = rest[0]
        if word == "--":
            return rest[1:]
        if word in ("-q", "--quiet"):
            args.quiet = True
        elif word == "--ns":
            if len(rest) < 2:
                raise UsageError("--ns needs a value, e.g. --ns net,pid")
            args.ns = rest.pop(1)
        elif word.startswith("--ns="):
            args.ns = word[len("--ns=") :]
        elif word.startswith("-"):
            raise UsageError(f"unknown option {word!r} before the command (put the command after --)")
        else:
            return rest
        rest.pop(0)
    return rest


def _say_where(ctx: Context, target: Any, plan: Any) -> None:
    from ..text import safe_text

    who = target.container.display_name if target.container else f"process {plan.pid}"
    inside = ",".join(plan.entering) or "no"
    root = "/" if plan.in_mount_namespace else f"{plan.root_path} ($CTRLENS_ROOT)"
    kinds = "namespace" if len(plan.entering) == 1 else "namespaces"
    head = (
        f"ctrlens: running {plan.executable} in the {inside} {kinds} of {who} (pid {plan.pid}); "
        f"its root filesystem is at {root}"
    )
    lines = [head]
    lines += [f"ctrlens: note: {n}" for n in plan.notes]
    ctx.err.write("".join(safe_text(line) + "\n" for line in lines))
    ctx.err.flush()
