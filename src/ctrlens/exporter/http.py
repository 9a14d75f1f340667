"""The exporter's HTTP server: it must outlive its clients.

- A client that hangs up early (curl -m, Prometheus' scrape timeout) costs only its own connection: EPIPE and
  ECONNRESET end that request, never the process (SIGPIPE is ignored while serving).
- A connection waits for its request in one selector thread, holding no worker: idle connections cost a file
  descriptor each, are closed after `idle_timeout`, and past `max_waiting` the oldest is closed first.
- At most `max_clients` requests are handled at once (a pool of threads); more are queued up to `max_queue`,
  beyond that a client gets 503 at once. A request that stalls mid-way is cut after `request_timeout`.
No prometheus-client here: the socket is bound before anything heavy is imported.
"""

from __future__ import annotations

import collections
import contextlib
import resource
import selectors
import signal
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .listen import ListenAddress

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

IDLE_TIMEOUT = 10.0  # seconds a connection may stay open without sending its request
REQUEST_TIMEOUT = 10.0  # seconds a started request may stall on one read or write
MAX_CLIENTS = 16
MAX_QUEUE = 256
MAX_WAITING = 1024  # open connections that have not sent a request yet (also bounded by the fd limit)
BUSY = b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nbusy\n"


@dataclass(slots=True)
class ConnectionStats:
    accepted: int = 0
    served: int = 0
    dropped: int = 0  # hung up, timed out, idle too long, or turned away


class _QuietHandler(WSGIRequestHandler):
    timeout = REQUEST_TIMEOUT  # socket timeout for every read and write of a request

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every 15 s would flood the log; drops are counted


class BoundedServer(WSGIServer):
    """A WSGI server whose accept loop never blocks on a client (see the module docstring)."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: ListenAddress,
        app: WsgiApp,
        *,
        max_clients: int = MAX_CLIENTS,
        max_queue: int = MAX_QUEUE,
        idle_timeout: float = IDLE_TIMEOUT,
    ) -> None:
        self.address_family = address.family
        self.stats = ConnectionStats()
        self.idle_timeout = idle_timeout
        self.max_queue = max_queue
        self.max_waiting = min(MAX_WAITING, max(16, _fd_limit() - 64 - max_clients - max_queue))
        self._pool = ThreadPoolExecutor(max_clients, thread_name_prefix="ctrlens-http")
        self._inflight = 0
        self._inflight_lock = threading.Lock()
        self._waiting: collections.OrderedDict[socket.socket, tuple[float, Any]] = collections.OrderedDict()
        self._arrivals: collections.deque[tuple[socket.socket, Any]] = collections.deque()
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = False
        self._doorman = threading.Thread(target=self._watch_waiting, name="ctrlens-http-idle", daemon=True)
        every = "::" if address.family == socket.AF_INET6 else "0.0.0.0"  # noqa: S104 - only when --listen asks
        super().__init__((address.host or every, address.port), _QuietHandler)  # binds: OSError if it cannot
        self.set_app(app)
        self._doorman.start()

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # not HTTPServer's: its getfqdn() may wait on DNS
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)
        self.setup_environ()

    # socketserver calls this from the accept loop: hand the connection over, never block here.
    def process_request(self, request: Any, client_address: Any) -> None:
        self.stats.accepted += 1
        self._arrivals.append((request, client_address))
        self._wake()

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.stats.dropped += 1  # no traceback on stderr for a client's misbehaviour

    def server_close(self) -> None:
        self._stopping = True
        self._wake()
        if self._doorman.is_alive():
            self._doorman.join(5)
        self._pool.shutdown(wait=False, cancel_futures=True)
        for conn in list(self._waiting):
            self._drop(conn)
        self._wake_r.close()
        self._wake_w.close()
        super().server_close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):  # a full buffer: the doorman is awake already
            self._wake_w.send(b"\0")

    def _watch_waiting(self) -> None:
        while not self._stopping:
            for key, _ in self._selector.select(timeout=1.0):
                if key.fileobj is self._wake_r:
                    self._drain_wake()
                    continue
                conn = key.fileobj
                if not isinstance(conn, socket.socket):
                    continue
                entry = self._waiting.pop(conn, None)
                self._selector.unregister(conn)
                if entry is not None:
                    self._dispatch(conn, entry[1])
            self._admit_arrivals()
            self._close_idle()

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except OSError:
            pass

    def _admit_arrivals(self) -> None:
        while self._arrivals:
            conn, client = self._arrivals.popleft()
            while len(self._waiting) >= self.max_waiting:
                oldest = next(iter(self._waiting))
                self._waiting.pop(oldest)
                self._selector.unregister(oldest)
                self._drop(oldest)
            try:
                self._selector.register(conn, selectors.EVENT_READ)
            except (OSError, ValueError):
                self._drop(conn)
                continue
            self._waiting[conn] = (time.monotonic(), client)

    def _close_idle(self) -> None:
        cutoff = time.monotonic() - self.idle_timeout
        while self._waiting:
            conn, (since, _) = next(iter(self._waiting.items()))
            if since > cutoff:
                break
            self._waiting.pop(conn)
            self._selector.unregister(conn)
            self._drop(conn)

    def _dispatch(self, conn: socket.socket, client: Any) -> None:
        with self._inflight_lock:
            full = self._inflight >= self.max_queue
            if not full:
                self._inflight += 1
        if full:
            with contextlib.suppress(OSError):
                conn.setblocking(False)
                conn.recv(65536)  # read the request first: closing on unread data sends RST, not our answer
                conn.send(BUSY)
                conn.shutdown(socket.SHUT_WR)
            self._drop(conn)
            return
        try:
            self._pool.submit(self._handle, conn, client)
        except RuntimeError:  # shutting down
            with self._inflight_lock:
                self._inflight -= 1
            self._drop(conn)

    def _handle(self, conn: socket.socket, client: Any) -> None:
        try:
            conn.setblocking(True)
            self.finish_request(conn, client)
            self.stats.served += 1
        except Exception:  # noqa: BLE001 - EPIPE, ECONNRESET, timeouts, a bad request: this client's problem only
            self.stats.dropped += 1
        finally:
            with self._inflight_lock:
                self._inflight -= 1
            self.shutdown_request(conn)

    def _drop(self, conn: socket.socket) -> None:
        self.stats.dropped += 1
        with contextlib.suppress(OSError):
            conn.close()


def start(address: ListenAddress, app: WsgiApp, *, max_clients: int = MAX_CLIENTS) -> BoundedServer:
    """Bind, listen and serve in a background thread; the caller calls `shutdown()` then `server_close()`.
    OSError when the address cannot be bound."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a write to a closed connection is EPIPE, not death
    raise_fd_limit()
    server = BoundedServer(address, app, max_clients=max_clients)
    threading.Thread(target=server.serve_forever, name="ctrlens-http-accept", daemon=True).start()
    return server


def raise_fd_limit() -> None:
    """Idle connections hold one fd each: use the hard limit, not the 1024 most shells start with."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 65536
    if soft != resource.RLIM_INFINITY and soft < hard:
        with contextlib.suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _fd_limit() -> int:
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 65536 if soft == resource.RLIM_INFINITY else int(soft)
