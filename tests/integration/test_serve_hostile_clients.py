"""`ctrlens serve` on the real testbed under hostile clients (issue 13): 200 clients that hang up early (curl -m
0.05 and raw sockets that reset), 500 idle connections held open, while Prometheus-style scrapes go on. It must
stay up, answer /healthz and keep serving parseable scrapes that name a real container. Loopback only."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed import unique_name

pytestmark = pytest.mark.integration

EXE = shutil.which("ctrlens") or "ctrlens"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=30) as resp:
        return resp.status, resp.read().decode()


def names_in(body: str) -> set[str]:
    return {
        s.labels.get("name", "")
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if s.name == "ctrlens_container_info"
    }


def hang_up(port: int, reset: bool) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        if reset:  # close with RST: the server's write sees ECONNRESET
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


@pytest.fixture(scope="module")
def container(testbed):
    started = testbed.run_docker(unique_name("serve-hostile"))
    try:
        yield started
    finally:
        testbed.remove(started)


def test_serve_survives_early_hangups_and_idle_connections(container):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [EXE, "serve", "--listen", f"127.0.0.1:{port}", "--cache-ttl", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    idle: list[socket.socket] = []
    try:
        for _ in range(3000):
            try:
                if get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.01)
        assert proc.poll() is None
        for _ in range(500):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        curl = shutil.which("curl")
        with ThreadPoolExecutor(16) as pool:
            hangups = [pool.submit(hang_up, port, i % 2 == 0) for i in range(100)]
            if curl:
                cmd = [curl, "-s", "-o", "/dev/null", "-m", "0.05", f"{base}/metrics"]
                curls = [pool.submit(subprocess.run, cmd, check=False, timeout=30) for _ in range(100)]
            else:
                curls = [pool.submit(hang_up, port, False) for _ in range(100)]
            scrapes = [pool.submit(get, f"{base}/metrics") for _ in range(10)]
            for f in hangups + curls:
                f.result()
            results = [f.result() for f in scrapes]
        assert proc.poll() is None, (
            f"serve exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
        )
        assert all(status == 200 for status, _ in results)
        assert all(container.name in names_in(body) for _, body in results)
        status, body = get(f"{base}/metrics")  # after the storm, with 500 idle connections still open
        assert status == 200 and container.name in names_in(body)
        assert get(f"{base}/healthz") == (200, "ok\n")
        dropped = [
            s.value
            for f in text_string_to_metric_families(body)
            for s in f.samples
            if s.name == "ctrlens_exporter_connections_dropped_total"
        ]
        assert dropped and dropped[0] >= 0
    finally:
        for s in idle:
            s.close()
        proc.terminate()
        code = proc.wait(20)
        stderr = proc.stderr.read() if proc.stderr else ""
    assert code == 0, stderr  # SIGTERM: a clean exit, never 141 (SIGPIPE)
    assert "Traceback" not in stderr


def test_serve_is_not_killed_by_sigpipe_when_stderr_and_clients_vanish(container):
    """The CLI keeps SIG_DFL SIGPIPE for one-shot commands only: serve ignores it."""
    port = free_port()
    proc = subprocess.Popen(
        [EXE, "serve", "--listen", f"127.0.0.1:{port}", "--cache-ttl", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for _ in range(3000):
            try:
                get(f"http://127.0.0.1:{port}/healthz")
                break
            except OSError:
                time.sleep(0.01)
        sigpipe = proc.pid and open(f"/proc/{proc.pid}/status").read()  # noqa: SIM115
        ignored = int(next(ln for ln in sigpipe.splitlines() if ln.startswith("SigIgn:")).split()[1], 16)
        assert ignored & (1 << (13 - 1)), "SIGPIPE is not ignored by serve"
        for i in range(50):
            hang_up(port, i % 2 == 0)
        assert get(f"http://127.0.0.1:{port}/healthz")[0] == 200
        assert proc.poll() is None
    finally:
        proc.terminate()
        assert proc.wait(20) == 0


def test_one_shot_commands_still_die_quietly_in_a_closed_pipe(container):
    res = subprocess.run(
        f"{EXE} ps | head -1 >/dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.stdout.strip() in ("0", "141") and "Traceback" not in res.stderr  # quiet, as before
