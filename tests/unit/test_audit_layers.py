"""The audit layers on fixture hosts: a default Docker container as the baseline, then one change per test."""

from __future__ import annotations

import pytest

from ctrlens.audit.capabilities import DOCKER_DEFAULT, PODMAN_DEFAULT, mask_of, names
from tests.fixtures.audit.tree import HOST_BOUND, AuditTree, status
from tests.unit.audit_helpers import audit_tree, finding, ids

DEFAULT_FINDINGS = {
    "CTRL-USER-ROOT",
    "CTRL-LIMIT-MEMORY",
    "CTRL-LIMIT-PIDS",
    "CTRL-NNP-UNSET",
    "CTRL-ROOTFS-WRITABLE",
}


@pytest.fixture
def tree(tmp_path) -> AuditTree:
    return AuditTree(tmp_path)


def test_cap_table_decodes_the_runtime_defaults():
    assert names(0xA80425FB) == names(DOCKER_DEFAULT) and len(names(DOCKER_DEFAULT)) == 14
    assert f"{PODMAN_DEFAULT:x}" == "800405fb" and len(names(PODMAN_DEFAULT)) == 11
    assert names(1 << 40) == ["CHECKPOINT_RESTORE"] and names(1 << 21) == ["SYS_ADMIN"]
    assert len(names(0x1FFFFFFFFFF)) == 41
    assert mask_of("NET_RAW", "MKNOD", "AUDIT_WRITE") == DOCKER_DEFAULT & ~PODMAN_DEFAULT


def test_default_docker_container_gets_exactly_the_default_findings(tree):
    result = audit_tree(tree)
    assert ids(result) == DEFAULT_FINDINGS
    assert result.summary() == {
        "ns": "ok",
        "caps": "ok",
        "seccomp": "low",
        "lsm": "n/a",
        "user": "MED",
        "rootfs": "low",
        "mounts": "ok",
        "devices": "ok",
        "limits": "MED",
        "secrets": "skip",
    }
    assert "docker's default 14" in finding(result, "CTRL-CAP-RUNTIME-DEFAULT").title
    assert finding(result, "CTRL-USER-ROOT").evidence[0] == "/proc/4242/status: Uid: 0 0 0 0"


def test_privileged_means_the_host_bounding_set_not_all_41_caps(tree):
    tree.proc_file("status", status(eff=HOST_BOUND, seccomp=0))
    result = audit_tree(tree)
    priv = finding(result, "CTRL-CAP-PRIVILEGED")
    assert priv.severity == "high" and "/proc/1/status: CapBnd:\t" + HOST_BOUND in priv.evidence
    assert "CTRL-CAP-SYS-ADMIN" not in ids(result)  # folded into the privileged finding


def test_near_privileged_names_what_is_missing(tree):
    eff = f"{int(HOST_BOUND, 16) & ~mask_of('BPF', 'PERFMON', 'CHECKPOINT_RESTORE'):016x}"
    tree.proc_file("status", status(eff=eff))
    near = finding(audit_tree(tree), "CTRL-CAP-NEAR-PRIVILEGED")
    assert near.severity == "high" and "PERFMON, BPF, CHECKPOINT_RESTORE" in near.title


def test_added_dangerous_caps_are_named_each_with_its_severity(tree):
    eff = f"{DOCKER_DEFAULT | mask_of('SYS_ADMIN', 'NET_ADMIN'):016x}"
    tree.proc_file("status", status(eff=eff))
    result = audit_tree(tree)
    assert ids(result) == DEFAULT_FINDINGS | {"CTRL-CAP-SYS-ADMIN", "CTRL-CAP-NET-ADMIN"}
    assert finding(result, "CTRL-CAP-SYS-ADMIN").severity == "high"
    assert finding(result, "CTRL-CAP-NET-ADMIN").severity == "medium"
    assert finding(result, "CTRL-CAP-SYS-ADMIN").fix.docker == "docker run --cap-drop SYS_ADMIN"


def test_ambient_caps_are_a_finding(tree):
    tree.proc_file("status", status(uid=1000, eff="0000000000000400", amb="0000000000000400"))
    assert finding(audit_tree(tree), "CTRL-CAP-AMBIENT").title == "ambient capabilities: NET_BIND_SERVICE"


def test_user_namespace_root_is_remapped_and_its_caps_judged_one_step_lower(tree):
    tree.namespaces({"user": 4026532600})
    tree.proc_file("uid_map", "         0     100000      65536\n")
    tree.proc_file("status", status(uid=100000, eff="000001ffffffffff"))
    result = audit_tree(tree)
    assert "CTRL-USER-ROOT" not in ids(result) and "CTRL-NS-USER-HOST" not in ids(result, "info")
    assert finding(result, "CTRL-USER-REMAPPED").title == "root inside its user namespace = host uid 100000"
    priv = finding(result, "CTRL-CAP-PRIVILEGED")
    assert priv.severity == "medium" and "user namespace" in priv.title
    assert "/proc/4242/uid_map: 0 100000 65536" in priv.evidence


