"""`ctrlens pods`, `ps`, `containers` and `audit` on REAL Kubernetes pods, with no kubelet: pods made by
containerd's own CRI plugin (driven over the CRI gRPC API as a kubelet drives it, testbed/cri) and
cri-dockerd-style pods on Docker.

Ground truth is the runtime's own answer, never ctrlens: for CRI pods PodSandboxStatus (metadata, namespace
options, the sandbox pid), ListContainers (the pod's containers) and ContainerStatus (each container's pid);
for cri-dockerd-style pods `docker inspect`. A container's processes are its init (as the runtime reports
it) and that process's descendants, read from /proc/PID/stat, not from cgroups.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SUFFIX = f"{os.getpid() % 100000}"
FIXTURE = Path(__file__).parents[1] / "fixtures/cri/containerd-1.6-cri-config.json"
NODE = 2  # runtime.v1 NamespaceMode


def ctrlens(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    # errors="replace": other processes on a shared host may carry any bytes in their names
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, errors="replace", check=check, timeout=60
    )


def ctrlens_json(*args: str):
    return json.loads(ctrlens(*args, "-o", "json").stdout)


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it, from the ppid field of /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo.extend(children.get(p, []))
    return found


SPECS = {
    # key: (starter, namespace, qos, host_network, host_pid)
    "web": ("cri", "shop", "burstable", False, False),
    "db": ("cri", "shop", "guaranteed", False, False),
    "hostnet": ("cri", "kube-system", "besteffort", True, False),
    "hostpid": ("cri", "monitoring", "besteffort", False, True),
    "legacy": ("docker", "shop", "burstable", False, False),
    "legacy-host": ("docker", "kube-system", "besteffort", True, True),
}


@pytest.fixture(scope="module")
def pods(testbed):
    """Four pods from containerd's CRI plugin and two cri-dockerd-style pods, each with two containers."""
    if "cri" not in testbed.state.get("containerd", {}):
        reason = "this testbed was started before it enabled containerd's CRI plugin: restart it"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    made = {}
    try:
        for key, (starter, ns, qos, hostnet, hostpid) in SPECS.items():
            run = testbed.run_cri_pod if starter == "cri" else testbed.run_dockershim_pod
            made[key] = run(f"{key}-{SUFFIX}", ns, qos, host_network=hostnet, host_pid=hostpid)
        yield made
    finally:
        for pod in made.values():
            testbed.remove_pod(pod)


@pytest.fixture(scope="module")
def cri_truth(testbed, pods):
    """What the CRI itself says of each CRI pod: PodSandboxStatus (+ verbose info), ListContainers and each
    container's ContainerStatus (+ verbose info)."""
    truth = {}
    with testbed.cri_client() as cri:
        for key, pod in pods.items():
            if pod.runtime != "containerd-cri":
                continue
            status = cri.pod_sandbox_status(pod.sandbox_id)
            containers = cri.list_containers(pod.sandbox_id)
            truth[key] = {
                "status": status.status,
                "info": json.loads(status.info["info"]),
                "containers": containers,
                "container_info": {
                    c.id: json.loads(cri.container_status(c.id).info["info"]) for c in containers
                },
            }
    return truth


@pytest.fixture(scope="module")
def docker_truth(testbed, pods):
    """What Docker says of each cri-dockerd-style pod's containers (docker inspect)."""
    truth = {}
    for key, pod in pods.items():
        if pod.runtime != "cri-dockerd":
            continue
        ids = [pod.sandbox_id, *(c.id for c in pod.containers)]
        truth[key] = {c["Id"]: c for c in json.loads(testbed.docker("inspect", *ids).stdout)}
    return truth


@pytest.fixture(scope="module")
def listed(pods):
    """`ctrlens pods -o json`, by pod uid."""
    return {rec["uid"]: rec for rec in ctrlens_json("pods")}


