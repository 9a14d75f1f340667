"""`ctrlens ps` and `ctrlens containers` against real engines: every process of every container attributed to the
right container ID, name and runtime; no host process attributed to a container.

Ground truth comes from a different signal than ctrlens's cgroup rules: the set of host processes that share the
container init's PID namespace (read here straight from /proc/PID/ns/pid), and the engines' own CLIs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.integration

WORKERS = ("sh", "-c", "sleep 1000000 & sleep 1000000 & exec sleep 1000000")


def ctrlens(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run([exe, *args], capture_output=True, text=True, check=check, timeout=60)


def ctrlens_json(*args: str):
    return json.loads(ctrlens(*args, "-o", "json").stdout)


def pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def same_pid_ns(pid: int) -> set[int]:
    target = pid_ns(pid)
    return {int(p) for p in os.listdir("/proc") if p.isdigit() and pid_ns(int(p)) == target}


SUFFIX = f"{os.getpid() % 100000}"
NAMES = {kind: f"scan-{kind}-{SUFFIX}" for kind in ("docker", "podman", "ctr", "lxc", "pod")}


@pytest.fixture(scope="module")
def fleet(testbed):
    """One container of each kind the testbed can run, with worker processes where the image allows."""
    starters = {
        "docker": lambda: testbed.run_docker(NAMES["docker"], cmd=WORKERS),
        "podman": lambda: testbed.run_podman(NAMES["podman"], cmd=WORKERS),
        "ctr": lambda: testbed.run_ctr(NAMES["ctr"], namespace="scan-ns", cmd=WORKERS),
        "kube": lambda: testbed.run_kube_style(NAMES["pod"], "scan-space", "scan-app", qos="burstable"),
        "lxc": lambda: testbed.run_lxc(NAMES["lxc"]),
    }
    started = {}
    try:
        for kind, start in starters.items():
            started[kind] = start()
        time.sleep(0.5)  # let the workers fork
        yield started
    finally:
        for s in started.values():
            testbed.remove(s)


def test_ps_attributes_every_process_of_every_runtime_to_the_right_container(fleet):
    procs = {p["pid"]: p for p in ctrlens_json("ps")}
    expected = {
        "docker": ("docker", NAMES["docker"]),
        "podman": ("podman", NAMES["podman"]),
        "ctr": ("containerd", None),
        "kube": ("containerd", f"{NAMES['pod']}/scan-app"),
        "lxc": ("lxc", NAMES["lxc"]),
    }
    for kind, s in fleet.items():
        members = same_pid_ns(s.pid)
        assert len(members) >= 1, kind
        runtime, name = expected[kind]
        for pid in members:
            if pid not in procs:
                continue  # exited between the two reads
            container = procs[pid]["container"]
            assert container is not None, f"{kind}: pid {pid} not attributed"
            assert container["id"] == s.id, f"{kind}: pid {pid} attributed to {container['id']}"
            assert container["runtime"] == runtime, kind
            if name:
                assert container["name"] == name, kind
        attributed = {pid for pid, p in procs.items() if p["container"] and p["container"]["id"] == s.id}
        assert attributed <= members, f"{kind}: processes outside its pid namespace attributed to it"
    assert len(same_pid_ns(fleet["docker"].pid)) >= 3  # the workers really ran


def test_kubernetes_style_container_carries_pod_name_namespace_and_qos(fleet):
    containers = {c["id"]: c for c in ctrlens_json("containers")}
    kube = containers[fleet["kube"].id]
    assert (kube["pod"], kube["namespace"], kube["kube_container"]) == (
        NAMES["pod"],
        "scan-space",
        "scan-app",
    )
    assert kube["pod_info"]["qos"] == "burstable"
    assert kube["engine_namespace"] == "k8s.io"


def test_ctr_container_in_its_own_namespace(fleet):
    containers = {c["id"]: c for c in ctrlens_json("containers")}
    ctr = containers[fleet["ctr"].id]
    assert ctr["runtime"] == "containerd" and ctr["engine_namespace"] == "scan-ns"


def test_no_host_process_is_attributed_to_a_container(fleet, testbed):
    procs = {p["pid"]: p for p in ctrlens_json("ps")}
    # Processes that are the host's by construction: this test, its ancestors, the engines' daemons.
    host_pids = {os.getpid()}
    pid = os.getppid()
    while pid > 1:
        host_pids.add(pid)
        with open(f"/proc/{pid}/stat") as f:
            pid = int(f.read().rsplit(")", 1)[1].split()[1])
    host_pids |= {p for p, rec in procs.items() if rec["comm"] in ("dockerd", "containerd")}
    for pid in host_pids & procs.keys():
        assert procs[pid]["container"] is None, procs[pid]["command"]
    # A process in the host pid namespace may be attributed only to a running container (e.g. --pid=host).
    host_ns = os.readlink("/proc/self/ns/pid")
    running = testbed.running_ids()
    # Another testbed (or engine) on the same machine may run --pid=host containers: judge only ours.
    root = str(testbed.state_dir) + "/"
    foreign = {
        c["id"]
        for c in ctrlens_json("containers")
        if c["metadata_files"]
        and not any(p.startswith(root) for p in [*c["metadata_files"], c["bundle"] or ""])
    }
    for pid, rec in procs.items():
        ctr = rec["container"]
        if ctr and ctr["runtime"] != "unknown" and ctr["id"] not in foreign and pid_ns(pid) == host_ns:
            assert ctr["id"] in running or ctr["name"] in running, rec


def test_pid_host_container_is_still_a_container(testbed):
    s = testbed.run_docker(f"scan-pidhost-{SUFFIX}", "--pid=host")
    try:
        assert pid_ns(s.pid) == os.readlink("/proc/self/ns/pid")
        rec = {p["pid"]: p for p in ctrlens_json("ps")}[s.pid]
        assert rec["container"]["id"] == s.id and rec["pid_in_container"] is None
    finally:
        testbed.remove(s)


def test_containers_lists_exactly_the_running_containers_with_names(fleet, testbed):
    before = testbed.running_ids()
    listed = {c["id"]: c for c in ctrlens_json("containers")}
    after = testbed.running_ids()
    # Another testbed may run on the same machine: count the containers whose engine files live in ours.
    root = str(testbed.state_dir) + "/"
    known = {
        cid
        for cid, c in listed.items()
        if any(path.startswith(root) for path in [*c["metadata_files"], c["bundle"] or ""])
    }
    assert before & after <= known <= before | after
    for kind, s in fleet.items():
        assert s.id in listed, kind
    assert listed[fleet["docker"].id]["name"] == NAMES["docker"]
    assert listed[fleet["docker"].id]["image"] == "ctrlens-bb:1"
    assert listed[fleet["podman"].id]["image"] == "localhost/ctrlens-bb:1"


def test_shims_are_marked_and_parent_their_containers(fleet):
    procs = {p["pid"]: p for p in ctrlens_json("ps")}
    containers = {c["id"]: c for c in ctrlens_json("containers")}
    for kind in ("docker", "podman", "ctr", "kube", "lxc"):
        c = containers[fleet[kind].id]
        shim = procs[c["shim_pid"]]
        assert shim["role"] == "shim" and shim["container"] is None, kind
        assert fleet[kind].id in shim["shim_of"], kind
    exe = shutil.which("ctrlens") or "ctrlens"
    forest = subprocess.run(
        [exe, "ps", "--forest"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "COLUMNS": "200"},
    ).stdout
    assert f"shim: {NAMES['docker']}" in forest and "containerd-shim-runc-v2" in forest
    assert "conmon" in forest and "[lxc monitor]" in forest


def test_private_pid_namespace_without_a_runtime_is_unknown_not_host():
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "sleep", "1000"])
    child = None
    try:
        deadline = time.time() + 5
        while time.time() < deadline and child is None:
            kids = subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True, check=False
            ).stdout.split()
            child = int(kids[0]) if kids else None
            time.sleep(0.05)
        assert child is not None
        rec = {p["pid"]: p for p in ctrlens_json("ps")}[child]
        assert rec["container"]["runtime"] == "unknown"
        assert rec["container"]["id"].startswith("pidns-")
        assert rec["pid_in_container"] == 1
    finally:
        if child is not None:
            subprocess.run(["kill", "-9", str(child)], check=False)
        proc.kill()
        proc.wait()


def test_host_nginx_and_container_nginx_told_apart(testbed):
    web = testbed.run_docker(f"scan-nginx-{SUFFIX}", cmd=("/usr/sbin/nginx", "-p", "80"))
    host = subprocess.Popen([str(testbed.nginx_binary), "-p", "18081"])
    try:
        time.sleep(0.5)
        rows = ctrlens_json("ps", "-C", "nginx")
        mine = [r for r in rows if r["pid"] == host.pid]
        theirs = [r for r in rows if r["container"] and r["container"]["id"] == web.id]
        assert mine and mine[0]["container"] is None
        assert theirs and all(r["container"]["name"] == f"scan-nginx-{SUFFIX}" for r in theirs)
        table = ctrlens("ps", "-C", "nginx").stdout.splitlines()
        assert any(line.split()[0] == str(host.pid) and " - " in line for line in table)
        assert any(f"scan-nginx-{SUFFIX}" in line for line in table)
    finally:
        host.kill()
        host.wait()
        testbed.remove(web)


def test_processes_exiting_during_the_scan_are_never_an_error(testbed):
    churn = testbed.run_docker(
        f"scan-churn-{SUFFIX}", cmd=("sh", "-c", "while true; do sleep 0.001 & true; done")
    )
    host_churn = subprocess.Popen(
        [sys.executable, "-c", "import subprocess\nwhile True: subprocess.Popen(['true']).wait()"]
    )
    try:
        from ctrlens import scan

        for _ in range(30):
            snap = scan()
            assert churn.id in snap.containers
            for c in snap.containers.values():
                assert all(pid in snap.processes for pid in c.pids)
        for _ in range(5):
            ctrlens("ps", "-o", "json")
            ctrlens("ps", "--forest")
    finally:
        host_churn.kill()
        host_churn.wait()
        testbed.remove(churn)


def test_tables_fit_80_columns(fleet):
    env = {**os.environ, "COLUMNS": "80"}
    exe = shutil.which("ctrlens") or "ctrlens"
    for args in (["ps"], ["containers"], ["ps", "--forest"]):
        out = subprocess.run([exe, *args], capture_output=True, text=True, env=env, check=True).stdout
        for line in out.splitlines():
            assert len(line) <= 80, (args, line)


def test_inspect_shows_namespaces_rootfs_and_metadata(fleet):
    rec = ctrlens_json("inspect", NAMES["docker"])
    assert rec["container"]["id"] == fleet["docker"].id
    shared = {ns["type"]: ns["shared_with_host"] for ns in rec["namespaces"]}
    assert shared["pid"] is False and shared["net"] is False and shared["mnt"] is False
    assert rec["rootfs"]["fstype"] == "overlay" and rec["rootfs"]["upperdir"].endswith("/diff")
    assert rec["user_namespace"]["remapped"] is False
    by_pid = ctrlens_json("inspect", str(fleet["docker"].pid))
    assert by_pid["kind"] == "process" and by_pid["container"]["id"] == fleet["docker"].id


def test_unknown_and_gone_refs_are_one_line_errors(fleet):
    r = ctrlens("inspect", "no-such-container", check=False)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    r = ctrlens("--host-root", "/tmp", "ps", check=False)
    assert r.returncode == 2 and "host root" in r.stderr
