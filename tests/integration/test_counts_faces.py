"""One findings count for every face: `ctrlens serve`'s ctrlens_container_findings{severity} equals the counts of
`ctrlens audit -o json` for the same container, secrets included (the demo's `web`: the exporter said 0 high
while the audit said 1, the secret, because the exporter left the secrets layer out of its count)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testbed import unique_name

pytestmark = pytest.mark.integration

EXE = shutil.which("ctrlens") or "ctrlens"
SECRET = "hunter2-" + uuid.uuid4().hex[:10]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def findings_metric(port: int, container_id: str) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        body = resp.read().decode()
    return {
        s.labels["severity"]: s.value
        for f in text_string_to_metric_families(body)
        for s in f.samples
        if s.name == "ctrlens_container_findings" and s.labels.get("id") == container_id
    }


def test_exporter_and_cli_report_the_same_counts(testbed):
    web = testbed.run_docker(unique_name("peer-web"), "-e", f"DB_PASSWORD={SECRET}", "--cap-add", "SYS_ADMIN",
                             cmd=("sleep", "1000000"))  # fmt: skip
    port = free_port()
    serve = subprocess.Popen([EXE, "serve", "--listen", f"127.0.0.1:{port}", "--cache-ttl", "0",
                              "--slow-budget", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ))  # fmt: skip
    try:
        metric: dict[str, float] = {}
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not metric:
            assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
            with contextlib.suppress(OSError):
                metric = findings_metric(port, web.id)
            time.sleep(0.5)
        assert metric, "ctrlens serve never reported ctrlens_container_findings for the container"
        out = subprocess.run([EXE, "audit", "-o", "json", web.id], capture_output=True, text=True, timeout=120,
                             check=False)  # fmt: skip
        assert out.returncode == 0, out.stderr
        counts = json.loads(out.stdout)[0]["counts"]
        assert metric == {s: float(counts[s]) for s in ("high", "medium", "low")}
        # the secret is among them: the finding the exporter used to leave out of its count
        record = json.loads(out.stdout)[0]
        secret = [f for f in record["findings"] if f["id"] == "CTRL-SECRET-ENV"]
        assert len(secret) == 1 and metric[secret[0]["severity"]] >= 1
        assert metric["high"] >= 1  # SYS_ADMIN
    finally:
        serve.terminate()
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
        testbed.remove(web)