def test_pods_lists_each_cri_pod_with_the_identity_given_to_the_cri(pods, cri_truth, listed):
    for key, truth in cri_truth.items():
        meta = truth["status"].metadata
        rec = listed.get(meta.uid)
        assert rec is not None, f"{key}: pod uid {meta.uid} not listed by ctrlens pods"
        assert (rec["namespace"], rec["name"], rec["uid"]) == (meta.namespace, meta.name, meta.uid)
        assert rec["sandbox_id"] == truth["status"].id
        assert rec["qos"] == SPECS[key][2]
        assert rec["runtime"] == "containerd"
        names = {c.metadata.name for c in truth["containers"]}
        assert names == {"app", "sidecar"}
        assert {c["name"] for c in rec["containers"] if not c["sandbox"]} == names
        assert {c["id"] for c in rec["containers"]} == {
            truth["status"].id,
            *(c.id for c in truth["containers"]),
        }
        assert rec["container_count"] == len(truth["containers"])


def test_every_container_and_process_of_a_cri_pod_is_attributed_to_it(pods, cri_truth, listed):
    for key, truth in cri_truth.items():
        rec = listed[truth["status"].metadata.uid]
        by_id = {c["id"]: c for c in rec["containers"]}
        sandbox = by_id[truth["status"].id]
        assert sandbox["sandbox"] is True and sandbox["name"] == "POD"
        assert sandbox["pids"] == [truth["info"]["pid"]], f"{key}: the pause process"
        expected_all = {truth["info"]["pid"]}
        for c in truth["containers"]:
            got = by_id[c.id]
            assert got["sandbox"] is False and got["name"] == c.metadata.name
            expected = descendants(truth["container_info"][c.id]["pid"])
            assert set(got["pids"]) == expected, f"{key}/{c.metadata.name}"
            expected_all |= expected
        assert set(rec["pids"]) == expected_all
        assert rec["process_count"] == len(expected_all) == 4  # pause, app, sidecar's sh and its sleep


def test_ps_and_containers_records_carry_the_pod(pods, cri_truth):
    procs = {p["pid"]: p for p in ctrlens_json("ps")}
    containers = {c["id"]: c for c in ctrlens_json("containers")}
    for key, truth in cri_truth.items():
        meta = truth["status"].metadata
        for c in truth["containers"]:
            record = containers[c.id]
            assert record["pod"] == meta.name and record["namespace"] == meta.namespace
            assert record["pod_info"]["uid"] == meta.uid and record["pod_info"]["qos"] == SPECS[key][2]
            assert record["kube_container"] == c.metadata.name
            for pid in descendants(truth["container_info"][c.id]["pid"]):
                proc = procs[pid]
                assert proc["container"]["id"] == c.id
                assert (
                    proc["container"]["pod"] == meta.name and proc["container"]["namespace"] == meta.namespace
                )
                assert proc["pod"]["uid"] == meta.uid and proc["pod"]["qos"] == SPECS[key][2], pid


def test_the_cgroup_parent_is_the_one_the_kubelet_asked_for(pods, cri_truth, listed):
    """QoS parents per class (cgroupfs driver): the OCI spec the CRI reports puts each pod where asked."""
    for key, truth in cri_truth.items():
        pod = pods[key]
        spec_path = truth["info"]["runtimeSpec"]["linux"]["cgroupsPath"]
        assert spec_path == f"{pod.cgroup_parent}/{pod.sandbox_id}"
        if SPECS[key][2] == "guaranteed":
            assert spec_path.startswith("/kubepods/pod")
        else:
            assert spec_path.startswith(f"/kubepods/{SPECS[key][2]}/pod")
        rec = listed[pod.uid]
        sandbox = next(c for c in rec["containers"] if c["sandbox"])
        assert sandbox["id"] == pod.sandbox_id


