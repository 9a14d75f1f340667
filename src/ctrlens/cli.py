"""The `ctrlens` command: finds the command modules in `ctrlens.commands`, parses, runs, maps errors to exit codes.

A command is one module in `ctrlens/commands/` (the `Command` protocol in `commands/_base.py`) defining:
    NAME: str, HELP: str, ORDER: int (position in --help), DESCRIPTION: str (optional, shown by `ctrlens NAME --help`)
    add_arguments(parser) -> None
    run(args, ctx: Context) -> Result | int
A `Result` is rendered here, once, by the formatter of `args.output` (`ctrlens.output`); an int is an exit code
of a command that wrote its own output. Adding a command is adding a file. Command modules import heavy
libraries inside `run`, never at top level.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import signal
import sys
from typing import Any, cast

from . import __version__
from .commands._base import Command, Context
from .errors import EXIT_USAGE, CtrlensError
from .text import safe_text

EPILOG = """\
REF is an exact container ID or name (pod/container too), a unique hex-ID prefix, or pid:N for a host
process (a bare number is a PID unless it also names a container: then write pid:N). Ambiguous: exit 2.
Output: every command takes -o table|json|ndjson (JSON keys: docs/json.md).
Exit codes: 0 ok, 1 findings (--fail-on), 2 usage, 3 not found, 4 refused/failed, 5 permission.
Run as root to see every container; as a normal user ctrlens shows what it can and says what it cannot.
"""


def _command_modules() -> list[Command]:
    from . import commands

    modules: list[Command] = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(cast(Command, module))
    modules.sort(key=lambda m: (getattr(m, "ORDER", 100), m.NAME))
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(
        prog="ctrlens",
        description="See and handle the containers on this Linux host from /proc alone: "
        "any runtime, no container socket, no agent in the container.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ctrlens {__version__}")
    add_host_root_option(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    by_name: dict[str, Command] = {}
    for module in _command_modules():
        cmd = sub.add_parser(
            module.NAME,
            help=module.HELP,
            description=getattr(module, "DESCRIPTION", module.HELP),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            epilog=getattr(module, "EPILOG", None),
        )
        add_host_root_option(cmd, suppress_default=True)
        module.add_arguments(cmd)
        by_name[module.NAME] = module
    return parser, by_name


def add_host_root_option(parser: argparse.ArgumentParser, *, suppress_default: bool = False) -> None:
    parser.add_argument(
        "--host-root",
        metavar="DIR",
        default=argparse.SUPPRESS if suppress_default else None,
        help="read the host through DIR (e.g. /host in a pod); also $CTRLENS_HOST_ROOT",
    )


def never_fail_to_write(*streams: Any) -> None:
    """Under a strict or non-UTF-8 locale (LANG=C, PYTHONIOENCODING=ascii:strict) a character the encoding
    lacks is written as an escape, never an exception: the text policy already escaped container bytes."""
    for stream in streams:
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "") != "backslashreplace":
            with contextlib.suppress(ValueError, OSError):  # a detached or closed stream
                reconfigure(errors="backslashreplace")


def finish(module: Command, args: argparse.Namespace, ctx: Context) -> int:
    """Run a command and render what it returns, through the one formatter of the chosen format."""
    from .output import Result, render

    outcome = module.run(args, ctx)
    if isinstance(outcome, Result):
        return render(outcome, getattr(args, "output", "table"), ctx.out)
    return int(outcome or 0)


# Commands that keep running: a closed pipe or a client's hang-up must never kill them (they handle EPIPE).
LONG_RUNNING = frozenset({"serve", "watch", "top"})


def main(argv: list[str] | None = None) -> int:
    never_fail_to_write(sys.stdout, sys.stderr)
    parser, commands = build_parser()
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args([*argv, "containers"])  # global options come before the command
    if args.command not in LONG_RUNNING:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # one-shot commands die quietly when piped into `head`
    module = commands[args.command]
    ctx = Context(args)
    try:
        return finish(module, args, ctx)
    except CtrlensError as exc:
        ctx.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        filename = exc.filename if not isinstance(exc.filename, bytes) else os.fsdecode(exc.filename)
        ctx.error(f"{exc.strerror or exc}" + (f": {safe_text(str(filename))}" if filename else ""))
        return 4
    except Exception as exc:
        if os.environ.get("CTRLENS_DEBUG"):
            raise
        ctx.error(
            f"internal error: {type(exc).__name__} (run with CTRLENS_DEBUG=1 for details, and report it)"
        )
        return 70


def usage_error(message: str) -> int:
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