@pytest.mark.parametrize(("label_file", "label", "rule", "severity"), [
    ("attr/apparmor/current", "docker-default (enforce)\n", "CTRL-LSM-CONFINED", "good"),
    ("attr/apparmor/current", "unconfined\n", "CTRL-LSM-APPARMOR-UNCONFINED", "medium"),
    ("attr/current", "my-profile (complain)\n", "CTRL-LSM-APPARMOR-COMPLAIN", "low"),
    ("attr/current", "system_u:system_r:container_t:s0:c123,c456\0", "CTRL-LSM-CONFINED", "good"),
    ("attr/current", "system_u:system_r:spc_t:s0\0", "CTRL-LSM-SELINUX-UNCONFINED", "medium"),
])  # fmt: skip
def test_lsm_labels(tree, label_file, label, rule, severity):
    if "selinux" in rule.lower() or "container_t" in label:
        tree.file("/sys/fs/selinux/enforce", "1")
    else:
        tree.file("/sys/module/apparmor/parameters/enabled", "Y\n")
    tree.proc_file(label_file, label)
    result = audit_tree(tree)
    found = finding(result, rule)
    assert found.severity == severity
    assert found.evidence == [f"/proc/4242/{label_file}: {label.rstrip(chr(0) + chr(10))}"]
    assert "CTRL-LSM-NOT-AVAILABLE" not in ids(result, "good")


def test_no_lsm_on_the_host_is_not_a_finding(tree):
    result = audit_tree(tree)
    assert finding(result, "CTRL-LSM-NOT-AVAILABLE").severity == "info"
    assert result.layer_status("lsm") == "n/a"


def test_cgroup_v2_limits(tmp_path):
    tree = AuditTree(tmp_path, cgroup_v2=True)
    result = audit_tree(tree)
    assert {"CTRL-LIMIT-MEMORY", "CTRL-LIMIT-PIDS"} <= ids(result)
    assert finding(result, "CTRL-LIMIT-CPU").severity == "info"
    assert finding(result, "CTRL-LIMIT-MEMORY").evidence == [
        f"/sys/fs/cgroup{tree.cgroup_path}/memory.max: max"
    ]
    tree.limits(memory="67108864", pids="100", cpu="50000")
    result = audit_tree(tree)
    assert not ids(result) & {"CTRL-LIMIT-MEMORY", "CTRL-LIMIT-PIDS", "CTRL-LIMIT-CPU"}
    titles = {f.title for f in result.findings if f.id == "CTRL-LIMIT-SET"}
    assert titles == {"memory limit 64 MiB", "pids limit 100", "CPU limit 0.5 CPUs"}


def test_a_parent_cgroup_limit_counts(tmp_path):
    tree = AuditTree(tmp_path, cgroup_v2=True)
    tree.limits(memory="1073741824", on="/system.slice")
    result = audit_tree(tree)
    assert "CTRL-LIMIT-MEMORY" not in ids(result)
    assert "memory limit 1 GiB (set on /sys/fs/cgroup/system.slice)" in {f.title for f in result.findings}


def test_cgroup_v2_devices_are_an_ebpf_program(tmp_path):
    result = audit_tree(AuditTree(tmp_path, cgroup_v2=True))
    dev = finding(result, "CTRL-DEV-EBPF")
    assert "eBPF" in dev.title and result.layer_status("devices") == "ok"


def test_devices_v1_all_and_extra(tree):
    tree.devices("a *:* rwm\n")
    assert finding(audit_tree(tree), "CTRL-DEV-ALL").severity == "high"
    tree.devices("c 1:3 rwm\nb 8:0 rwm\nc 1:1 rwm\n")
    extra = finding(audit_tree(tree), "CTRL-DEV-EXTRA")
    assert "b 8:0 rwm (sd* disks)" in extra.title and "c 1:1 rwm (mem)" in extra.title


def test_unmasked_and_writable_proc_paths(tree):
    lines = [
        ln
        for ln in tree.root.joinpath("proc/4242/mountinfo").read_text().splitlines()
        if " /proc/" not in ln and " /sys/firmware " not in ln
    ]
    tree.proc_file("mountinfo", "\n".join(lines) + "\n")
    result = audit_tree(tree)
    assert (
        finding(result, "CTRL-PROC-UNMASKED").title
        == "no masked paths: /proc/acpi, /proc/keys, /proc/timer_list, /sys/firmware"
    )
    assert (
        finding(result, "CTRL-PROC-WRITABLE").title == "writable: /proc/bus, /proc/fs, /proc/irq, /proc/sys"
    )


def test_seccomp_off_in_one_exec_process_only(tree):
    from tests.fixtures.proctree import FakeProcess

    cgroup = tree.root.joinpath("proc/4242/cgroup").read_text()
    tree.add(
        FakeProcess(4300, 4242, "sh", ["sh"], cgroup, pid_ns=4026532180, mnt_ns=4026532177, nspid=[4300, 7])
    )
    tree.file("/proc/4300/status", status(seccomp=0, nspid="4300\t7"))
    seccomp = finding(audit_tree(tree), "CTRL-SECCOMP-DISABLED")
    assert seccomp.title == "seccomp disabled (process 4300)" and seccomp.pid == 4300


def test_unreadable_namespaces_are_unknown_not_ok(tree):
    for link in (tree.root / "proc/4242/ns").iterdir():
        link.unlink()  # what a non-root reader gets: EACCES on every ns link
    result = audit_tree(tree)
    assert result.layer_status("ns") == "?"
    assert result.errors == ["ns: /proc/4242/ns unreadable"]