def test_containers_of_a_pod_share_the_sandbox_network_and_ipc(pods, cri_truth):
    """What ctrlens reports as one pod really is one: its containers share the pause process's net and ipc
    namespaces (and not the host's unless hostNetwork)."""
    host_net = os.readlink("/proc/2/ns/net")
    for key, truth in cri_truth.items():
        pause = truth["info"]["pid"]
        for c in truth["containers"]:
            pid = truth["container_info"][c.id]["pid"]
            for ns in ("net", "ipc"):
                assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/{pause}/ns/{ns}")
        shares_host = os.readlink(f"/proc/{pause}/ns/net") == host_net
        assert shares_host == SPECS[key][3], key


def test_host_network_and_host_pid_pods_are_marked_as_the_cri_says(pods, cri_truth, docker_truth, listed):
    for key, truth in cri_truth.items():
        options = truth["status"].linux.namespaces.options
        rec = listed[truth["status"].metadata.uid]
        assert rec["host_network"] is (options.network == NODE), key
        assert rec["host_pid"] is (options.pid == NODE), key
    for key, inspected in docker_truth.items():
        sandbox = inspected[pods[key].sandbox_id]
        rec = listed[pods[key].uid]
        assert rec["host_network"] is (sandbox["HostConfig"]["NetworkMode"] == "host"), key
        assert rec["host_pid"] is (sandbox["HostConfig"]["PidMode"] == "host"), key


def test_audit_flags_host_network_and_host_pid_pods_with_the_pod_spec_fix(pods, cri_truth, docker_truth):
    # a pod-level field is set once for the pod: the fix names which pod (issue 18)
    net, pid, legacy = (f"kube-system/hostnet-{SUFFIX}", f"monitoring/hostpid-{SUFFIX}", pods["legacy-host"])
    legacy_ref = f"{legacy.namespace}/{legacy.name}"
    cases = [
        (f"hostnet-{SUFFIX}/app", "CTRL-NS-NET-HOST", f"spec.hostNetwork: false in pod {net}"),
        (f"hostpid-{SUFFIX}/app", "CTRL-NS-PID-HOST", f"spec.hostPID: false in pod {pid}"),
        (legacy.containers[0].id, "CTRL-NS-NET-HOST", f"spec.hostNetwork: false in pod {legacy_ref}"),
        (legacy.containers[0].id, "CTRL-NS-PID-HOST", f"spec.hostPID: false in pod {legacy_ref}"),
    ]
    for ref, rule, fix in cases:
        res = ctrlens("audit", ref, "-o", "json", check=False)
        assert res.returncode in (0, 1), res.stderr
        (report,) = json.loads(res.stdout)
        found = {f["id"]: f for f in report["findings"]}
        assert rule in found, f"{ref}: {sorted(found)}"
        assert found[rule]["fix"] == fix
    # and a pod with its own namespaces is not flagged
    (report,) = json.loads(ctrlens("audit", f"web-{SUFFIX}/app", "-o", "json", check=False).stdout)
    assert not {"CTRL-NS-NET-HOST", "CTRL-NS-PID-HOST"} & {f["id"] for f in report["findings"]}


def test_pods_lists_cri_dockerd_style_pods_from_docker_labels(pods, docker_truth, listed):
    for key, inspected in docker_truth.items():
        pod = pods[key]
        sandbox = inspected[pod.sandbox_id]
        labels = sandbox["Config"]["Labels"]
        rec = listed.get(labels["io.kubernetes.pod.uid"])
        assert rec is not None, key
        assert (rec["namespace"], rec["name"]) == (
            labels["io.kubernetes.pod.namespace"],
            labels["io.kubernetes.pod.name"],
        )
        assert rec["runtime"] == "docker" and rec["qos"] == SPECS[key][2]
        assert rec["labels"]["app"] == pod.name and not any(
            k.startswith("annotation.") for k in rec["labels"]
        )
        assert rec["sandbox_id"] == pod.sandbox_id
        by_id = {c["id"]: c for c in rec["containers"]}
        assert set(by_id) == set(inspected)
        for cid, c in inspected.items():
            got = by_id[cid]
            assert got["sandbox"] is (c["Config"]["Labels"]["io.kubernetes.docker.type"] == "podsandbox")
            assert got["name"] == c["Config"]["Labels"]["io.kubernetes.container.name"]
            assert got["runtime_name"] == c["Name"].lstrip("/")
            assert set(got["pids"]) == descendants(c["State"]["Pid"]), c["Name"]
            assert c["HostConfig"]["CgroupParent"] == pod.cgroup_parent


