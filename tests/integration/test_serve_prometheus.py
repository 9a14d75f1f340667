"""A real Prometheus (Debian's package) scrapes `ctrlens serve` on loopback; its API must return the series of known
testbed containers: identity on ctrlens_container_info, and posture gauges that match how each was started."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

PROMETHEUS = "/usr/bin/prometheus"
ALERTS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "ctrlens-alerts.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_until(check, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def start_serve(port: int, *extra: str) -> subprocess.Popen[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    proc = subprocess.Popen(
        [exe, "serve", "--listen", f"127.0.0.1:{port}", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(
        lambda: (
            (proc.poll() is None and http_get(f"http://127.0.0.1:{port}/readyz")[0] == 200)
            or (proc.poll() is not None and pytest.fail(f"ctrlens serve exited: {proc.stderr.read()}"))
        ),
        30,
        "ctrlens serve to be ready",
    )
    return proc


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


SECRET = "Zq8xW4pL-hunter2-9fK3"


@pytest.fixture(scope="module")
def fleet(testbed):
    """A plain container; one with --pid host --read-only --user 1000 and limits; a risky one: near-privileged,
    seccomp off, the host's /etc mounted, a password in its environment and an executable dropped in it."""
    plain = testbed.run_docker(unique_name("fleet-plain"))
    hardened = testbed.run_docker(
        unique_name("fleet-hard"),
        "--pid",
        "host",
        "--read-only",
        "--user",
        "1000",
        "--memory",
        "64m",
        "--pids-limit",
        "50",
    )
    risky = testbed.run_docker(
        unique_name("fleet-risky"),
        "--cap-add",
        "ALL",
        "--cap-drop",
        "SYS_RESOURCE",
        "--security-opt",
        "seccomp=unconfined",
        "-v",
        "/etc:/host-etc:ro",
        "-e",
        f"DB_PASSWORD={SECRET}",
    )
    testbed.docker("exec", risky.id, "sh", "-c", "cp /bin/busybox /tmp/dropped && chmod 755 /tmp/dropped")
    podman = testbed.run_podman(unique_name("fleet-pod"))
    yield {"plain": plain, "hardened": hardened, "risky": risky, "podman": podman}
    for started in (plain, hardened, risky, podman):
        testbed.remove(started)


@pytest.fixture(scope="module")
def prometheus(fleet, tmp_path_factory):
    """ctrlens serve, and a Prometheus scraping it every 2 s, both on 127.0.0.1."""
    tmp: Path = tmp_path_factory.mktemp("prometheus")
    serve_port, prom_port = free_port(), free_port()
    serve = start_serve(serve_port, "--cache-ttl", "0.5", "--slow-budget", "30")
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {ALERTS}\n"
        "scrape_configs:\n  - job_name: ctrlens\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{serve_port}']\n"
    )
    base = f"http://127.0.0.1:{prom_port}"
    with open(tmp / "prometheus.log", "w") as log:
        prom = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: http_get(f"{base}/-/ready")[0] == 200, 60, "Prometheus to be ready")
            yield base
        finally:
            stop(prom)
            stop(serve)


