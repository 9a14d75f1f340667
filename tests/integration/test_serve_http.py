"""`ctrlens serve` as an HTTP server: its endpoints, loopback by default, one-line errors, shared collections,
a clean exit on SIGTERM. Every server here listens on 127.0.0.1 or ::1 only."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.integration

EXE = shutil.which("ctrlens") or "ctrlens"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def serve(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([EXE, "serve", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen[str], base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"ctrlens serve exited {proc.returncode}: {proc.stderr.read()}")
        try:
            if get(f"{base}/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail("ctrlens serve did not answer within 30 s")


@pytest.fixture
def server():
    port = free_port()
    proc = serve("--listen", f"127.0.0.1:{port}", "--cache-ttl", "30")
    base = f"http://127.0.0.1:{port}"
    wait_ready(proc, base)
    yield proc, base
    proc.terminate()
    proc.wait(10)


def test_endpoints(server):
    _, base = server
    status, ctype, body = get(f"{base}/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(body)}  # parses: valid exposition format
    assert families["ctrlens_exporter_build_info"].type == "gauge"
    assert families["ctrlens_container_cpu_seconds"].type == "counter"
    assert "process_resident_memory_bytes" in families
    assert get(f"{base}/healthz")[:3:2] == (200, "ok\n")
    assert get(f"{base}/readyz")[:3:2] == (200, "ready\n")
    assert get(f"{base}/")[0] == 200
    assert get(f"{base}/nope")[0] == 404


def test_scrapes_within_the_cache_lifetime_share_one_collection(server):
    _, base = server

    def collections() -> float:
        body = get(f"{base}/metrics")[2]
        return next(
            s.value
            for f in text_string_to_metric_families(body)
            for s in f.samples
            if s.name == "ctrlens_exporter_collections_total"
        )

    before = collections()
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: get(f"{base}/metrics"), range(16)))
    assert collections() == before  # --cache-ttl 30: seventeen scrapes, one collection


def test_sigterm_exits_cleanly(server):
    proc, _ = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0


def test_default_listen_is_loopback_only():
    proc = serve()
    try:
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
            if "serving" in line or "cannot listen" in line:
                break
        if proc.poll() is not None:
            line += proc.stderr.read()
        # Either it serves on 127.0.0.1:9648, or that port is taken: both name the default address.
        assert "127.0.0.1:9648" in line, line
        if "serving" in line:
            listening = [ln.split() for ln in Path("/proc/net/tcp").read_text().splitlines()[1:]]
            ours = [f for f in listening if f[1].endswith(f":{9648:04X}") and f[3] == "0A"]
            assert ours and all(f[1].startswith("0100007F:") for f in ours)  # 127.0.0.1, nothing wider
    finally:
        proc.terminate()
        proc.wait(10)


def test_ipv6_loopback():
    if not socket.has_ipv6:
        pytest.skip("no IPv6 in this kernel")
    port = free_port()
    proc = serve("--listen", f"[::1]:{port}")
    try:
        wait_ready(proc, f"http://[::1]:{port}")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    "listen, message",
    [
        ("localhost", "expected ADDR:PORT"),
        ("127.0.0.1:http", "the port must be a number"),
        ("127.0.0.1:70000", "the port must be a number"),
        ("example.com:9648", "is not an IP address"),
    ],
)
def test_bad_listen_is_one_line_usage_error(listen, message):
    res = subprocess.run(
        [EXE, "serve", "--listen", listen], capture_output=True, text=True, check=False, timeout=30
    )
    assert res.returncode == 2
    assert message in res.stderr
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr


def test_port_in_use_is_one_line_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        res = subprocess.run(
            [EXE, "serve", "--listen", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    assert res.returncode == 4
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr
    assert "Traceback" not in res.stderr and res.stderr.count("\n") == 1


def test_bad_host_root_is_one_line_error(tmp_path):
    res = subprocess.run(
        [EXE, "--host-root", str(tmp_path), "serve", "--print"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert res.returncode == 2
    assert "no proc/ under it" in res.stderr and "Traceback" not in res.stderr


def test_print_needs_no_server_and_skip_drops_a_source():
    res = subprocess.run(
        [EXE, "serve", "--print", "--skip", "secrets", "--skip", "drift"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    names = {f.name for f in text_string_to_metric_families(res.stdout)}
    assert "ctrlens_container_info" in names
    samples = [s for f in text_string_to_metric_families(res.stdout) for s in f.samples]
    assert not any(s.name == "ctrlens_container_secrets_exposed" for s in samples)
