"""The `ctrlens` command: finds the command modules in `ctrlens.commands`, parses, runs, maps errors to exit codes.

A command is one module in `ctrlens/commands/` defining:
    NAME: str, HELP: str, ORDER: int (position in --help), DESCRIPTION: str (optional, shown by `ctrlens NAME --help`)
    add_arguments(parser) -> None
    run(args, ctx: Context) -> int
Adding a command is adding a file. Command modules import heavy libraries inside `run`, never at top level.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import signal
import sys
from typing import Any

from . import __version__
from .errors import EXIT_USAGE, CtrlensError

EPILOG = """\
REF is an exact container ID or name (pod/container too), a unique hex-ID prefix, or pid:N for a host
process (a bare number is a PID unless it also names a container: then write pid:N). Ambiguous: exit 2.
Output: every command takes -o table|json|ndjson (JSON keys: docs/json.md).
Exit codes: 0 ok, 1 findings (--fail-on), 2 usage, 3 not found, 4 refused/failed, 5 permission.
Run as root to see every container; as a normal user ctrlens shows what it can and says what it cannot.
"""


class Context:
    """What every command gets: the host, a cached scan, REF resolution and the output stream."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self._host: Any = None
        self._snapshot: Any = None
        self.out = sys.stdout
        self.err = sys.stderr
        self._warned = False

    @property
    def host(self):  # -> Host
        if self._host is None:
            from .host import Host

            self._host = Host.from_option(getattr(self.args, "host_root", None))
        return self._host

    def scan(self, *, refresh: bool = False):  # -> Snapshot
        if self._snapshot is None or refresh:
            from .scanner import scan

            self._snapshot = scan(self.host)
            self.warn_once(self._snapshot.warnings)
        return self._snapshot

    def resolve(self, ref: str):  # -> Target
        from .refs import resolve_ref

        return resolve_ref(self.scan(), ref)

    def warn_once(self, warnings: list[str]) -> None:
        if warnings and not self._warned:
            self._warned = True
            for line in warnings:
                print(f"ctrlens: {line}", file=self.err)

    def error(self, message: str) -> None:
        print(f"ctrlens: {message}", file=self.err)


def _command_modules() -> list[Any]:
    from . import commands

    modules = []
    for info in pkgutil.iter_modules(commands.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            modules.append(module)
    modules.sort(key=lambda m: (getattr(m, "ORDER", 100), m.NAME))
    return modules


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
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
    by_name: dict[str, Any] = {}
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


# Commands that keep running: a closed pipe or a client's hang-up must never kill them (they handle EPIPE).
LONG_RUNNING = frozenset({"serve", "watch", "top"})


def main(argv: list[str] | None = None) -> int:
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
        return int(module.run(args, ctx) or 0)
    except CtrlensError as exc:
        ctx.error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:
        ctx.error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
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