def query(base: str, promql: str) -> list[dict]:
    status, body = http_get(f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert status == 200, body
    data = json.loads(body)
    assert data["status"] == "success", data
    return data["data"]["result"]


def value_of(base: str, promql: str) -> float:
    result = wait_until(lambda: query(base, promql), 30, promql)
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def test_prometheus_scrapes_ctrlens_up(prometheus):
    # A busy test machine can make one scrape miss its timeout: wait for a successful one.
    wait_until(lambda: value_of(prometheus, 'up{job="ctrlens"}') == 1.0, 30, "a successful scrape")


def test_known_container_series_and_identity(prometheus, fleet):
    plain = fleet["plain"]
    result = wait_until(
        lambda: query(prometheus, f'ctrlens_container_info{{name="{plain.name}"}}'),
        30,
        f"the info series of {plain.name}",
    )
    labels = result[0]["metric"]
    assert labels["id"] == plain.id
    assert labels["runtime"] == "docker"
    assert labels["image"] == "ctrlens-bb:1"
    assert value_of(prometheus, f'ctrlens_container_processes{{id="{plain.id}"}}') == 1.0
    assert value_of(prometheus, f'ctrlens_container_memory_bytes{{id="{plain.id}"}}') > 0
    assert value_of(prometheus, f'ctrlens_container_cpu_seconds_total{{id="{plain.id}"}}') >= 0


def test_posture_gauges_of_a_default_container(prometheus, fleet):
    cid = fleet["plain"].id
    for ns in ("pid", "net", "ipc", "uts", "mnt"):
        assert value_of(prometheus, f'ctrlens_container_host_namespace{{id="{cid}",type="{ns}"}}') == 0.0, ns
    assert value_of(prometheus, f'ctrlens_container_runs_as_root{{id="{cid}"}}') == 1.0
    assert value_of(prometheus, f'ctrlens_container_rootfs_writable{{id="{cid}"}}') == 1.0
    assert value_of(prometheus, f'ctrlens_container_memory_unlimited{{id="{cid}"}}') == 1.0
    assert value_of(prometheus, f'ctrlens_container_pids_unlimited{{id="{cid}"}}') == 1.0


def test_posture_gauges_follow_the_run_options(prometheus, fleet):
    cid = fleet["hardened"].id
    assert value_of(prometheus, f'ctrlens_container_host_namespace{{id="{cid}",type="pid"}}') == 1.0
    assert value_of(prometheus, f'ctrlens_container_host_namespace{{id="{cid}",type="net"}}') == 0.0
    assert value_of(prometheus, f'ctrlens_container_runs_as_root{{id="{cid}"}}') == 0.0
    assert value_of(prometheus, f'ctrlens_container_rootfs_writable{{id="{cid}"}}') == 0.0
    assert value_of(prometheus, f'ctrlens_container_memory_unlimited{{id="{cid}"}}') == 0.0
    assert value_of(prometheus, f'ctrlens_container_memory_limit_bytes{{id="{cid}"}}') == 64 * 2**20
    assert value_of(prometheus, f'ctrlens_container_pids_unlimited{{id="{cid}"}}') == 0.0


def test_audit_secrets_and_drift_gauges_of_a_risky_container(prometheus, fleet):
    cid = fleet["risky"].id
    assert (
        value_of(prometheus, f'ctrlens_container_privileged{{id="{cid}"}}') == 1.0
    )  # near-privileged counts
    assert value_of(prometheus, f'ctrlens_container_seccomp_disabled{{id="{cid}"}}') == 1.0
    assert value_of(prometheus, f'ctrlens_container_added_capabilities{{id="{cid}"}}') >= 20
    assert value_of(prometheus, f'ctrlens_container_sensitive_mounts{{id="{cid}"}}') >= 1
    assert value_of(prometheus, f'ctrlens_container_findings{{id="{cid}",severity="high"}}') >= 1
    assert value_of(prometheus, f'ctrlens_container_secrets_exposed{{id="{cid}"}}') >= 1
    assert value_of(prometheus, f'ctrlens_container_drift_executables{{id="{cid}"}}') >= 1
    assert value_of(prometheus, f'ctrlens_container_drift_files{{id="{cid}"}}') >= 1
    plain = fleet["plain"].id
    for gauge in (
        "privileged",
        "seccomp_disabled",
        "added_capabilities",
        "sensitive_mounts",
        "secrets_exposed",
        "drift_executables",
    ):
        assert value_of(prometheus, f'ctrlens_container_{gauge}{{id="{plain}"}}') == 0.0, gauge


def test_no_secret_value_reaches_prometheus(prometheus, fleet):
    """Counts only: the password is in no series, label or value Prometheus stored."""
    status, body = http_get(
        f"{prometheus}/api/v1/series?" + urllib.parse.urlencode({"match[]": '{__name__=~"ctrlens_.+"}'})
    )
    assert status == 200
    assert SECRET not in body and "hunter2" not in body


def test_join_on_id_gives_names_for_alerts(prometheus, fleet):
    """The documented alert shape: a posture gauge joined with the info series for the container's name."""
    hardened = fleet["hardened"]
    promql = (
        '(ctrlens_container_host_namespace{type="pid"} == 1) '
        "* on(id) group_left(name, image) ctrlens_container_info"
    )
    result = wait_until(
        lambda: [r for r in query(prometheus, promql) if r["metric"].get("name") == hardened.name], 30, promql
    )
    assert result[0]["metric"]["image"] == "ctrlens-bb:1"


def test_shipped_alerts_fire_for_the_risky_container(prometheus, fleet):
    """deploy/prometheus/ctrlens-alerts.yaml, loaded by the real Prometheus: pending (their `for:` is minutes)."""
    risky, plain = fleet["risky"], fleet["plain"]

    def alerts() -> list[dict]:
        status, body = http_get(f"{prometheus}/api/v1/alerts")
        assert status == 200, body
        return json.loads(body)["data"]["alerts"]

    wanted = {
        "CtrlensPrivilegedContainer",
        "CtrlensSecretsExposed",
        "CtrlensSeccompDisabled",
        "CtrlensNewExecutableInContainer",
    }
    found = wait_until(
        lambda: (
            {a["labels"]["alertname"] for a in alerts() if a["labels"].get("name") == risky.name} >= wanted
            and alerts()
        ),
        60,
        f"{wanted} for {risky.name}",
    )
    mine = [a for a in found if a["labels"].get("name") == risky.name and a["labels"]["alertname"] in wanted]
    assert all(a["state"] in ("pending", "firing") and a["labels"]["image"] == "ctrlens-bb:1" for a in mine)
    assert not any(
        a["labels"].get("name") == plain.name and a["labels"]["alertname"] in wanted for a in found
    )
    assert SECRET not in json.dumps(found)


def test_podman_container_is_exported_too(prometheus, fleet):
    pod = fleet["podman"]
    result = wait_until(
        lambda: query(prometheus, f'ctrlens_container_info{{name="{pod.name}"}}'), 30, pod.name
    )
    assert result[0]["metric"]["runtime"] == "podman"
    assert value_of(prometheus, f'ctrlens_container_runs_as_root{{id="{pod.id}"}}') == 1.0


def test_exporter_reports_its_own_cost_and_errors(prometheus):
    assert value_of(prometheus, "ctrlens_exporter_collection_duration_seconds") > 0
    assert value_of(prometheus, 'ctrlens_exporter_errors_total{stage="scan"}') == 0.0
    assert value_of(prometheus, "process_resident_memory_bytes") > 0
    assert value_of(prometheus, "ctrlens_exporter_collections_total") >= 1


def test_removed_container_series_go_stale(prometheus, testbed):
    gone = testbed.run_docker(unique_name("fleet-gone"))
    try:
        wait_until(lambda: query(prometheus, f'ctrlens_container_info{{name="{gone.name}"}}'), 30, gone.name)
    finally:
        testbed.remove(gone)
    # Prometheus marks a series stale when a scrape no longer has it: the instant query stops returning it.
    wait_until(
        lambda: not query(prometheus, f'ctrlens_container_info{{name="{gone.name}"}}'),
        30,
        f"{gone.name} to disappear",
    )
