"""Issue 15's rules on fixtures: the CIS table per benchmark version, each runtime's own device defaults, the
restart-policy rule, one findings count, and REF resolution (exact ID, exact name, hex-ID prefix, pid:N)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ctrlens.audit import CIS_IDS, CIS_VERSION, RULES, Layer, Severity
from ctrlens.audit.devices import default_allowed
from ctrlens.audit.finding import count_by_severity
from ctrlens.audit.limits import _restart
from ctrlens.errors import AmbiguousRef, NotFound, UsageError
from ctrlens.host import Host
from ctrlens.model import RestartPolicy
from ctrlens.refs import resolve_ref
from ctrlens.scanner import scan
from tests.fixtures.proctree import FakeProcess, HostTree, shim_v2, v1

HEX = "2" + "f" * 63  # a Docker ID starting with the digit 2
OTHER = "a" + "0" * 63


def test_cis_v1_6_0_section_5_numbering():
    ids = CIS_IDS["v1.6.0"]
    assert CIS_VERSION == "CIS Docker Benchmark v1.6.0"
    # docker-bench-security 1.6.0: host PID 5.16, host network 5.10, docker.sock 5.32, restart 5.15
    assert (ids["CTRL-NS-PID-HOST"], ids["CTRL-NS-NET-HOST"], ids["CTRL-MOUNT-RUNTIME-SOCKET"]) == (
        "5.16", "5.10", "5.32")  # fmt: skip
    assert ids["CTRL-LIMIT-RESTART"] == "5.15" and ids["CTRL-CAP-PRIVILEGED"] == "5.5"
    assert set(ids) <= set(RULES), "the table names a rule that does not exist"
    assert all(RULES[r].cis == c for r, c in ids.items())
    assert {r.id for r in RULES.values() if r.cis} == set(ids)
    # what firing does not mean failing: the default caps, no user namespace, no LSM on the host
    assert RULES["CTRL-CAP-RUNTIME-DEFAULT"].cis is None and RULES["CTRL-NS-USER-HOST"].cis is None
    assert RULES["CTRL-LSM-NOT-AVAILABLE"].cis is None
    assert all(RULES[f"CTRL-CAP-{cap}"].cis == "5.4" for cap in ("SYS-ADMIN", "NET-ADMIN", "BPF"))


def test_severity_and_layer_are_str_enums():
    assert Severity.HIGH == "high" and f"{Layer.DEVICES:<8}|" == "devices |"
    assert RULES["CTRL-DEV-EXTRA"].layer is Layer.DEVICES
    findings = [RULES["CTRL-DEV-EXTRA"].finding(Severity.MEDIUM, "x", []),
                RULES["CTRL-SECRET-ENV"].finding(Severity.HIGH, "y", [])]  # fmt: skip
    assert count_by_severity(findings) == {"high": 1, "medium": 1, "low": 0, "info": 0, "good": 0}


@pytest.mark.parametrize(("runtime", "allowed", "denied"), [
    ("docker", {"c 5:1 rwm", "c 10:200 rwm", "c 136:* rwm"}, {"c 10:229 rwm", "c 1:11 rwm"}),  # moby denies fuse
    ("podman", {"c 5:1 rwm", "c 10:200 rwm"}, {"c 10:229 rwm", "c 1:11 rwm"}),
    ("containerd", {"c 10:200 rwm"}, {"c 10:229 rwm", "c 1:11 rwm"}),
    ("lxc", {"c 10:229 rwm", "c 5:1 rwm"}, {"c 10:200 rwm", "c 1:11 rwm"}),  # LXC: fuse yes, tun no
])  # fmt: skip
def test_each_runtime_has_its_own_device_defaults(runtime, allowed, denied):
    default = default_allowed(runtime)
    assert allowed <= default and not denied & default
    assert {"c 1:3 rwm", "c 1:9 rwm", "c *:* m", "b *:* m"} <= default


def _facts(policy: RestartPolicy | None) -> SimpleNamespace:
    return SimpleNamespace(container=SimpleNamespace(restart_policy=policy), pid=42)


@pytest.mark.parametrize(("policy", "expected"), [
    (RestartPolicy("always", 0), ("low", "restart policy always: restarted without a limit")),
    (RestartPolicy("unless-stopped", 0), ("low", "restart policy unless-stopped: restarted without a limit")),
    (RestartPolicy("on-failure", 0), ("low", "restart policy on-failure without a retry limit")),
    (RestartPolicy("on-failure", None), ("low", "restart policy on-failure without a retry limit")),
    (RestartPolicy("on-failure", 6), ("low", "restart policy on-failure:6, more than 5 retries")),
    (RestartPolicy("on-failure", 5), ("good", "restart policy on-failure:5")),
    (RestartPolicy("no", 0), None),
    (RestartPolicy("kubelet"), None),
    (RestartPolicy("lxc-autostart"), None),
    (None, None),
])  # fmt: skip
def test_restart_policy_rule(policy, expected):
    found = [(str(f.severity), f.title) for f in _restart(_facts(policy))]
    assert found == ([expected] if expected else [])


@pytest.fixture
def tree(tmp_path):
    t = HostTree(tmp_path)
    t.container(
        shim=shim_v2(100, "moby", HEX), pid=101, comm="sleep", argv=["sleep"], cgroup=v1(f"/docker/{HEX}")
    )
    t.container(shim=shim_v2(200, "moby", OTHER), pid=201, comm="sleep", argv=["sleep"],
                cgroup=v1(f"/docker/{OTHER}"), pid_ns=4026532900)  # fmt: skip
    t.file(f"/var/lib/docker/containers/{HEX}/config.v2.json", {"Name": "/web"})
    t.file(f"/var/lib/docker/containers/{OTHER}/config.v2.json", {"Name": "/app"})
    mon = FakeProcess(300, 1, "lxc-start", ["[lxc monitor] /var/lib/lxc zz-ux"], v1("/lxc.monitor.zz-ux"))
    t.container(shim=mon, pid=301, comm="init", argv=["/sbin/init"], cgroup=v1("/lxc.payload.zz-ux"),
                pid_ns=4026533000)  # fmt: skip
    return scan(Host(str(t.root)))


def test_exact_id_name_and_hex_prefix(tree):
    assert resolve_ref(tree, HEX).container.name == "web"
    assert resolve_ref(tree, "app").container.id == OTHER
    assert resolve_ref(tree, "a000").container.id == OTHER
    assert resolve_ref(tree, "zz-ux").container.runtime == "lxc"  # its exact name (its ID)


def test_a_name_is_never_a_prefix(tree):
    for ref in ("z", "zz", "we"):
        with pytest.raises(NotFound, match="pid:N names a process"):
            resolve_ref(tree, ref)


def test_pid_refs_and_the_ambiguous_number(tree):
    target = resolve_ref(tree, "pid:301")
    assert target.by_pid and target.container.runtime == "lxc" and target.pid == 301
    assert resolve_ref(tree, "201").container.id == OTHER and resolve_ref(tree, "201").by_pid
    assert 2 in tree.processes  # kthreadd is PID 2, and HEX starts with 2
    with pytest.raises(AmbiguousRef, match=r"both host PID 2 and docker 2fffffffffff \(web\): write pid:2"):
        resolve_ref(tree, "2")
    assert resolve_ref(tree, "pid:2").process.pid == 2
    with pytest.raises(UsageError):
        resolve_ref(tree, "pid:x")
    with pytest.raises(NotFound, match="no process with PID 77"):
        resolve_ref(tree, "pid:77")
