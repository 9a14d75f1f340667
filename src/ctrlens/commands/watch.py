"""`ctrlens watch`: an NDJSON stream of container events on stdout, for Vector, Fluent Bit or any log shipper."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

from ..output import ndjson_line
from ._base import Context

NAME = "watch"
ORDER = 61
HELP = "stream container events as NDJSON: started, stopped, new processes, findings, executables"
DESCRIPTION = """\
Polls /proc every --interval seconds and writes one JSON object a line to stdout, flushed at once:

  container.started   a container appeared (its init process, start time, process count)
  container.stopped   a container left (a restart between two polls is a stop and a start)
  process.started     a new process in a container seen by an earlier poll (argv with secrets masked)
  finding.new         an audit finding the container did not have before (checked every --slow-interval)
  drift.executable    a new executable file in the container's writable layer (every --slow-interval)
  container.running   with --initial: each container present when watch starts

Every event has "ts" (RFC 3339 UTC), "type", "host" and "container" {id, name, runtime, image, pod,
namespace}. Events of one poll come in order: stops, starts, processes, findings, executables.
A process that starts and exits between two polls is not seen: lower --interval to see shorter ones.
"""
EPILOG = """\
examples:
  ctrlens watch
  ctrlens watch --interval 1 --type container.started --type container.stopped
  ctrlens watch --initial | jq -c 'select(.container.runtime == "podman")'
  ctrlens watch --duration 60 > events.ndjson
  ctrlens --host-root /host watch --node-name "$NODE_NAME"     (in a DaemonSet; see docs/operators.md)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..watch.events import TYPES

    parser.add_argument(
        "--interval",
        type=_seconds(0.1),
        default=2.0,
        metavar="SECONDS",
        help="seconds between two polls of /proc (default 2)",
    )
    parser.add_argument(
        "--slow-interval",
        type=_seconds(1.0),
        default=60.0,
        metavar="SECONDS",
        help="seconds between two checks of a container for findings and executables (default 60)",
    )
    parser.add_argument(
        "--type",
        action="append",
        choices=TYPES,
        metavar="TYPE",
        dest="types",
        help="only events of this type (repeatable): " + ", ".join(TYPES),
    )
    parser.add_argument(
        "--initial",
        action="store_true",
        help="start with a container.running event for each container already running",
    )
    parser.add_argument("--count", type=_positive, metavar="N", help="exit after N events")
    parser.add_argument("--duration", type=_seconds(0.0), metavar="SECONDS", help="exit after SECONDS")
    parser.add_argument(
        "--node-name",
        metavar="NAME",
        default=None,
        help="the `host` of each event (default $NODE_NAME, else the host's /etc/hostname)",
    )


def _seconds(minimum: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
        if not minimum <= value <= 86400:
            raise argparse.ArgumentTypeError(f"{text!r}: give {minimum:g} to 86400 seconds")
        return value

    return parse


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from ..secrets.redact import Redactor
    from ..watch.detectors import available_detectors
    from ..watch.loop import Watcher
    from ..watch.loop import run as run_loop

    host = ctx.host
    wanted = set(args.types) if args.types else None
    node = args.node_name or os.environ.get("NODE_NAME") or _host_name(host.path("/etc/hostname"))
    missing: list[str] = []
    detectors = available_detectors(host, wanted, missing)
    if missing:
        ctx.error(f"not watched (feature not available): {', '.join(missing)}")
    watcher = Watcher(
        host,
        mask=Redactor.for_host(ctx.host).cached_argv,
        detectors=detectors,
        slow_interval=args.slow_interval,
        warn=ctx.error,
    )
    out = ctx.out

    def write(event: Any) -> None:
        out.write(ndjson_line(event.to_dict(node), out))
        out.flush()  # a shipper reading the pipe sees each event when it happens

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, frame: stop.set())
    run_loop(
        watcher,
        write,
        interval=args.interval,
        initial=args.initial,
        stop=stop,
        max_events=args.count,
        duration=args.duration,
        accept=(lambda e: e.type in wanted) if wanted else None,
    )
    return 0


def _host_name(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip() or None
    except OSError:
        return None
