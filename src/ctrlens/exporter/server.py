"""The HTTP face: /metrics (prometheus-client's exposition), /healthz, /readyz and a small index page."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.process_collector import ProcessCollector

from .collector import CtrlensCollector
from .engine import Engine
from .listen import ListenAddress

StartResponse = Callable[..., Any]

INDEX = """<html><head><title>ctrlens exporter</title></head><body>
<h1>ctrlens exporter</h1>
<p><a href="/metrics">/metrics</a> (Prometheus), <a href="/healthz">/healthz</a> (alive),
<a href="/readyz">/readyz</a> (a collection has succeeded).</p>
<p>Metrics and alerts: docs/operators.md in the ctrlens source.</p>
</body></html>
"""


def build_registry(engine: Engine) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CtrlensCollector(engine))
    ProcessCollector(registry=registry)  # the exporter's own CPU and memory: process_* series
    return registry


def make_app(
    engine: Engine, registry: CollectorRegistry
) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
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


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow client never holds up shutdown
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every 15 s would flood the log; errors are counted in ctrlens_exporter_errors_total


def serve(address: ListenAddress, app: Callable[..., Iterable[bytes]]) -> _Server:
    """A started server (in a background thread); the caller waits on it and calls `shutdown()`."""
    server_class = type("Server", (_Server,), {"address_family": address.family})
    # "" is every interface, chosen explicitly by the operator (--listen :9100); the default is loopback.
    host = address.host or ("::" if address.family == socket.AF_INET6 else "0.0.0.0")  # noqa: S104
    server: _Server = make_server(
        host, address.port, app, server_class=server_class, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="ctrlens-http", daemon=True)
    thread.start()
    return server
