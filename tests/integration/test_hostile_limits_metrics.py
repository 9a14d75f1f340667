"""Two hostile containers of issue 12 on real Docker and Podman.

- A container that forks to its pids limit (`--pids-limit 64`): `containers`, `ps`, `audit` and `secrets` still list
  it with its identity and its ~64 processes, in strict UTF-8 JSON, exiting 0 or 1 (never 70), within a timeout.
- Hostile text (invalid UTF-8, ESC sequences, bidi) in argv, environ and labels: `/metrics` (`serve --print` and a
  real scrape over HTTP) stays strict UTF-8, parses as the Prometheus text format, carries the containers' series,
  and holds no ESC byte and no bidi override.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed import Started, unique_name

pytestmark = pytest.mark.integration

EXE = shutil.which("ctrlens") or "ctrlens"
PIDS_LIMIT = 64
# The inner shell forks `sleep` until fork fails (a bounded 200 tries, so it never spins), then the init execs a
# sleep of its own: no fork needed, so the container stays up at its limit.
FORK_TO_LIMIT = (
    "sh -c 'i=0; while [ $i -lt 200 ]; do sleep 100000 & i=$((i+1)); done' 2>/dev/null; exec sleep 1000000"
)
# Hostile text built inside the container (argv travels as JSON through the engines, which cannot hold \xff).
HOSTILE_SCRIPT = r"""A=$(printf 'x\377\033[2J\033]0;pwn\007\342\200\256y\342\201\246z')
exec env "K$A=v$A" sh -c 'sleep 1000000 & wait' "c$A" "$A"
"""
LABEL = "k\x1b[31m\u202e=v\x1b]0;t\x07\u2066\xff[/]"
FORBIDDEN = [b"\x1b", b"\x07"] + [chr(c).encode() for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]


def ctrlens(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    res = subprocess.run(
        [EXE, *args],
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env=os.environ,
    )
    assert res.returncode in (0, 1), (args, res.returncode, res.stderr.decode(errors="replace"))
    assert b"Traceback" not in res.stderr
    return res


def json_of(*args: str) -> Any:
    return json.loads(ctrlens(*args, "-o", "json").stdout.decode("utf-8"))  # strict UTF-8


def wait_until(condition, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def comm_is(pid: int, name: bytes) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_bytes().rstrip(b"\n") == name
    except OSError:
        return False


# ---- a container at its pids limit ---------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=["docker", "podman"])
def at_pids_limit(request, testbed) -> Iterator[Started]:
    start = testbed.run_docker if request.param == "docker" else testbed.run_podman
    c = start(
        unique_name(f"forks-{request.param[0]}"),
        "--pids-limit",
        str(PIDS_LIMIT),
        cmd=("sh", "-c", FORK_TO_LIMIT),
    )
    try:
        # the init execs `sleep` once its shell gave up forking: the container is then at its limit
        wait_until(lambda: comm_is(c.pid, b"sleep"), f"{c.name} never reached its pids limit")
        yield c
    finally:
        testbed.remove(c)


def test_container_at_its_pids_limit_is_listed_with_its_processes(at_pids_limit: Started) -> None:
    c = at_pids_limit
    listed = [r for r in json_of("containers") if r["name"] == c.name]
    assert len(listed) == 1, "listed once, under its own name"
    assert listed[0]["id"] == c.id and listed[0]["runtime"] == c.runtime

    mine = [p for p in json_of("ps") if (p.get("container") or {}).get("name") == c.name]
    assert PIDS_LIMIT - 4 <= len(mine) <= PIDS_LIMIT, len(
        mine
    )  # the limit, less the forking shell that gave up
    assert {p["container"]["id"] for p in mine} == {c.id}
    assert c.pid in {p["pid"] for p in mine}

    for command in ("audit", "secrets"):
        doc = json_of(command, c.name)
        assert c.name in json.dumps(doc) or c.id[:12] in json.dumps(doc), f"{command} names the container"


# ---- /metrics with hostile text ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile(testbed) -> Iterator[list[Started]]:
    made: list[Started] = []
    try:
        for start, prefix in ((testbed.run_docker, "metrics-d"), (testbed.run_podman, "metrics-p")):
            made.append(start(unique_name(prefix), "--label", LABEL, cmd=("sh", "-c", HOSTILE_SCRIPT)))
        for c in made:  # wait until the init runs the hostile argv (its exec'd shell)
            wait_until(
                lambda c=c: Path(f"/proc/{c.pid}/cmdline").read_bytes().endswith(b"\xe2\x81\xa6z\x00"), c.name
            )
        yield made
    finally:
        for c in made:
            testbed.remove(c)


def assert_metrics_safe(body: bytes, containers: list[Started]) -> None:
    text = body.decode("utf-8")  # strict
    for bad in FORBIDDEN:
        assert bad not in body, f"{bad!r} reached /metrics"
    families = {f.name: f for f in text_string_to_metric_families(text)}  # parses as the text format
    info = {s.labels["id"]: s.labels for s in families["ctrlens_container_info"].samples}
    for c in containers:
        assert c.id in info, f"{c.name} has its ctrlens_container_info series"
        assert info[c.id]["name"] == c.name and info[c.id]["runtime"] == c.runtime
    processes = {s.labels["id"] for s in families["ctrlens_container_processes"].samples}
    assert {c.id for c in containers} <= processes


def test_serve_print_with_hostile_text_is_clean_prometheus(hostile: list[Started]) -> None:
    assert_metrics_safe(ctrlens("serve", "--print", timeout=180).stdout, hostile)


def test_scraped_metrics_with_hostile_text_are_clean_prometheus(hostile: list[Started]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [EXE, "serve", "--listen", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        body = b""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and b"ctrlens_container_info{" not in body:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
                    body = resp.read()
            except OSError:
                time.sleep(0.2)
        assert_metrics_safe(body, hostile)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        assert proc.returncode != 70
