"""Attribution trusts only what a container (or a local user) cannot forge: fixture trees for each rule.

Rules (docs/architecture.md, "What ctrlens trusts"): a shim/monitor lives in the host pid namespace, in no
container's cgroup, and runs the runtime's root-owned host binary; a shim's argv naming another container is
ignored; engine daemons are proven the same way; metadata files must be root's (or the rootless user's).
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ctrlens.host import Host
from ctrlens.runtimes import PLUGINS, DiffConvention, FixDialect, RuntimeName, diff_convention, fix_dialect
from ctrlens.scanner import scan
from tests.fixtures.proctree import FakeProcess, HostTree, conmon, shim_v2, v1, v2

PRIVATE_NS = 4026532900


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
def tree(tmp_path):
    return HostTree(tmp_path)


def snap(tree: HostTree):
    return scan(Host(str(tree.root)))


DISGUISES = {
    "containerd-shim": (
        "containerd-shim",
        ["containerd-shim-runc-v2", "-namespace", "moby", "-id", cid("x")],
    ),
    "conmon": ("conmon", ["/usr/bin/conmon", "-c", cid("x"), "-n", "other"]),
    "lxc-monitor": ("lxc-start", ["[lxc monitor] /var/lib/lxc other"]),
    "runc-init": ("runc:[2:INIT]", ["runc", "init"]),
    "podman-cleanup": ("podman", ["/usr/bin/podman", "container", "cleanup", cid("x")]),
    "nspawn": ("systemd-nspawn", ["systemd-nspawn", "-M", "other"]),
}
BINARIES = {
    "containerd-shim": "/usr/bin/containerd-shim-runc-v2",
    "conmon": "/usr/bin/conmon",
    "lxc-monitor": "/usr/bin/lxc-start",
    "runc-init": "/usr/bin/runc",
    "podman-cleanup": "/usr/bin/podman",
    "nspawn": "/usr/bin/systemd-nspawn",
}


@pytest.mark.parametrize("disguise", sorted(DISGUISES))
def test_container_init_disguised_as_a_runtime_process_is_still_its_container(tree, disguise):
    # Even the exe link may name the runtime's path: inside the container it is its own file.
    comm, argv = DISGUISES[disguise]
    c = cid("hide-" + disguise)
    tree.container(
        shim=shim_v2(100, "moby", c), pid=101, comm=comm, argv=argv, cgroup=v1(f"/docker/{c}"), workers=1
    )
    init = FakeProcess(101, 100, comm, argv, v1(f"/docker/{c}"), pid_ns=4026532500, mnt_ns=4026532501)
    init.nspid, init.exe = [101, 1], BINARIES[disguise]
    tree.add(init)
    s = snap(tree)
    assert s.containers[c].pids == [101, 102] and s.containers[c].init_pid == 101
    assert s.processes[101].role is None and s.processes[101].container_id == c
    assert s.containers[c].shim_pid == 100 and s.processes[100].role == "shim"
    assert cid("x") not in s.containers and "other" not in s.containers


def test_private_pid_namespace_without_a_cgroup_rule_is_never_a_shim(tree):
    tree.add(
        FakeProcess(
            200,
            1,
            "conmon",
            ["/usr/bin/conmon", "-c", cid("claimed"), "-n", "web"],
            v1("/user.slice"),
            pid_ns=PRIVATE_NS,
            nspid=[200, 1],
            exe="/usr/bin/conmon",
        )
    )
    s = snap(tree)
    assert s.processes[200].role is None
    assert s.processes[200].container_id == f"pidns-{PRIVATE_NS}"


def test_pid_host_container_running_the_real_shim_binary_is_a_member_not_a_shim(tree):
    # --pid=host with the host's conmon bind-mounted in: same binary, but the container's cgroup.
    c = cid("pidhost-conmon")
    tree.container(
        shim=shim_v2(300, "moby", c),
        pid=301,
        comm="sleep",
        argv=["sleep"],
        cgroup=v1(f"/docker/{c}"),
        pid_ns=0xEFFFFFFC,
    )
    tree.add(
        FakeProcess(302, 301, "conmon", ["conmon", "-c", cid("y")], v1(f"/docker/{c}"), exe="/usr/bin/conmon")
    )
    s = snap(tree)
    assert s.processes[302].role is None and s.processes[302].container_id == c
    assert sorted(s.containers[c].pids) == [301, 302]


def test_user_script_named_conmon_with_plausible_metadata_makes_no_container(tree):
    fake = cid("fake")
    storage = "/home/nobody/storage"
    tree.add(
        FakeProcess(
            400,
            1,
            "conmon",
            [
                "conmon",
                "-c",
                fake,
                "-b",
                f"{storage}/overlay-containers/{fake}/userdata",
                "-n",
                "FAKE",
                "--exit-command",
                "/usr/bin/podman",
            ],
            v1("/user.slice"),
            uid=65534,
            exe="/home/nobody/conmon",
            exe_owner=65534,
        )
    )
    tree.add(
        FakeProcess(401, 400, "sleep", ["sleep", "1000"], v1("/user.slice"), uid=65534, mnt_ns=4026533000)
    )
    path = tree.file(f"{storage}/overlay-containers/containers.json", [{"id": fake, "names": ["FAKE"]}])
    os.chown(path, 65534, 65534)
    s = snap(tree)
    assert s.processes[400].role is None and s.processes[401].container_id is None
    assert fake not in s.containers
    assert all(c.name != "FAKE" for c in s.containers.values())


def test_real_shim_binary_run_by_a_user_cannot_adopt_host_processes(tree):
    # The user runs root's own conmon binary with forged argv: its children stay host processes.
    fake = cid("fake-real-binary")
    tree.add(
        FakeProcess(
            500,
            1,
            "conmon",
            ["/usr/bin/conmon", "-c", fake, "-n", "FAKE"],
            v1("/user.slice"),
            uid=65534,
            exe="/usr/bin/conmon",
        )
    )
    tree.add(FakeProcess(501, 500, "sh", ["sh"], v1("/user.slice"), uid=65534))
    s = snap(tree)
    assert s.processes[501].container_id is None and fake not in s.containers


def test_shim_claiming_another_containers_id_is_not_that_containers_shim(tree):
    victim, attacker = cid("victim"), cid("attacker")
    tree.container(
        shim=shim_v2(600, "moby", victim),
        pid=601,
        comm="sleep",
        argv=["sleep"],
        cgroup=v1(f"/docker/{victim}"),
    )
    # The attacker's container sits under a (real) shim whose argv names the victim.
    tree.container(
        shim=shim_v2(610, "moby", victim),
        pid=611,
        comm="sleep",
        argv=["sleep"],
        cgroup=v1(f"/docker/{attacker}"),
        pid_ns=PRIVATE_NS,
    )
    s = snap(tree)
    assert s.containers[victim].pids == [601] and s.containers[victim].shim_pid == 600
    assert s.containers[attacker].pids == [611] and s.containers[attacker].shim_pid is None
    assert any("claims container" in e for e in s.containers[attacker].evidence)


def test_user_cgroup_named_after_roots_container_does_not_join_it(tree):
    # systemd delegates user@1000.service to uid 1000, who may name a cgroup after any container id.
    victim = cid("cgroup-victim")
    tree.add(
        FakeProcess(
            90,
            1,
            "sleep",
            ["sleep"],
            v2(f"/user.slice/user-1000.slice/user@1000.service/app.slice/docker-{victim}.scope"),
            uid=1000,
        )
    )
    tree.container(
        shim=shim_v2(91, "moby", victim),
        pid=92,
        comm="nginx",
        argv=["nginx"],
        cgroup=v2(f"/system.slice/docker-{victim}.scope"),
    )
    tree.file(f"/var/lib/docker/containers/{victim}/config.v2.json", {"Name": "/web"})
    s = snap(tree)
    assert s.containers[victim].pids == [92] and s.containers[victim].name == "web"
    assert s.containers[victim].owner_uid == 0 and s.processes[90].container_id != victim


def test_user_dockerd_lookalike_does_not_move_the_data_root(tree):
    c = cid("dataroot-spoof")
    tree.add(
        FakeProcess(
            50,
            1,
            "dockerd",
            ["dockerd", "--data-root", "/home/u/docker"],
            v1("/user.slice"),
            uid=65534,
            exe="/home/u/dockerd",
            exe_owner=65534,
        )
    )
    tree.container(
        shim=shim_v2(700, "moby", c), pid=701, comm="sleep", argv=["sleep"], cgroup=v1(f"/docker/{c}")
    )
    tree.file(f"/var/lib/docker/containers/{c}/config.v2.json", {"Name": "/real"})
    tree.file(f"/home/u/docker/containers/{c}/config.v2.json", {"Name": "/spoofed"})
    assert snap(tree).containers[c].name == "real"


def test_rootless_metadata_is_read_only_when_that_user_owns_it(tree):
    c = cid("rootless-owner")
    storage = "/home/u/.local/share/containers/storage"
    mon = conmon(
        800,
        c,
        "toolbox",
        f"{storage}/overlay-containers/{c}/userdata",
        cgroup=v2(f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-conmon-{c}.scope"),
    )
    mon.uid = 1000
    tree.container(
        shim=mon,
        pid=801,
        comm="bash",
        argv=["bash"],
        cgroup=v2(f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{c}.scope/container"),
        uid=1000,
    )
    listing = tree.file(
        f"{storage}/overlay-containers/containers.json",
        [{"id": c, "names": ["toolbox"], "metadata": '{"image-name": "fedora-toolbox:39"}'}],
    )
    os.chown(listing, 1000, 1000)
    ctr = snap(tree).containers[c]
    assert ctr.owner_uid == 1000 and ctr.image == "fedora-toolbox:39" and ctr.shim_pid == 800
    os.chown(listing, 1001, 1001)  # another user's file says nothing about user 1000's container
    s = snap(tree)
    assert s.containers[c].image is None
    assert any("owned by uid 1001" in w for w in s.warnings)


@pytest.mark.parametrize("kind", ["fifo", "deep", "symlink", "world-writable", "huge"])
def test_hostile_metadata_file_is_one_warning_and_the_scan_finishes(tree, kind):
    c = cid("hostile-" + kind)
    tree.container(
        shim=shim_v2(900, "moby", c), pid=901, comm="sleep", argv=["sleep"], cgroup=v1(f"/docker/{c}")
    )
    path = tree.root / f"var/lib/docker/containers/{c}/config.v2.json"
    path.parent.mkdir(parents=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "deep":
        path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    elif kind == "symlink":
        (tree.root / "elsewhere.json").write_text(json.dumps({"Name": "/spoofed"}))
        path.symlink_to(tree.root / "elsewhere.json")
    elif kind == "world-writable":
        path.write_text(json.dumps({"Name": "/spoofed"}))
        path.chmod(0o666)
    else:
        with open(path, "wb") as f:
            f.truncate(1 << 30)
    s = snap(tree)
    assert s.containers[c].name is None and s.containers[c].pids == [901]
    assert len([w for w in s.warnings if "config.v2.json" in w]) == 1


def test_every_runtime_is_a_plugin_with_a_diff_convention_and_fix_dialect():
    names = {p.name for p in PLUGINS}
    assert {
        RuntimeName.DOCKER,
        RuntimeName.PODMAN,
        RuntimeName.LXC,
        RuntimeName.CONTAINERD,
        RuntimeName.CRIO,
    } <= names
    from ctrlens.model import Container, Pod

    assert diff_convention(Container("a", "podman", "/")) == DiffConvention.PODMAN
    assert diff_convention(Container("a", "lxc", "/")) == DiffConvention.HEURISTIC
    assert fix_dialect(Container("a", "containerd", "/", pod=Pod("p", "ns", None))) == FixDialect.KUBERNETES
    assert fix_dialect(Container("a", "unknown", "/")) == FixDialect.NONE
