"""`ctrlens serve`: a Prometheus exporter of every container's posture and usage."""

from __future__ import annotations

import argparse

from ..errors import CtrlensError, UsageError
from ._base import Context

NAME = "serve"
ORDER = 60
HELP = "serve Prometheus metrics: container posture, CPU, memory (an exporter)"
DESCRIPTION = """\
A Prometheus exporter. Each scrape of /metrics reads /proc (shared by scrapes within --cache-ttl) and reports,
per running container of every runtime:
  ctrlens_container_info{id,name,runtime,image,pod,namespace}   1, the container's identity
  ctrlens_container_processes, _cpu_seconds_total, _memory_bytes, _memory_limit_bytes
  posture gauges: _host_namespace{type}, _runs_as_root, _rootfs_writable, _memory_unlimited,
  _pids_unlimited, _privileged, _seccomp_disabled, _added_capabilities, _sensitive_mounts,
  _findings{severity}, _secrets_exposed (a count: values never leave), _drift_files, _drift_executables
and the exporter's own ctrlens_exporter_* (collection duration, errors by stage) and process_* series.
Every per-container series but _info has only the `id` label: join for names with
  ctrlens_container_privileged * on(id) group_left(name, image) ctrlens_container_info

Also: /healthz (alive: answers from the moment the socket is bound), /readyz (the last collection succeeded).
Collections run in the background: a scrape waits --scrape-budget for a new one, then gets the last one with
ctrlens_exporter_scrape_stale 1 (and its age), never a timeout.
It listens on 127.0.0.1 unless --listen names another address: exposing it is your explicit choice (no TLS,
no authentication here: put it behind a proxy or a NetworkPolicy, see docs/operators.md).
"""
EPILOG = """\
examples:
  ctrlens serve                              http://127.0.0.1:9648/metrics
  ctrlens serve --listen '[::1]:9100'
  ctrlens serve --listen 0.0.0.0:9648        every interface (e.g. in a pod, behind a NetworkPolicy)
  ctrlens serve --print | grep privileged    one collection on stdout, no server
  ctrlens --host-root /host serve            from a pod that mounts the host's / at /host
Alerts, resources and the DaemonSet: docs/operators.md.
"""

STAGES_SKIPPABLE = ("cgroup", "posture", "audit", "secrets", "drift")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..exporter.defaults import DEFAULT_LISTEN

    parser.add_argument(
        "--listen",
        metavar="ADDR:PORT",
        default=DEFAULT_LISTEN,
        help=f"where to serve (default {DEFAULT_LISTEN}; 0.0.0.0:PORT or :PORT for every interface)",
    )
    parser.add_argument(
        "--cache-ttl",
        type=_seconds,
        default=5.0,
        metavar="SECONDS",
        help="scrapes within this many seconds share one collection (default 5)",
    )
    parser.add_argument(
        "--slow-budget",
        type=_seconds,
        default=2.0,
        metavar="SECONDS",
        help="time per collection for slow facts (audit, secrets, drift) of containers not yet "
        "measured; the rest follow on later scrapes (default 2)",
    )
    parser.add_argument(
        "--scrape-budget",
        type=_seconds,
        default=8.0,
        metavar="SECONDS",
        help="how long a scrape waits for a new collection before it gets the last one, marked "
        "ctrlens_exporter_scrape_stale (default 8; shortened to Prometheus' scrape timeout)",
    )
    parser.add_argument(
        "--max-clients",
        type=_count,
        default=16,
        metavar="N",
        help="requests handled at once (default 16); idle connections are closed after 10 s",
    )
    parser.add_argument(
        "--max-containers",
        type=_count,
        default=1000,
        metavar="N",
        help="per-container series for at most N containers, a bound on cardinality (default 1000)",
    )
    parser.add_argument(
        "--skip",
        action="append",
        choices=STAGES_SKIPPABLE,
        default=[],
        metavar="SOURCE",
        help=f"leave out one source of facts: {', '.join(STAGES_SKIPPABLE)} (repeatable)",
    )
    parser.add_argument(
        "--print",
        action="store_true",
        dest="print_once",
        help="print one collection in the Prometheus text format and exit (no server)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 to 3600 seconds")
    return value


def _count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return int(text)


def run(args: argparse.Namespace, ctx: Context) -> int:
    import importlib.util

    from ..exporter.listen import parse_listen

    address = parse_listen(args.listen)  # a bad address is a usage error before any import or scan
    if importlib.util.find_spec("prometheus_client") is None:
        raise UsageError("ctrlens serve needs prometheus-client: pip install 'ctrlens[exporter]'")
    host = ctx.host
    if args.print_once:
        return _print_once(args, ctx)
    from ..exporter.service import ServeOptions, serve

    options = ServeOptions(
        cache_ttl=args.cache_ttl,
        slow_budget=args.slow_budget,
        max_containers=args.max_containers,
        skip=set(args.skip),
        scrape_budget=args.scrape_budget,
        max_clients=args.max_clients,
    )
    return serve(address, host, options, say=lambda line: print(f"ctrlens: {line}", file=ctx.err, flush=True))


def _print_once(args: argparse.Namespace, ctx: Context) -> int:
    from prometheus_client import generate_latest

    from ..exporter.engine import Engine
    from ..exporter.plugins import default_sources
    from ..exporter.server import build_registry

    missing: list[str] = []
    sources = default_sources(ctx.host, skip=set(args.skip), missing=missing)
    if missing:
        ctx.error(f"not exported (feature not available): {', '.join(missing)}")
    engine = Engine(ctx.host, sources, slow_budget=args.slow_budget, max_containers=args.max_containers,
                    warn=ctx.error)  # fmt: skip
    registry = build_registry(engine)
    if not engine.collect().ok:
        raise CtrlensError(f"cannot scan {ctx.host.proc}: see ctrlens containers for the error")
    ctx.out.write(generate_latest(registry).decode())
    return 0
