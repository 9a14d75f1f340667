"""The HTTP face: /metrics (prometheus-client's exposition), /healthz, /readyz and a small index page."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.process_collector import ProcessCollector

from .collector import CtrlensCollector, scrape_budget
from .engine import Engine

StartResponse = Callable[..., Any]

INDEX = """<html><head><title>ctrlens exporter</title></head><body>
<h1>ctrlens exporter</h1>
<p><a href="/metrics">/metrics</a> (Prometheus), <a href="/healthz">/healthz</a> (alive),
<a href="/readyz">/readyz</a> (a collection has succeeded).</p>
<p>Metrics and alerts: docs/operators.md in the ctrlens source.</p>
</body></html>
"""


def build_registry(engine: Engine, budget: float | None = None) -> CollectorRegistry:
    """`budget` None: each scrape collects in its own thread; seconds: scrapes read the background collection."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CtrlensCollector(engine, budget))
    ProcessCollector(registry=registry)  # the exporter's own CPU and memory: process_* series
    return registry


def make_app(
    engine: Engine, registry: CollectorRegistry, budget: float | None = None
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    from .service import scrape_budget as budget_of

    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            scrape_budget.seconds = budget_of(environ, budget) if budget is not None else None
            served: Iterable[bytes] = metrics(environ, start_response)
            return served
        if path == "/healthz":
            return _text(start_response, "200 OK", "ok\n")
        if path == "/readyz":
            last = engine.last
            if last is not None and last.ok:
                return _text(start_response, "200 OK", "ready\n")
            return _text(
                start_response, "503 Service Unavailable", "the last collection failed (or none ran)\n"
            )
        if path in ("/", "/index.html"):
            start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
            return [INDEX.encode()]
        return _text(start_response, "404 Not Found", "not found: try /metrics\n")

    return app


def _text(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
    return [body.encode()]
