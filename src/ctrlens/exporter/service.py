"""`ctrlens serve` as a long-running service: bind first, answer /healthz at once, collect in the background.

Order matters for liveness probes: the socket is bound and /healthz answers before prometheus-client, the
features or the first scan are even loaded; a slow host then delays only /metrics data, never the process.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import CtrlensError
from ..host import Host
from . import http
from .listen import ListenAddress

StartResponse = Callable[..., Any]

SCRAPE_BUDGET = 8.0  # seconds a scrape waits for a new collection (Prometheus' default timeout is 10 s)
SCRAPE_TIMEOUT_HEADER = "HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS"


@dataclass(slots=True)
class ServeOptions:
    cache_ttl: float = 5.0
    slow_budget: float = 2.0
    max_containers: int = 1000
    skip: set[str] = field(default_factory=set)
    scrape_budget: float = SCRAPE_BUDGET
    max_clients: int = http.MAX_CLIENTS


class LateApp:
    """The WSGI app while the exporter loads: /healthz answers at once, the rest waits (within the scrape
    budget) for the real app."""

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self._app: http.WsgiApp | None = None
        self._ready = threading.Event()

    def ready(self, app: http.WsgiApp) -> None:
        self._app = app
        self._ready.set()

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        if self._ready.wait(scrape_budget(environ, self.budget)) and self._app is not None:
            return self._app(environ, start_response)
        start_response("503 Service Unavailable", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"starting\n"]


def scrape_budget(environ: dict[str, Any], default: float) -> float:
    """The configured budget, shortened to fit Prometheus' own scrape timeout when it sends one."""
    header = environ.get(SCRAPE_TIMEOUT_HEADER)
    try:
        timeout = float(header) if header else None
    except ValueError:
        timeout = None
    if timeout is None or not 0 < timeout < 3600:
        return default
    return max(0.0, min(default, timeout * 0.8 - 0.2))


def serve(
    address: ListenAddress,
    host: Host,
    options: ServeOptions,
    *,
    say: Callable[[str], None],
    stop: threading.Event | None = None,
) -> int:
    """Serve until SIGTERM/SIGINT (or `stop` is set). CtrlensError when the address cannot be bound."""
    stop = _stop_on_signals(stop or threading.Event())  # before binding: a probe may answer, then stop us
    late = LateApp(options.scrape_budget)
    try:
        server = http.start(address, late, max_clients=options.max_clients)
    except OSError as exc:
        raise CtrlensError(f"cannot listen on {address}: {exc.strerror or exc}") from None
    try:
        if not address.loopback:
            say(f"serving on {address}: reachable from other hosts, as --listen asked")
        say(
            f"serving http://{address}/metrics (/healthz answers now; the first collection runs in the background)"
        )
        if not stop.is_set():
            _start_exporter(host, options, late, server, say).refresh()
        while not stop.wait(3600):
            pass
        sys.stderr.flush()
    finally:
        server.shutdown()
        server.server_close()
    return 0


def _start_exporter(
    host: Host, options: ServeOptions, late: LateApp, server: http.BoundedServer, say: Callable[[str], None]
) -> Any:
    from .engine import Engine
    from .plugins import default_sources
    from .server import build_registry, make_app

    missing: list[str] = []
    sources = default_sources(host, skip=options.skip, missing=missing)
    if missing:
        say(f"not exported (feature not available): {', '.join(missing)}")
    engine = Engine(
        host,
        sources,
        cache_ttl=options.cache_ttl,
        slow_budget=options.slow_budget,
        max_containers=options.max_containers,
        warn=say,
    )
    engine.connection_stats = server.stats
    registry = build_registry(engine, budget=options.scrape_budget)
    late.ready(make_app(engine, registry, budget=options.scrape_budget))
    return engine


def _stop_on_signals(stop: threading.Event) -> threading.Event:
    """SIGTERM (Kubernetes) and SIGINT (Ctrl-C) set `stop` (handlers can only be set from the main thread)."""
    if threading.current_thread() is threading.main_thread():

        def handler(signum: int, frame: object) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)
    return stop