def test_filters_by_namespace_and_name(pods):
    shop = ctrlens_json("pods", "--namespace", "shop")
    names = {r["name"] for r in shop}
    assert {f"web-{SUFFIX}", f"db-{SUFFIX}", f"legacy-{SUFFIX}"} <= names
    assert {r["namespace"] for r in shop} == {"shop"}
    one = ctrlens_json("pods", "--name", f"hostpid-{SUFFIX}")
    assert [(r["namespace"], r["name"]) for r in one] == [("monitoring", f"hostpid-{SUFFIX}")]
    wide = ctrlens("pods", "-o", "wide", "-n", "monitoring").stdout
    assert "app(1)" in wide and "sidecar(2)" in wide and pods["hostpid"].uid in wide
    # ps and containers take the same pod filters: exactly the pod's processes and containers
    truth = pods["hostpid"]
    want = set().union(*(descendants(p) for p in (truth.sandbox_pid, *(c.pid for c in truth.containers))))
    got = ctrlens_json("ps", "--namespace", "monitoring", "--pod", f"hostpid-{SUFFIX}")
    assert {p["pid"] for p in got} == want
    got = ctrlens_json("containers", "--pod", truth.uid)  # by uid too
    assert {c["id"] for c in got} == truth.ids
    bad = ctrlens("pods", "--label", "nokey", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("ctrlens: ") and "Traceback" not in bad.stderr


def test_containerd_cri_writes_the_keys_recorded_in_the_fixture(pods, testbed):
    """docs/architecture.md lists the OCI annotations containerd's CRI writes, from the captured fixture: the
    live pods must still carry exactly those keys (a containerd upgrade that changes them fails here)."""
    fixture = json.loads(FIXTURE.read_text())
    pod = pods["web"]
    task = testbed.paths.containerd_state / "io.containerd.runtime.v2.task/k8s.io"
    sandbox = json.loads((task / pod.sandbox_id / "config.json").read_text())
    container = json.loads((task / pod.containers[0].id / "config.json").read_text())
    assert set(sandbox["annotations"]) == set(fixture["sandbox"]["annotations"])
    assert set(container["annotations"]) == set(fixture["container"]["annotations"])
    assert sandbox["annotations"]["io.kubernetes.cri.sandbox-uid"] == pod.uid
    assert container["annotations"]["io.kubernetes.cri.container-name"] == "app"


def test_kill_on_a_pod_container_names_the_pod_and_its_kubelet(pods):
    for ref, pod in ((f"web-{SUFFIX}/app", pods["web"]), (pods["legacy"].containers[0].id, pods["legacy"])):
        res = ctrlens("kill", ref, "-s", "KILL", "--dry-run", "-o", "json")
        restart = json.loads(res.stdout)["plan"]["restart"]
        assert restart["by"] == "kubelet"
        assert f"pod {pod.namespace}/{pod.name}" in restart["reason"]
    # nothing was sent: the CRI still reports every container running
    assert all(os.path.exists(f"/proc/{c.pid}") for c in pods["web"].containers)


def test_exporter_labels_carry_the_pod_and_namespace(pods, cri_truth):
    text = ctrlens("serve", "--print").stdout
    for truth in cri_truth.values():
        meta = truth["status"].metadata
        for c in truth["containers"]:
            line = next(x for x in text.splitlines() if x.startswith("ctrlens_container_info{") and c.id in x)
            assert f'pod="{meta.name}"' in line and f'namespace="{meta.namespace}"' in line


def test_kill_a_pod_is_refused_unless_all_then_every_container_ends(testbed, pods):
    """`kill pod/NS/NAME` without --all: refused (exit 4), nothing sent. With --all: every process of every
    container of the pod is signalled, and the CRI itself then reports each container exited."""
    victim = testbed.run_cri_pod(f"victim-{SUFFIX}", "shop", "besteffort")
    try:
        ref = f"pod/shop/{victim.name}"
        refused = ctrlens("kill", ref, "-s", "KILL", "--yes", check=False)
        assert refused.returncode == 4 and "--all" in refused.stderr and "Traceback" not in refused.stderr
        assert all(os.path.exists(f"/proc/{c.pid}") for c in victim.containers)
        res = ctrlens("kill", ref, "--all", "-s", "KILL", "--yes", "--wait", "2", "-o", "json")
        records = json.loads(res.stdout)
        assert [r["plan"]["container"]["id"] for r in records] == [c.id for c in victim.containers] + [
            victim.sandbox_id
        ]  # the containers first, the sandbox last
        with testbed.cri_client() as cri:
            assert {c.id: c.state for c in cri.list_containers(victim.sandbox_id)} == {
                c.id: 2
                for c in victim.containers  # CONTAINER_EXITED
            }
        assert not any(
            os.path.exists(f"/proc/{p}") for p in (victim.sandbox_pid, *(c.pid for c in victim.containers))
        )
    finally:
        testbed.remove_pod(victim)


def test_audit_fixes_of_host_namespace_pods_name_the_pod_given_to_the_cri(pods, cri_truth):
    """Every container of a hostNetwork/hostPID CRI pod (sandbox included) gets the pod-spec fix naming the pod
    as PodSandboxStatus reports it; a container-level field (securityContext) is not given a pod."""
    res = ctrlens("audit", "-o", "json", check=False)
    assert res.returncode in (0, 1), res.stderr
    reports = {r["id"]: r for r in json.loads(res.stdout)}
    for key, rule, field in (
        ("hostnet", "CTRL-NS-NET-HOST", "hostNetwork"),
        ("hostpid", "CTRL-NS-PID-HOST", "hostPID"),
    ):
        truth = cri_truth[key]
        meta = truth["status"].metadata
        for cid in (truth["status"].id, *(c.id for c in truth["containers"])):
            found = {f["id"]: f for f in reports[cid]["findings"]}
            assert found[rule]["fix"] == f"spec.{field}: false in pod {meta.namespace}/{meta.name}", (
                key,
                cid,
            )
            assert (
                found[rule]["fixes"]["kubernetes"] == f"spec.{field}: false"
            )  # the per-runtime table stays generic
            assert all(
                not f["fix"].startswith("securityContext.") or " in pod " not in f["fix"]
                for f in found.values()
                if f["fix"]
            )
    # the text face says the same
    text = ctrlens("audit", f"hostnet-{SUFFIX}/app", "--full", check=False).stdout
    meta = cri_truth["hostnet"]["status"].metadata
    assert f"spec.hostNetwork: false in pod {meta.namespace}/{meta.name}" in text


def test_watch_events_carry_the_pod_given_to_the_cri(pods, cri_truth):
    """`watch --initial` lists each CRI pod's containers with the namespace, name and uid of PodSandboxStatus
    and the container name of ListContainers."""
    res = ctrlens("watch", "--initial", "--type", "container.running", "--duration", "1", "--interval", "0.5")
    events = [json.loads(line) for line in res.stdout.splitlines()]
    assert events and {e["type"] for e in events} == {"container.running"}
    by_id = {e["container"]["id"]: e["container"] for e in events}
    for key, truth in cri_truth.items():
        meta = truth["status"].metadata
        for c in truth["containers"]:
            got = by_id.get(c.id)
            assert got is not None, f"{key}/{c.metadata.name} not in watch --initial"
            assert (got["namespace"], got["pod"], got["pod_uid"]) == (meta.namespace, meta.name, meta.uid)
            assert got["kube_container"] == c.metadata.name
            assert got["runtime"] == "containerd"
    # every event has the keys, a container outside any pod too (null there)
    assert all({"pod", "namespace", "pod_uid", "kube_container"} <= set(c) for c in by_id.values())
