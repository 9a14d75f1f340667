"""The testbed itself: every engine starts a container whose init is a live host process, and `down` leaves no
process, mount, cgroup or directory behind, also after the engines crashed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testbed import KUBE_NAMESPACE, Started, Testbed, TestbedError, _host, down, unique_name

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def cgroup(pid: int) -> str:
    """The process's cgroup path in the memory hierarchy (cgroup v1 here)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path
    raise AssertionError(f"pid {pid} has no memory cgroup")


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def removed(testbed: Testbed, started: Started) -> None:
    testbed.remove(started)
    assert not alive(started.pid)


def test_docker_container_runs_as_host_process(testbed: Testbed) -> None:
    c = testbed.run_docker(unique_name("tb-docker"))
    try:
        assert alive(c.pid)
        assert cmdline(c.pid) == ["sleep", "1000000"]
        assert cgroup(c.pid) == f"/docker/{c.id}"
        assert (c.runtime, len(c.id)) == ("docker", 64)
    finally:
        removed(testbed, c)


def test_podman_container_runs_with_runc_and_cgroupfs(testbed: Testbed) -> None:
    c = testbed.run_podman(unique_name("tb-podman"))
    try:
        assert alive(c.pid)
        assert cgroup(c.pid) == f"/libpod_parent/libpod-{c.id}"
        parent = Path(f"/proc/{c.pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
        assert comm(int(parent)) == "conmon"
    finally:
        removed(testbed, c)


def test_ctr_container_runs_in_its_namespace(testbed: Testbed) -> None:
    c = testbed.run_ctr(unique_name("tb-ctr"))
    try:
        assert alive(c.pid)
        assert c.namespace == "ctrlens-test"
        assert cgroup(c.pid) == f"/ctrlens-test/{c.id}"
    finally:
        removed(testbed, c)


def test_kube_style_container_has_pod_cgroup_and_cri_annotations(testbed: Testbed) -> None:
    c = testbed.run_kube_style("web-7d4b9", "shop", "nginx", qos="besteffort")
    try:
        assert alive(c.pid)
        assert c.pod is not None and c.namespace == KUBE_NAMESPACE
        assert cgroup(c.pid) == f"/kubepods/besteffort/pod{c.pod.uid}/{c.id}"
        bundle = testbed.paths.containerd_state / "io.containerd.runtime.v2.task" / KUBE_NAMESPACE / c.id
        annotations = json.loads((bundle / "config.json").read_text())["annotations"]
        assert annotations["io.kubernetes.cri.container-type"] == "container"
        assert annotations["io.kubernetes.cri.container-name"] == "nginx"
        assert annotations["io.kubernetes.cri.sandbox-name"] == "web-7d4b9"
        assert annotations["io.kubernetes.cri.sandbox-namespace"] == "shop"
        assert annotations["io.kubernetes.cri.sandbox-uid"] == c.pod.uid
        assert annotations["io.kubernetes.cri.sandbox-id"] == c.pod.sandbox_id
        assert annotations["io.kubernetes.cri.image-name"] == "docker.io/library/ctrlens-bb:1"
    finally:
        removed(testbed, c)
    assert not list(
        Path("/sys/fs/cgroup/memory/kubepods").glob(f"*/pod{c.pod.uid}")
    )  # pod cgroup removed too


def test_guaranteed_pod_sits_right_under_kubepods(testbed: Testbed) -> None:
    c = testbed.run_kube_style("db-0", "shop", "postgres", qos="guaranteed")
    try:
        assert c.pod is not None
        assert cgroup(c.pid) == f"/kubepods/pod{c.pod.uid}/{c.id}"
    finally:
        removed(testbed, c)


def test_lxc_container_runs_busybox_init_or_a_command(testbed: Testbed) -> None:
    system = testbed.run_lxc(unique_name("tb-lxc"))
    app = testbed.run_lxc(unique_name("tb-lxc"), cmd=("sleep", "1000000"))
    try:
        assert alive(system.pid) and alive(app.pid)
        assert comm(system.pid) == "init"
        assert cmdline(app.pid) == ["sleep", "1000000"]
        assert cgroup(app.pid) == f"/lxc.payload.{app.name}"
        assert b"container=lxc" in Path(f"/proc/{app.pid}/environ").read_bytes().split(b"\0")
    finally:
        removed(testbed, system)
        removed(testbed, app)


def test_image_nginx_is_a_master_with_two_workers_called_nginx(testbed: Testbed) -> None:
    c = testbed.run_docker(
        unique_name("tb-nginx"), "-e", "TOP_SECRET=API_KEY", cmd=("/usr/sbin/nginx", "-p", "80")
    )
    try:
        assert comm(c.pid) == "nginx"
        assert _host.wait_for(lambda: len(children(c.pid)) == 2, 5)
        assert all(comm(w) == "nginx" for w in children(c.pid))
        assert b"TOP_SECRET=API_KEY" in Path(f"/proc/{c.pid}/environ").read_bytes().split(b"\0")
    finally:
        removed(testbed, c)


def test_remove_is_idempotent(testbed: Testbed) -> None:
    c = testbed.run_docker(unique_name("tb-twice"))
    testbed.remove(c)
    testbed.remove(c)
    with pytest.raises(TestbedError, match="no-such-image"):
        testbed.run_docker(unique_name("tb-bad"), image="no-such-image:0")


@pytest.mark.parametrize("kind", ["docker", "podman", "ctr", "lxc"])
def test_a_container_that_exits_at_once_is_a_clear_error(testbed: Testbed, kind: str) -> None:
    name = unique_name("tb-exit")
    run = {
        "docker": testbed.run_docker,
        "podman": testbed.run_podman,
        "ctr": testbed.run_ctr,
        "lxc": lambda n, cmd: testbed.run_lxc(n, cmd=cmd),
    }[kind]
    try:
        with pytest.raises(TestbedError, match=f"{name} (exited at once|has no running init)"):
            run(name, cmd=("sh", "-c", "echo bye-from-$0 >&2; exit 3"))
    finally:
        testbed.remove(Started({"ctr": "containerd"}.get(kind, kind), name, name, 0))


def _cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "testbed", "--state-dir", str(state_dir), *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _assert_nothing_left(state_dir: Path, pids: list[int], cgroups: list[str]) -> None:
    assert _host.processes_of(str(state_dir)) == []
    assert [p for p in pids if alive(p)] == []
    assert _host.mounts_under(str(state_dir)) == []
    assert not state_dir.exists()
    assert [cg for cg in cgroups if Path(f"/sys/fs/cgroup/memory{cg}").exists()] == []


def _start_one_of_each(tb: Testbed) -> list[Started]:
    return [
        tb.run_docker("tb-d"),
        tb.run_podman("tb-p"),
        tb.run_ctr("tb-c"),
        tb.run_kube_style("pod", "ns", "k"),
        tb.run_lxc("tb-l", cmd=("sleep", "1000000")),
        tb.run_lxc("tb-init"),
    ]


def test_down_after_a_crash_leaves_nothing_behind() -> None:
    """Own state dir (the session's testbed is not touched): engines and shims are SIGKILLed with containers
    running, then `python -m testbed down` must still find and remove everything."""
    state_dir = Path(f"/tmp/ctrlens-tb-crash-{os.getpid()}")
    try:
        res = _cli(state_dir, "up")
        assert res.returncode == 0, res.stderr
        assert _cli(state_dir, "up").returncode == 0  # idempotent: the second one attaches
        assert _cli(state_dir, "status").returncode == 0
        tb = Testbed.load(state_dir)
        started = _start_one_of_each(tb)
        pods = [tb.run_cri_pod("crash-pod", "ns"), tb.run_dockershim_pod("crash-dpod", "ns")]
        pids = [s.pid for s in started] + [
            p for pod in pods for p in (pod.sandbox_pid, *(c.pid for c in pod.containers))
        ]
        cgroups = [cgroup(p) for p in pids]
        bridge = tb.state["containerd"]["cri"]["bridge"]
        assert pods[0].netns and os.path.exists(pods[0].netns) and Path(f"/sys/class/net/{bridge}").exists()
        engines = [tb.state["docker"]["pid"], tb.state["containerd"]["pid"]]
        shims = [
            p
            for p in _host.processes_of(str(state_dir))
            if comm(p) in ("containerd-shim", "conmon", "lxc-start")
        ]
        _host.signal_all(engines + shims, signal.SIGKILL)
        assert _host.wait_for(lambda: not any(alive(p) for p in engines + shims), 10)
        assert all(alive(s.pid) for s in started if s.runtime != "lxc")  # orphans keep running (LXC's die)

        res = _cli(state_dir, "down")
        assert res.returncode == 0, res.stderr
        _assert_nothing_left(state_dir, pids, cgroups)
        # what StopPodSandbox would have removed: the pod's pinned netns, and the testbed's CNI bridge
        assert not os.path.exists(pods[0].netns) and not Path(f"/sys/class/net/{bridge}").exists()
        assert _cli(state_dir, "status").returncode == 1
    finally:
        if state_dir.exists():
            down(state_dir)


def test_down_through_the_api_after_a_normal_session() -> None:
    state_dir = Path(f"/tmp/ctrlens-tb-down-{os.getpid()}")
    try:
        tb = Testbed.up(state_dir)
        assert not tb.reused and Testbed.up(state_dir).reused
        started = _start_one_of_each(tb)
        pids, cgroups = [s.pid for s in started], [cgroup(s.pid) for s in started]
        pids += tb.state["docker"]["pid"], tb.state["containerd"]["pid"]
        tb.down()
        _assert_nothing_left(state_dir, pids, cgroups)
    finally:
        if state_dir.exists():
            down(state_dir)
