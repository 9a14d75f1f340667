"""`ctrlens audit` against real containers: each scenario gets exactly the findings (at low or above) that its
`docker run`/`podman run`/LXC options cause, and no others; the same audit understands each runtime's defaults.

Ground truth is the options each container was started with (host-facts §4 and §6 for what they do here).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"
DOCKER_DEFAULT = {
    "CTRL-USER-ROOT",
    "CTRL-LIMIT-MEMORY",
    "CTRL-LIMIT-PIDS",
    "CTRL-NNP-UNSET",
    "CTRL-ROOTFS-WRITABLE",
}
PODMAN_DEFAULT = DOCKER_DEFAULT - {"CTRL-LIMIT-PIDS"}  # podman sets pids.max 2048 by default
HARDENED = ("--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only", "--user", "65534",
            "--memory", "64m", "--pids-limit", "100")  # fmt: skip
PRIVLIKE = ("--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
            "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm")  # fmt: skip
SECRET_VALUE = "hunter2-" + uuid.uuid4().hex[:10]
ARG_SECRET = "argv-" + uuid.uuid4().hex[:12]


def ctrlens(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})  # fmt: skip


def audit_json(*refs: str, severity: str = "good") -> dict[str, dict]:
    out = ctrlens("audit", "-o", "json", "--severity", severity, *refs)
    assert out.returncode == 0, out.stderr
    return {r["id"]: r for r in json.loads(out.stdout)}


def ids(record: dict, floor: str = "low") -> set[str]:
    order = ["good", "info", "low", "medium", "high"]
    return {f["id"] for f in record["findings"] if order.index(f["severity"]) >= order.index(floor)}


def one(record: dict, rule_id: str) -> dict:
    found = [f for f in record["findings"] if f["id"] == rule_id]
    assert found, f"{rule_id} not in {sorted(ids(record, 'good'))}"
    return found[0]


@pytest.fixture(scope="module")
def fleet(testbed):
    sock = str(testbed.paths.docker_socket)
    specs = {
        "default": (testbed.run_docker, ()),
        "hardened": (testbed.run_docker, HARDENED),
        "pidhost": (testbed.run_docker, ("--pid", "host")),
        "nethost": (testbed.run_docker, ("--network", "host")),
        "ipcuts": (testbed.run_docker, ("--ipc", "host", "--uts", "host")),
        "caps": (testbed.run_docker, ("--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN")),
        "seccomp": (testbed.run_docker, ("--security-opt", "seccomp=unconfined")),
        "privlike": (testbed.run_docker, PRIVLIKE),
        "devrule": (testbed.run_docker, ("--device-cgroup-rule", "c 1:1 rwm")),
        "sock": (testbed.run_docker, ("-v", f"{sock}:/var/run/docker.sock")),
        "user": (testbed.run_docker, ("--user", "1000")),
        "secrets": (testbed.run_docker, ("-e", f"DB_PASSWORD={SECRET_VALUE}")),
        "p-default": (testbed.run_podman, ()),
        "p-privileged": (testbed.run_podman, ("--privileged",)),
        "p-netraw": (testbed.run_podman, ("--cap-add", "NET_RAW")),
        "p-userns": (testbed.run_podman, ("--uidmap", "0:100000:65536")),
    }
    started = {}
    try:
        for key, (run, opts) in specs.items():
            cmd = (
                ("sh", "-c", "sleep 1000000; :", f"--token={ARG_SECRET}")
                if key == "secrets"
                else ("sleep", "1000000")
            )
            started[key] = run(f"aud-{key}-{uuid.uuid4().hex[:6]}", *opts, cmd=cmd)
        started["lxc"] = testbed.run_lxc(f"aud-lxc-{uuid.uuid4().hex[:6]}")
        started["kube"] = testbed.run_kube_style(f"aud-pod-{uuid.uuid4().hex[:6]}", "aud-space", "app")
        # A root process exec'd into the non-root container: the audit reads every process, not only the init.
        testbed.docker("exec", "-d", "-u", "0", started["user"].id, "sleep", "1000001")
        yield started
    finally:
        for s in started.values():
            testbed.remove(s)


@pytest.fixture(scope="module")
def report(fleet):
    return audit_json(*(s.id for s in fleet.values()))


@pytest.mark.parametrize(("key", "extra"), [
    ("default", set()),
    ("pidhost", {"CTRL-NS-PID-HOST"}),
    ("nethost", {"CTRL-NS-NET-HOST"}),
    ("ipcuts", {"CTRL-NS-IPC-HOST", "CTRL-NS-UTS-HOST"}),
    ("caps", {"CTRL-CAP-SYS-ADMIN", "CTRL-CAP-NET-ADMIN"}),
    ("seccomp", {"CTRL-SECCOMP-DISABLED"}),
    ("privlike", {"CTRL-CAP-NEAR-PRIVILEGED", "CTRL-DEV-ALL", "CTRL-SECCOMP-DISABLED", "CTRL-PROC-UNMASKED",
                  "CTRL-PROC-WRITABLE"}),
    ("devrule", {"CTRL-DEV-EXTRA"}),
    ("sock", {"CTRL-MOUNT-RUNTIME-SOCKET"}),
    ("secrets", {"CTRL-SECRET-ENV", "CTRL-SECRET-ARGV"}),
])  # fmt: skip
def test_docker_scenario_has_exactly_its_findings(fleet, report, key, extra):
    assert ids(report[fleet[key].id]) == DOCKER_DEFAULT | extra


def test_hardened_container_comes_out_clean(fleet, report):
    record = report[fleet["hardened"].id]
    assert ids(record) == set()
    assert {"CTRL-CAP-NONE", "CTRL-ROOTFS-READONLY", "CTRL-SECCOMP-ON", "CTRL-USER-NONROOT"} <= ids(
        record, "good"
    )
    assert set(record["summary"].values()) <= {"ok", "n/a"}, record["summary"]
    limits = {f["title"] for f in record["findings"] if f["id"] == "CTRL-LIMIT-SET"}
    assert {"memory limit 64 MiB", "pids limit 100"} <= limits


def test_severities_evidence_and_docker_fixes(fleet, report):
    pid = fleet["pidhost"].pid
    ns = one(report[fleet["pidhost"].id], "CTRL-NS-PID-HOST")
    assert ns["severity"] == "high" and ns["cis"] == "5.16" and ns["fix"] == "drop --pid=host"
    assert ns["evidence"] == [f"/proc/{pid}/ns/pid -> pid:[{0xEFFFFFFC}] (the host's)"]
    sock = one(report[fleet["sock"].id], "CTRL-MOUNT-RUNTIME-SOCKET")
    assert " /var/run/docker.sock rw" in sock["evidence"][0] and sock["cis"] == "5.32"
    sys_admin = one(report[fleet["caps"].id], "CTRL-CAP-SYS-ADMIN")
    assert sys_admin["severity"] == "high" and sys_admin["evidence"] == [
        f"/proc/{fleet['caps'].pid}/status: CapEff: 00000000a82435fb"
    ]
    near = one(report[fleet["privlike"].id], "CTRL-CAP-NEAR-PRIVILEGED")
    assert near["title"].endswith("except PERFMON, BPF, CHECKPOINT_RESTORE")  # docker 20.10 knows caps 0-37


def test_exec_as_root_into_a_non_root_container_is_seen(fleet, report):
    record = report[fleet["user"].id]
    assert ids(record) == DOCKER_DEFAULT
    assert one(record, "CTRL-USER-ROOT")["title"] == "runs as root, host uid 0 (1 of 2 processes)"


def test_secret_values_never_reach_any_output(fleet, report):
    record = report[fleet["secrets"].id]
    env = one(record, "CTRL-SECRET-ENV")
    assert env["title"] == "secret in the environment: DB_PASSWORD (secret-name)"
    assert "<redacted:" in env["evidence"][0]
    ref = fleet["secrets"].id
    for fmt in ("table", "json", "sarif"):
        out = ctrlens("audit", ref, "-o", fmt, "--severity", "good")
        assert SECRET_VALUE not in out.stdout + out.stderr and ARG_SECRET not in out.stdout + out.stderr, fmt


def test_podman_defaults_differ_from_docker(fleet, report):
    default = report[fleet["p-default"].id]
    assert ids(default) == PODMAN_DEFAULT
    caps = one(default, "CTRL-CAP-RUNTIME-DEFAULT")
    assert caps["title"].startswith("podman's default 11 capabilities") and "NET_RAW" not in caps["title"]
    assert caps["evidence"] == [f"/proc/{fleet['p-default'].pid}/status: CapEff: 00000000800405fb"]
    assert one(default, "CTRL-USER-ROOT")["fix"].startswith("podman run --user")
    # NET_RAW is in docker's default set, not in podman's: the same cap is a finding only for podman.
    assert ids(report[fleet["p-netraw"].id]) == PODMAN_DEFAULT | {"CTRL-CAP-ADDED"}
    assert (
        one(report[fleet["p-netraw"].id], "CTRL-CAP-ADDED")["title"]
        == "capabilities beyond podman's default 11: NET_RAW"
    )


def test_podman_privileged_works_here_and_is_privileged(fleet, report):
    record = report[fleet["p-privileged"].id]
    assert ids(record) == PODMAN_DEFAULT | {
        "CTRL-CAP-PRIVILEGED",
        "CTRL-SYS-WRITABLE",
        "CTRL-DEV-ALL",
        "CTRL-SECCOMP-DISABLED",
        "CTRL-PROC-UNMASKED",
        "CTRL-PROC-WRITABLE",
        "CTRL-MOUNT-CGROUP-RW",
    }
    priv = one(record, "CTRL-CAP-PRIVILEGED")
    assert priv["severity"] == "high" and any("CapBnd" in e for e in priv["evidence"])
    assert record["summary"]["caps"] == "HIGH"


def test_podman_user_namespace_root_is_not_host_root(fleet, report):
    record = report[fleet["p-userns"].id]
    assert ids(record) == PODMAN_DEFAULT - {"CTRL-USER-ROOT"}
    assert one(record, "CTRL-USER-REMAPPED")["title"] == "root inside its user namespace = host uid 100000"
    assert "CTRL-NS-USER-HOST" not in ids(record, "good")


def test_lxc_system_container_is_near_privileged_by_default(fleet, report):
    record = report[fleet["lxc"].id]
    assert ids(record) == DOCKER_DEFAULT | {
        "CTRL-CAP-NEAR-PRIVILEGED",
        "CTRL-DEV-ALL",
        "CTRL-SECCOMP-DISABLED",
        "CTRL-PROC-UNMASKED",
        "CTRL-PROC-WRITABLE",
    }
    near = one(record, "CTRL-CAP-NEAR-PRIVILEGED")
    assert near["title"].endswith("except SYS_MODULE, SYS_TIME, MAC_OVERRIDE, MAC_ADMIN")
    assert one(record, "CTRL-USER-ROOT")["fix"].startswith("an unprivileged container: lxc.idmap")


def test_kubernetes_container_gets_securitycontext_fixes(fleet, report):
    record = report[fleet["kube"].id]
    assert ids(record) == DOCKER_DEFAULT - {"CTRL-NNP-UNSET"} | {"CTRL-SECCOMP-DISABLED"}
    assert one(record, "CTRL-USER-ROOT")["fix"].startswith("securityContext.runAsNonRoot")
    assert (
        one(record, "CTRL-SECCOMP-DISABLED")["fix"] == "securityContext.seccompProfile.type: RuntimeDefault"
    )
    assert one(record, "CTRL-CAP-RUNTIME-DEFAULT")["title"].startswith("containerd's default 14")


def test_table_sarif_and_fail_on(fleet):
    refs = [fleet[k].id for k in ("default", "hardened", "p-default", "lxc")]
    table = ctrlens("audit", "--summary", *refs, env={"COLUMNS": "80"})
    assert table.returncode == 0 and max(map(len, table.stdout.splitlines())) <= 80
    assert ctrlens("audit", "--fail-on", "high", fleet["hardened"].id).returncode == 0
    assert ctrlens("audit", "--fail-on", "low", fleet["hardened"].id).returncode == 0
    assert ctrlens("audit", "--fail-on", "high", fleet["lxc"].id).returncode == 1
    sarif = ctrlens("audit", "-o", "sarif", *refs)
    import jsonschema

    jsonschema.validate(json.loads(sarif.stdout), json.loads(SCHEMA.read_text()))


def test_writable_submount_under_read_only_bind_is_real_and_found(testbed, tmp_path):
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "aud-sub", str(top / "sub")], check=True)
    started = None
    try:
        started = testbed.run_docker(f"aud-rosub-{uuid.uuid4().hex[:6]}", "-v", f"{top}:/mnt:ro")
        record = audit_json(started.id)[started.id]
        assert ids(record) == DOCKER_DEFAULT | {"CTRL-MOUNT-RW-SUBMOUNT"}
        assert (
            one(record, "CTRL-MOUNT-RW-SUBMOUNT")["title"]
            == "1 host mount(s) writable under read-only /mnt: /mnt/sub"
        )
        # What the finding claims: the container writes to the host through the submount, not the top.
        assert testbed.docker("exec", started.id, "touch", "/mnt/sub/proof", check=False).returncode == 0
        assert (top / "sub" / "proof").exists()
        assert testbed.docker("exec", started.id, "touch", "/mnt/nope", check=False).returncode != 0
    finally:
        if started is not None:
            testbed.remove(started)
        subprocess.run(["umount", "-l", str(top / "sub")], check=False)


def test_read_only_host_root_bind(testbed):
    started = testbed.run_docker(f"aud-hostroot-{uuid.uuid4().hex[:6]}", "-v", "/:/host:ro")
    try:
        record = audit_json(started.id)[started.id]
        assert ids(record) == DOCKER_DEFAULT | {"CTRL-MOUNT-HOST-PATH", "CTRL-MOUNT-RW-SUBMOUNT"}
        assert (
            one(record, "CTRL-MOUNT-HOST-PATH")["title"]
            == "the host's root filesystem mounted read-only at /host"
        )
    finally:
        testbed.remove(started)


def test_a_ref_that_does_not_exist_is_one_line_and_exit_3():
    out = ctrlens("audit", "aud-no-such-container")
    assert out.returncode == 3 and out.stderr.count("\n") == 1 and not out.stdout


def test_a_container_that_exits_before_its_audit_is_marked_gone(testbed):
    from ctrlens.audit import audit, audit_container
    from ctrlens.errors import ProcessGone
    from ctrlens.host import Host
    from ctrlens.scanner import scan

    started = testbed.run_docker(f"aud-gone-{uuid.uuid4().hex[:6]}")
    host = Host.from_option(None)
    snapshot = scan(host)
    container = snapshot.containers[started.id]
    testbed.remove(started)
    result = audit(snapshot, container, host)
    assert result.gone and result.findings == []
    with pytest.raises(ProcessGone):
        audit_container(snapshot, container, host)
