"""Host mounts seen from a container (lines from host-facts §4), and the audit's text, JSON and SARIF faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ctrlens.audit.render import matrix
from ctrlens.audit.sarif import to_sarif
from ctrlens.cli import main
from tests.fixtures.audit.tree import DOCKER_MOUNTINFO, AuditTree
from tests.unit.audit_helpers import audit_tree, finding, ids

SOCKET = "549 72 254:0 /run/docker.sock /var/run/docker.sock rw,relatime - ext4 /dev/vda rw\n"
HOST_ROOT_RO = (
    "93 72 254:0 / /host ro,relatime - ext4 /dev/vda rw\n"
    "94 93 0:6 / /host/dev rw,relatime - devtmpfs devtmpfs rw\n"
    "95 93 254:0 /var/lib/docker /host/var/lib/docker rw,relatime - ext4 /dev/vda rw\n"
)
SCHEMAS = sorted(Path(__file__).resolve().parents[1].glob("data/sarif*2.1.0*.json"))


@pytest.fixture
def tree(tmp_path) -> AuditTree:
    return AuditTree(tmp_path)


def test_runtime_socket_mount(tree):
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + SOCKET)
    sock = finding(audit_tree(tree), "CTRL-MOUNT-RUNTIME-SOCKET")
    assert sock.severity == "high" and sock.cis == "5.32"
    assert sock.title == "runtime socket /run/docker.sock mounted at /var/run/docker.sock"
    assert sock.evidence[0] == "/proc/4242/mountinfo: " + SOCKET.strip()


def test_read_only_host_root_with_writable_submounts(tree):
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + HOST_ROOT_RO)
    result = audit_tree(tree)
    host = finding(result, "CTRL-MOUNT-HOST-PATH")
    assert host.title == "the host's root filesystem mounted read-only at /host" and host.severity == "high"
    sub = finding(result, "CTRL-MOUNT-RW-SUBMOUNT")
    assert sub.title == "2 host mount(s) writable under read-only /host: /host/dev, /host/var/lib/docker"
    assert [f.id for f in result.findings if f.layer == "mounts"] == [
        "CTRL-MOUNT-HOST-PATH",
        "CTRL-MOUNT-RW-SUBMOUNT",
    ]


def test_runtime_own_binds_and_read_only_files_in_etc_are_not_findings(tree):
    localtime = "96 72 254:0 /etc/localtime /etc/localtime ro,relatime - ext4 /dev/vda rw\n"
    etc_rw = "97 72 254:0 /etc/app /etc/app rw,relatime - ext4 /dev/vda rw\n"
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + localtime)
    assert audit_tree(tree).layer_status("mounts") == "ok"  # resolv.conf/hosts of its own, localtime ro
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + etc_rw)
    assert (
        finding(audit_tree(tree), "CTRL-MOUNT-HOST-PATH").title
        == "host /etc/app mounted read-write at /etc/app"
    )


def test_shared_propagation_with_a_host_peer_group(tree):
    shared = "98 72 254:0 /var/lib/docker/volumes/v/_data /data rw,relatime shared:1 - ext4 /dev/vda rw\n"
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + shared)
    result = audit_tree(tree)
    assert ids(result) - {
        "CTRL-USER-ROOT",
        "CTRL-LIMIT-MEMORY",
        "CTRL-LIMIT-PIDS",
        "CTRL-NNP-UNSET",
        "CTRL-ROOTFS-WRITABLE",
    } == {"CTRL-MOUNT-PROPAGATION-SHARED"}  # a volume is not a finding


def test_matrix_fits_80_columns(tree):
    result = audit_tree(tree)
    text = matrix([result] * 3, 80)
    assert max(map(len, text.splitlines())) <= 80
    assert text.splitlines()[0].split() == [
        "CONTAINER",
        "NS",
        "CAPS",
        "SECCOMP",
        "LSM",
        "USER",
        "ROOTFS",
        "MOUNTS",
        "DEVICES",
        "LIMITS",
        "SECRETS",
    ]


def test_cli_on_a_fixture_host(tree, capsys):
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + SOCKET)
    assert main(["audit", "--host-root", str(tree.root), "--no-secrets", "-o", "json"]) == 0
    [record] = json.loads(capsys.readouterr().out)
    assert record["summary"]["mounts"] == "HIGH" and record["worst"] == "high"
    sock = next(f for f in record["findings"] if f["id"] == "CTRL-MOUNT-RUNTIME-SOCKET")
    assert sock["fix"].startswith("remove the -v/--mount") and sock["cis"] == "5.32"
    assert (
        main(["audit", "--host-root", str(tree.root), "--no-secrets", "--fail-on", "high", "--summary"]) == 1
    )
    assert (
        main(
            [
                "audit",
                "--host-root",
                str(tree.root),
                "--no-secrets",
                "--fail-on",
                "high",
                "--ignore",
                "CTRL-MOUNT-*",
                "--summary",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["audit", "--host-root", str(tree.root), "nosuch"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert main(["audit", "--explain", "CTRL-NOPE"]) == 2


def test_sarif_is_valid_2_1_0(tree):
    tree.proc_file("mountinfo", DOCKER_MOUNTINFO + SOCKET)
    log = to_sarif([audit_tree(tree)], "info")
    results = log["runs"][0]["results"]
    assert {"error", "warning", "note"} <= {r["level"] for r in results}
    sock = next(r for r in results if r["ruleId"] == "CTRL-MOUNT-RUNTIME-SOCKET")
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert rules[sock["ruleIndex"]]["id"] == "CTRL-MOUNT-RUNTIME-SOCKET"
    assert sock["locations"][0]["logicalLocations"][0]["kind"] == "resource"
    if not SCHEMAS:
        pytest.skip("the SARIF 2.1.0 schema is not vendored in tests/data/ yet")
    import jsonschema

    jsonschema.validate(log, json.loads(SCHEMAS[0].read_text()))


def test_a_pod_level_fix_names_the_pod_and_a_container_level_one_does_not():
    from ctrlens.audit.finding import Fix

    pod_field = Fix(docker="drop --network=host", kubernetes="spec.hostNetwork: false")
    container_field = Fix(docker="drop --privileged", kubernetes="securityContext.privileged: false")
    assert pod_field.for_runtime("containerd", True, "kube-system/agent") == (
        "spec.hostNetwork: false in pod kube-system/agent"
    )
    assert pod_field.for_runtime("containerd", True) == "spec.hostNetwork: false"
    assert (
        container_field.for_runtime("containerd", True, "kube-system/agent")
        == "securityContext.privileged: false"
    )
    assert (
        pod_field.for_runtime("docker", False, None) == "drop --network=host"
    )  # not in a pod: docker's terms
