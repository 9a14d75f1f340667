"""`ctrlens watch` against real engines: start and stop events for containers started and removed during the
test, in order, within two poll intervals; new processes in a running container; secrets masked in argv."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import threading
import time
from datetime import datetime

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

INTERVAL = 2.0  # seconds; a busy 2-core CI machine scans in well under one


class Watch:
    """`ctrlens watch` in the background; its events arrive on a queue as they are written."""

    def __init__(self, *args: str) -> None:
        exe = shutil.which("ctrlens") or "ctrlens"
        self.proc = subprocess.Popen(
            [exe, "watch", "--interval", str(INTERVAL), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))  # every line must be one JSON object

    def next_matching(self, predicate, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching event within {timeout:.1f}s; saw {self.seen[-10:]}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def epoch(ts: str) -> float:
    return (
        datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
        .replace(tzinfo=__import__("datetime").timezone.utc)
        .timestamp()
    )


@pytest.fixture
def anchor(testbed):
    """A container running before watch starts: its container.running event marks the end of the baseline."""
    started = testbed.run_docker(unique_name("fleet-anchor"))
    yield started
    testbed.remove(started)


@pytest.fixture
def watch(anchor):
    w = Watch("--initial")
    w.next_matching(lambda e: e["type"] == "container.running" and e["container"]["id"] == anchor.id, 30)
    yield w
    w.stop()


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_start_and_stop_events_in_order_within_two_intervals(testbed, watch, engine):
    run = testbed.run_docker if engine == "docker" else testbed.run_podman
    name = unique_name(f"fleet-w{engine[0]}")
    started = run(name)
    ready = time.time()
    try:
        start = watch.next_matching(
            lambda e: e["container"]["id"] == started.id and e["type"].startswith("container."),
            2 * INTERVAL + 5,
        )
    finally:
        testbed.remove(started)
    removed = time.time()
    stop = watch.next_matching(
        lambda e: e["container"]["id"] == started.id and e["type"].startswith("container."), 2 * INTERVAL + 5
    )

    assert start["type"] == "container.started"
    assert stop["type"] == "container.stopped"
    assert start["container"] == {
        "id": started.id,
        "name": name,
        "runtime": engine,
        "image": start["container"]["image"],
        "pod": None,
        "namespace": None,
        "pod_uid": None,
        "kube_container": None,
    }
    assert start["container"]["image"] in ("ctrlens-bb:1", "localhost/ctrlens-bb:1")
    assert start["process"]["pid"] == started.pid
    assert start["process"]["argv"] == ["sleep", "1000000"]
    # Seen by the poll after the container existed, and after it left: within two poll intervals.
    assert epoch(start["ts"]) - ready <= 2 * INTERVAL
    assert epoch(stop["ts"]) - removed <= 2 * INTERVAL
    assert epoch(start["ts"]) < epoch(stop["ts"])
    for event in (start, stop):
        assert set(event) >= {"ts", "type", "host", "container"}


def test_new_process_in_a_running_container_with_secrets_masked(testbed, watch, anchor):
    secret = "hunter2-Zq8xW4pL"
    exec_cmd = ("exec", "-d", anchor.id, "sleep", "4242")
    testbed.docker(*exec_cmd)
    event = watch.next_matching(
        lambda e: (
            e["type"] == "process.started"
            and e["container"]["id"] == anchor.id
            and e["process"]["argv"][:2] == ["sleep", "4242"]
        ),
        2 * INTERVAL + 5,
    )
    assert event["process"]["pid_in_container"] not in (None, 1)
    # sh stays (no exec) with the secret in its argv: `sh -c SCRIPT ARG0`.
    testbed.docker("exec", "-d", anchor.id, "sh", "-c", "sleep 4343; true", f"--password={secret}")
    event = watch.next_matching(
        lambda e: (
            e["type"] == "process.started"
            and e["container"]["id"] == anchor.id
            and e["process"]["comm"] == "sh"
            and "sleep 4343; true" in e["process"]["argv"]
        ),
        2 * INTERVAL + 5,
    )
    assert event["process"]["argv"][3].startswith("--password=")
    assert secret not in json.dumps(event)
    assert all(secret not in json.dumps(e) for e in watch.seen)


def test_type_filter_and_count_end_the_stream(testbed):
    name = unique_name("fleet-count")
    w = Watch("--type", "container.started", "--count", "1")
    try:
        time.sleep(2 * INTERVAL)  # past the first poll (the baseline)
        started = testbed.run_docker(name)
        try:
            event = w.next_matching(lambda e: True, 2 * INTERVAL + 5)
            assert event["type"] == "container.started"
            assert w.proc.wait(10) == 0  # --count 1: exits after its one event
        finally:
            testbed.remove(started)
    finally:
        w.stop()


def test_bad_interval_is_a_usage_error():
    exe = shutil.which("ctrlens") or "ctrlens"
    res = subprocess.run(
        [exe, "watch", "--interval", "soon"], capture_output=True, text=True, check=False, timeout=30
    )
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert "not a number of seconds" in res.stderr


def test_findings_and_new_executables_of_a_container_started_during_the_watch(testbed):
    w = Watch("--slow-interval", "1", "--type", "finding.new", "--type", "drift.executable")
    started = None
    try:
        time.sleep(2 * INTERVAL)  # the baseline poll is behind us
        started = testbed.run_docker(unique_name("fleet-drift"), "--security-opt", "seccomp=unconfined")
        finding = w.next_matching(
            lambda e: (
                e["type"] == "finding.new"
                and e["container"]["id"] == started.id
                and e["finding"]["id"] == "CTRL-SECCOMP-DISABLED"
            ),
            3 * INTERVAL + 5,
        )
        assert finding["finding"]["severity"] in ("high", "medium", "low")
        testbed.docker(
            "exec", started.id, "sh", "-c", "cp /bin/busybox /tmp/dropped && chmod 755 /tmp/dropped"
        )
        dropped = w.next_matching(
            lambda e: e["type"] == "drift.executable" and e["container"]["id"] == started.id, 3 * INTERVAL + 5
        )
        assert dropped["file"]["path"] == "/tmp/dropped"
        assert "new-executable" in dropped["file"]["flags"]
        # Reported once: later checks of the same container do not repeat it.
        time.sleep(3 * INTERVAL)
        while not w.events.empty():
            w.seen.append(w.events.get())
        assert (
            sum(
                1
                for e in w.seen
                if e["type"] == "drift.executable"
                and e["container"]["id"] == started.id
                and e["file"]["path"] == "/tmp/dropped"
            )
            == 1
        )
    finally:
        w.stop()
        if started is not None:
            testbed.remove(started)
