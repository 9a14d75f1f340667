"""The exporter as a server, in-process on 127.0.0.1 with a collection made slow on purpose: /healthz answers
before the first collection ends, scrapes get stale-but-labelled data within their budget, clients that hang up
or idle cost only their own connection, and a full server turns new requests away instead of queueing forever."""

from __future__ import annotations

import signal
import socket
import struct
import threading
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ctrlens import scanner
from ctrlens.exporter import engine as engine_module
from ctrlens.exporter import http
from ctrlens.exporter.listen import ListenAddress, parse_listen
from ctrlens.exporter.service import ServeOptions, scrape_budget, serve
from tests.unit.test_exporter_engine import host  # noqa: F401  (the fixture host root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def sample(body: str, name: str) -> float | None:
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            if s.name == name:
                return float(s.value)
    return None


class SlowScan:
    """The real scan, held back until the test releases it: a host whose first scan takes as long as we like."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.finished = threading.Event()
        self.started = threading.Event()

    def __call__(self, target):
        self.started.set()
        self.release.wait(60)
        try:
            return scanner.scan(target)
        finally:
            self.finished.set()


@pytest.fixture(autouse=True)
def ignore_sigpipe():
    """As `ctrlens serve` runs: SIGPIPE ignored (an in-process `cli.main` of another test may have set it to
    SIG_DFL, and the server here runs in a thread, where it cannot change signal handlers itself)."""
    old = signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    yield
    signal.signal(signal.SIGPIPE, old)


@pytest.fixture
def slow_server(host, monkeypatch):  # noqa: F811
    slow = SlowScan()
    monkeypatch.setattr(engine_module, "scan_host", slow)
    port = free_port()
    stop = threading.Event()
    said: list[str] = []
    options = ServeOptions(cache_ttl=30, scrape_budget=0.3, max_clients=4)
    thread = threading.Thread(
        target=serve,
        args=(parse_listen(f"127.0.0.1:{port}"), host, options),
        kwargs={"say": said.append, "stop": stop},
        daemon=True,
    )
    thread.start()
    base = f"http://127.0.0.1:{port}"
    yield slow, base, said
    slow.release.set()
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def wait_healthz(base: str) -> int:
    for _ in range(3000):
        try:
            return get(f"{base}/healthz")[0]
        except OSError:  # not bound yet
            threading.Event().wait(0.01)
    raise AssertionError("/healthz never answered")


def test_healthz_answers_before_the_first_collection_finishes(slow_server):
    slow, base, said = slow_server
    assert wait_healthz(base) == 200
    assert not slow.finished.is_set()  # ordering, not timing: alive while the first scan is still held back
    assert "serving http://127.0.0.1:" in said[0]
    assert get(f"{base}/readyz")[0] == 503


def test_a_scrape_during_a_slow_collection_gets_stale_labelled_data_not_a_timeout(slow_server):
    slow, base, _ = slow_server
    wait_healthz(base)
    status, body = get(f"{base}/metrics")
    assert status == 200 and not slow.finished.is_set()
    assert sample(body, "ctrlens_exporter_scrape_stale") == 1.0
    assert sample(body, "ctrlens_container_info") is None  # nothing collected yet, and it says so
    slow.release.set()
    slow.finished.wait(30)
    for _ in range(100):
        status, body = get(f"{base}/metrics")
        if sample(body, "ctrlens_exporter_scrape_stale") == 0.0:
            break
    assert status == 200 and sample(body, "ctrlens_exporter_scrape_stale") == 0.0
    assert sample(body, "ctrlens_container_info") == 1.0
    assert get(f"{base}/readyz")[0] == 200


def test_clients_that_hang_up_or_idle_do_not_stop_scrapes(slow_server):
    slow, base, _ = slow_server
    port = int(base.rsplit(":", 1)[1])
    wait_healthz(base)
    idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(100)]
    for i in range(50):  # ask for /metrics (which waits on the slow collection), then hang up, half with RST
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    slow.release.set()
    slow.finished.wait(30)
    status, body = get(f"{base}/metrics")
    assert status == 200 and sample(body, "ctrlens_container_info") == 1.0
    assert get(f"{base}/healthz")[0] == 200
    for s in idle:
        s.close()
    dropped = sample(get(f"{base}/metrics")[1], "ctrlens_exporter_connections_dropped_total")
    assert dropped is not None


def test_scrape_budget_follows_prometheus_timeout_header():
    assert scrape_budget({}, 8.0) == 8.0
    assert scrape_budget({"HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS": "5"}, 8.0) == pytest.approx(3.8)
    assert scrape_budget({"HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS": "60"}, 8.0) == 8.0
    assert scrape_budget({"HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS": "nan"}, 8.0) == 8.0
    assert scrape_budget({"HTTP_X_PROMETHEUS_SCRAPE_TIMEOUT_SECONDS": "x"}, 8.0) == 8.0


def test_idle_connections_are_closed_and_a_full_server_says_busy():
    hold = threading.Event()

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/hold":
            hold.wait(30)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]

    server = http.BoundedServer(
        ListenAddress("127.0.0.1", 0), app, max_clients=1, max_queue=2, idle_timeout=0.2
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        quiet = socket.create_connection(("127.0.0.1", port))
        quiet.settimeout(10)
        assert quiet.recv(1) == b""  # closed by the server: it never sent a request
        held = []
        for _ in range(2):  # one handled (blocked in the app), one queued: the limit of 2 in flight
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /hold HTTP/1.0\r\n\r\n")
            held.append(s)
        while server._inflight < 2:
            threading.Event().wait(0.01)
        status, body = get(f"http://127.0.0.1:{port}/")
        assert (status, body) == (503, "busy\n")
        hold.set()
        for s in held:
            s.settimeout(10)
            assert s.recv(100).startswith(b"HTTP/1.0 200")
            s.close()
        assert get(f"http://127.0.0.1:{port}/")[0] == 200
        assert server.stats.dropped >= 2
    finally:
        hold.set()
        server.shutdown()
        server.server_close()
