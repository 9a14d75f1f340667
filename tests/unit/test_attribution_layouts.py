"""Attribution on fixture host roots, one per runtime and cgroup layout that cannot run on the test machine.

Paths are real-world samples quoted in peers' trackers and code (shared/reference/landscape.md §2): procs#236,
htop#1036/#1328, falcosecurity/libs#63, netdata#4868, the kubelet's cgroup_manager_linux.go naming.
"""

from __future__ import annotations

import hashlib

import pytest

from ctrlens.host import Host
from ctrlens.scanner import scan
from tests.fixtures.proctree import FakeProcess, HostTree, conmon, hybrid, shim_v2, v1, v2


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


@pytest.fixture
def tree(tmp_path):
    return HostTree(tmp_path)


def snap(tree: HostTree):
    return scan(Host(str(tree.root)))


def test_docker_systemd_driver_cgroup_v2_gives_docker_id(tree):
    # procs#236: 0::/system.slice/docker-b508….scope
    c = cid("sysd")
    tree.container(
        shim=shim_v2(100, "moby", c),
        pid=101,
        comm="nginx",
        argv=["nginx", "-g", "daemon off;"],
        cgroup=v2(f"/system.slice/docker-{c}.scope"),
        workers=2,
    )
    s = snap(tree)
    assert s.containers[c].runtime == "docker"
    assert s.containers[c].pids == [101, 102, 103]
    assert s.containers[c].init_pid == 101
    assert s.containers[c].shim_pid == 100
    assert s.processes[100].role == "shim" and s.processes[100].container_id is None


def test_docker_cgroupfs_v1_gives_docker_id_and_names_from_config_v2(tree):
    c = cid("cgfs")
    tree.container(
        shim=shim_v2(200, "moby", c), pid=201, comm="sleep", argv=["sleep", "1d"], cgroup=v1(f"/docker/{c}")
    )
    tree.file(
        f"/var/lib/docker/containers/{c}/config.v2.json",
        {
            "Name": "/web",
            "Created": "2026-11-24T10:00:00.123Z",
            "RestartCount": 2,
            "Config": {"Image": "nginx:1.23.1", "Labels": {"tier": "front"}, "Env": ["TOP_SECRET=API_KEY"]},
            "State": {"StartedAt": "2026-11-24T10:00:01.5Z"},
        },
    )
    tree.file(
        f"/var/lib/docker/containers/{c}/hostconfig.json",
        {"RestartPolicy": {"Name": "on-failure", "MaximumRetryCount": 5}},
    )
    s = snap(tree)
    ctr = s.containers[c]
    assert (ctr.name, ctr.image, ctr.labels) == ("web", "nginx:1.23.1", {"tier": "front"})
    assert ctr.restart_policy.name == "on-failure" and ctr.restart_policy.max_retries == 5
    assert ctr.restart_policy.restart_count == 2
    assert ctr.started == "2026-11-24T10:00:01Z"
    assert "API_KEY" not in repr(ctr.to_dict())  # the environment is never copied into metadata


def test_docker_non_default_data_root_found_from_dockerd_command_line(tree):
    c = cid("dataroot")
    tree.add(
        FakeProcess(
            50,
            1,
            "dockerd",
            ["dockerd", "--data-root", "/srv/docker", "-H", "unix:///x.sock"],
            v1("/"),
            exe="/usr/sbin/dockerd",
        )
    )
    tree.container(
        shim=shim_v2(300, "moby", c), pid=301, comm="sleep", argv=["sleep"], cgroup=v1(f"/docker/{c}")
    )
    tree.file(
        f"/srv/docker/containers/{c}/config.v2.json", {"Name": "/custom-root", "Config": {"Image": "bb"}}
    )
    assert snap(tree).containers[c].name == "custom-root"


def test_hybrid_host_prefers_v1_systemd_line_over_root_unified(tree):
    c = cid("hybrid")
    tree.container(
        shim=shim_v2(400, "moby", c),
        pid=401,
        comm="sleep",
        argv=["sleep"],
        cgroup=hybrid(f"/docker/{c}", unified="/"),
    )
    assert snap(tree).processes[401].container_id == c


@pytest.mark.parametrize(
    "qos,path_fmt",
    [
        (
            "burstable",
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/cri-containerd-{id}.scope",
        ),
        (
            "besteffort",
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{id}.scope",
        ),
        ("guaranteed", "/kubepods.slice/kubepods-pod{uid_}.slice/cri-containerd-{id}.scope"),
    ],
)
def test_containerd_cri_systemd_paths_give_pod_uid_and_qos_for_every_class(tree, qos, path_fmt):
    uid = "1234abcd-5678-90ef-1234-567890abcdef"
    c = cid(qos)
    path = path_fmt.format(uid_=uid.replace("-", "_"), id=c)
    tree.container(
        shim=shim_v2(500, "k8s.io", cid("sandbox")), pid=501, comm="app", argv=["app"], cgroup=v2(path)
    )
    ctr = snap(tree).containers[c]
    assert ctr.runtime == "containerd"
    assert (ctr.pod.uid, ctr.pod.qos) == (uid, qos)


def test_cri_containerd_without_systemd_cgroup_triple_is_parsed(tree):
    # falcosecurity/libs#63
    uid_ = "0f1e2d3c_4b5a_6978_8796_a5b4c3d2e1f0"
    c = cid("triple")
    path = f"/system.slice/containerd.service/kubepods-burstable-pod{uid_}.slice:cri-containerd:{c}"
    tree.container(shim=shim_v2(600, "k8s.io", c), pid=601, comm="app", argv=["app"], cgroup=v1(path))
    ctr = snap(tree).containers[c]
    assert ctr.runtime == "containerd"
    assert ctr.pod.uid == uid_.replace("_", "-") and ctr.pod.qos == "burstable"


@pytest.mark.parametrize(
    "qos_dir,qos", [("besteffort/", "besteffort"), ("burstable/", "burstable"), ("", "guaranteed")]
)
def test_kubernetes_cgroupfs_pod_paths_take_runtime_from_the_shim(tree, qos_dir, qos):
    uid = "aaaabbbb-cccc-dddd-eeee-ffff00001111"
    c = cid("cgfs-k8s" + qos)
    tree.container(
        shim=shim_v2(700, "k8s.io", cid("pause")),
        pid=701,
        comm="app",
        argv=["app"],
        cgroup=v1(f"/kubepods/{qos_dir}pod{uid}/{c}"),
    )
    tree.file(
        f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{c}/config.json",
        {
            "annotations": {
                "io.kubernetes.cri.container-type": "container",
                "io.kubernetes.cri.container-name": "api",
                "io.kubernetes.cri.sandbox-name": "shop-7d9f",
                "io.kubernetes.cri.sandbox-namespace": "prod",
                "io.kubernetes.cri.image-name": "registry.local/shop:2",
            }
        },
    )
    ctr = snap(tree).containers[c]
    assert ctr.runtime == "containerd"  # the path alone says only "kubernetes"
    assert (ctr.pod.name, ctr.pod.namespace, ctr.pod.qos, ctr.kube_container) == (
        "shop-7d9f",
        "prod",
        qos,
        "api",
    )
    assert ctr.image == "registry.local/shop:2" and ctr.name == "shop-7d9f/api"


def test_kubernetes_pause_container_is_marked_sandbox(tree):
    uid = "aaaabbbb-cccc-dddd-eeee-ffff00002222"
    c = cid("pause")
    tree.container(
        shim=shim_v2(800, "k8s.io", c),
        pid=801,
        comm="pause",
        argv=["/pause"],
        cgroup=v1(f"/kubepods/besteffort/pod{uid}/{c}"),
    )
    tree.file(
        f"/run/containerd/io.containerd.runtime.v2.task/k8s.io/{c}/config.json",
        {
            "annotations": {
                "io.kubernetes.cri.container-type": "sandbox",
                "io.kubernetes.cri.sandbox-name": "shop-7d9f",
                "io.kubernetes.cri.sandbox-namespace": "prod",
            }
        },
    )
    ctr = snap(tree).containers[c]
    assert ctr.sandbox and ctr.kube_container == "POD"


def test_cri_dockerd_scope_under_kubepods_is_docker_with_pod(tree):
    uid_ = "11112222_3333_4444_5555_666677778888"
    c = cid("cri-dockerd")
    path = f"/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/docker-{c}.scope"
    tree.container(
        shim=shim_v2(900, "moby", c), pid=901, comm="java", argv=["java", "-jar", "app.jar"], cgroup=v2(path)
    )
    tree.file(
        f"/var/lib/docker/containers/{c}/config.v2.json",
        {
            "Name": "/k8s_api_shop_prod_x_0",
            "Config": {
                "Image": "shop:2",
                "Labels": {
                    "io.kubernetes.pod.name": "shop",
                    "io.kubernetes.pod.namespace": "prod",
                    "io.kubernetes.container.name": "api",
                },
            },
        },
    )
    ctr = snap(tree).containers[c]
    assert ctr.runtime == "docker" and ctr.pod.qos == "burstable"
    assert (ctr.pod.name, ctr.pod.namespace, ctr.kube_container) == ("shop", "prod", "api")


def test_crio_scope_gives_crio_and_its_conmon_scope_is_a_shim(tree):
    uid_ = "99998888_7777_6666_5555_444433332222"
    c = cid("crio")
    base = f"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice"
    bundle = f"/run/containers/storage/overlay-containers/{c}/userdata"
    mon = conmon(1000, c, "k8s_api", bundle, podman=False, cgroup=v2(f"{base}/crio-conmon-{c}.scope"))
    tree.container(shim=mon, pid=1001, comm="api", argv=["api"], cgroup=v2(f"{base}/crio-{c}.scope"))
    tree.file(
        f"{bundle}/config.json",
        {
            "annotations": {
                "io.kubernetes.pod.name": "web-0",
                "io.kubernetes.pod.namespace": "default",
                "io.kubernetes.container.name": "api",
                "io.kubernetes.cri-o.ImageName": "quay.io/x/api:1",
                "io.kubernetes.cri-o.ContainerType": "container",
            }
        },
    )
    s = snap(tree)
    ctr = s.containers[c]
    assert ctr.runtime == "cri-o" and ctr.pod.name == "web-0" and ctr.image == "quay.io/x/api:1"
    assert s.processes[1000].role == "shim" and ctr.shim_pid == 1000


def test_podman_root_systemd_scope_with_container_subgroup(tree):
    c = cid("podman-sysd")
    tree.container(
        shim=conmon(
            1100,
            c,
            "db",
            f"/var/lib/containers/storage/overlay-containers/{c}/userdata",
            cgroup=v2(f"/machine.slice/libpod-conmon-{c}.scope"),
        ),
        pid=1101,
        comm="postgres",
        argv=["postgres"],
        cgroup=v2(f"/machine.slice/libpod-{c}.scope/container"),
    )
    s = snap(tree)
    assert s.containers[c].runtime == "podman" and s.containers[c].name == "db"
    assert s.processes[1100].role == "shim"


def test_podman_rootless_systemd_path_gives_libpod_id(tree):
    # htop#1328 sample layout
    c = cid("rootless")
    path = f"/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{c}.scope/container"
    tree.container(
        shim=conmon(
            1200, c, "toolbox", f"/home/u/.local/share/containers/storage/overlay-containers/{c}/userdata"
        ),
        pid=1201,
        comm="bash",
        argv=["bash"],
        cgroup=v2(path),
        uid=100000,
    )
    tree.file(
        "/home/u/.local/share/containers/storage/overlay-containers/containers.json",
        [
            {
                "id": c,
                "names": ["toolbox"],
                "metadata": '{"image-name":"registry.fedoraproject.org/fedora-toolbox:39"}',
            }
        ],
    )
    ctr = snap(tree).containers[c]
    assert ctr.runtime == "podman"
    assert (
        ctr.image == "registry.fedoraproject.org/fedora-toolbox:39"
    )  # storage root found from conmon's bundle


def test_podman_cgroupfs_libpod_parent(tree):
    c = cid("podman-cgfs")
    tree.container(
        shim=conmon(1300, c, "cache", f"/var/lib/containers/storage/overlay-containers/{c}/userdata"),
        pid=1301,
        comm="redis",
        argv=["redis-server"],
        cgroup=v1(f"/libpod_parent/libpod-{c}"),
    )
    assert snap(tree).containers[c].runtime == "podman"


def test_lxc_payload_and_monitor_with_config(tree):
    mon = FakeProcess(
        1400, 1, "lxc-start", ["[lxc monitor] /srv/lxc web"], v1("/lxc.monitor.web"), exe="/usr/bin/lxc-start"
    )
    tree.container(
        shim=mon, pid=1401, comm="init", argv=["/sbin/init"], cgroup=v1("/lxc.payload.web"), workers=1
    )
    tree.file(
        "/srv/lxc/web/config",
        "lxc.uts.name = web\nlxc.rootfs.path = dir:/srv/lxc/web/rootfs\nlxc.start.auto = 1\n",
    )
    s = snap(tree)
    ctr = s.containers["web"]
    assert ctr.runtime == "lxc" and ctr.pids == [1401, 1402]
    assert ctr.image == "dir:/srv/lxc/web/rootfs" and ctr.restart_policy.name == "lxc-autostart"
    assert s.processes[1400].role == "shim" and ctr.shim_pid == 1400


def test_lxc_legacy_layout(tree):
    tree.container(shim=None, pid=1501, comm="init", argv=["/sbin/init"], cgroup=v1("/lxc/old"))
    assert snap(tree).containers["old"].runtime == "lxc"


def test_nspawn_payload_and_supervisor(tree):
    sup = FakeProcess(
        1600,
        1,
        "systemd-nspawn",
        ["systemd-nspawn", "-M", "deb", "-D", "/var/lib/machines/deb", "-b"],
        v2("/machine.slice/machine-deb.scope/supervisor"),
        exe="/usr/bin/systemd-nspawn",
    )
    tree.container(
        shim=sup,
        pid=1601,
        comm="systemd",
        argv=["/usr/lib/systemd/systemd"],
        cgroup=v2("/machine.slice/machine-deb.scope/payload"),
    )
    s = snap(tree)
    assert s.containers["deb"].runtime == "nspawn" and s.containers["deb"].pids == [1601]
    assert s.processes[1600].role == "shim"


def test_nerdctl_scope_and_ctr_namespace_path(tree):
    n = cid("nerdctl")
    tree.container(
        shim=shim_v2(1700, "default", n),
        pid=1701,
        comm="sleep",
        argv=["sleep"],
        cgroup=v2(f"/system.slice/nerdctl-{n}.scope"),
    )
    # ctr lets the user pick any id: only the shim's -namespace/-id name it.
    tree.container(
        shim=shim_v2(1710, "build", "my-task"),
        pid=1711,
        comm="sleep",
        argv=["sleep"],
        cgroup=v1("/build/my-task"),
        pid_ns=4026532600,
    )
    s = snap(tree)
    assert s.containers[n].runtime == "containerd"
    ctr = s.containers["my-task"]
    assert (ctr.runtime, ctr.engine_namespace) == ("containerd", "build")


def test_docker_in_docker_reports_the_chain(tree):
    outer, inner = cid("outer"), cid("inner")
    tree.container(
        shim=shim_v2(1800, "moby", outer),
        pid=1801,
        comm="dockerd",
        argv=["dockerd"],
        cgroup=v1(f"/docker/{outer}"),
    )
    tree.add(shim_v2(1802, "moby", inner))
    tree.add(
        FakeProcess(
            1803,
            1802,
            "sleep",
            ["sleep"],
            v1(f"/docker/{outer}/docker/{inner}"),
            pid_ns=4026532700,
            nspid=[1803, 40, 1],
        )
    )
    s = snap(tree)
    assert s.containers[inner].parent_id == outer
    assert s.containers[outer].parent_id is None
    assert s.processes[1803].container_id == inner


def test_namespaced_process_without_a_rule_is_an_unknown_container_not_a_host_process(tree):
    tree.add(
        FakeProcess(
            1900,
            1,
            "bwrap",
            ["bwrap", "--unshare-pid", "sh"],
            v1("/user.slice"),
            pid_ns=4026532800,
            nspid=[1900, 1],
        )
    )
    tree.add(FakeProcess(1950, 1, "nginx", ["nginx"], v1("/system.slice/nginx.service")))
    s = snap(tree)
    assert s.processes[1900].container_id == "pidns-4026532800"
    assert s.containers["pidns-4026532800"].runtime == "unknown"
    assert s.processes[1950].container_id is None


def test_host_process_in_a_service_cgroup_with_hex_name_is_not_a_container(tree):
    tree.add(FakeProcess(2000, 1, "agent", ["agent"], v2(f"/system.slice/{cid('svc')[:40]}.service")))
    assert snap(tree).processes[2000].container_id is None


def test_ecs_task_id_format(tree):
    tree.container(
        shim=None,
        pid=2101,
        comm="app",
        argv=["app"],
        cgroup=v1(f"/ecs/{cid('task')[:32]}/{cid('ecs')[:32]}-1234567890"),
    )
    assert any(c.runtime == "ecs" for c in snap(tree).containers.values())


def test_vanished_process_files_are_skipped_not_errors(tree):
    c = cid("gone")
    tree.container(
        shim=shim_v2(2200, "moby", c), pid=2201, comm="sleep", argv=["sleep"], cgroup=v1(f"/docker/{c}")
    )
    (tree.root / "proc" / "2201" / "cgroup").unlink()  # as if it exited between reads
    s = snap(tree)
    assert 2201 not in s.processes
    assert 2200 in s.processes


def test_lxd_container_config_under_lxd_path(tree):
    mon = FakeProcess(
        2300,
        1,
        "lxd",
        ["[lxc monitor] /var/snap/lxd/common/lxd/containers c1"],
        v1("/lxc.monitor.c1"),
        exe="/snap/lxd/current/bin/lxd",
    )
    tree.container(shim=mon, pid=2301, comm="systemd", argv=["/sbin/init"], cgroup=v2("/lxc.payload.c1"))
    tree.file(
        "/var/snap/lxd/common/lxd/containers/c1/lxc.conf", "lxc.uts.name = c1\nlxc.rootfs.path = dir:/x\n"
    )
    ctr = snap(tree).containers["c1"]
    assert ctr.runtime == "lxc" and ctr.labels["manager"] == "lxd" and ctr.image == "dir:/x"


def test_runtime_helper_in_the_cgroup_but_the_host_pid_namespace_is_not_a_member(tree):
    # conmon starts `podman container cleanup` in the container's cgroup when the payload exits.
    c = cid("cleanup")
    tree.container(
        shim=conmon(2400, c, "web", f"/var/lib/containers/storage/overlay-containers/{c}/userdata"),
        pid=2401,
        comm="nginx",
        argv=["nginx"],
        cgroup=v1(f"/libpod_parent/libpod-{c}"),
    )
    tree.add(
        FakeProcess(
            2402,
            2400,
            "podman",
            ["/usr/bin/podman", "container", "cleanup", c],
            v1(f"/libpod_parent/libpod-{c}"),
        )
    )
    s = snap(tree)
    assert s.containers[c].pids == [2401] and s.containers[c].init_pid == 2401
    assert s.processes[2402].container_id is None and s.processes[2402].role == "runtime-helper"


def test_pid_host_container_keeps_every_member(tree):
    c = cid("pidhost")
    tree.container(
        shim=shim_v2(2500, "moby", c),
        pid=2501,
        comm="sleep",
        argv=["sleep"],
        cgroup=v1(f"/docker/{c}"),
        pid_ns=0xEFFFFFFC,
        workers=1,
    )
    assert snap(tree).containers[c].pids == [2501, 2502]


def test_kernel_threads_are_told_by_pf_kthread_not_by_pid(tree):
    # Inside a private pid namespace with its own /proc, PID 2 is an ordinary process.
    tree.add(FakeProcess(3, 2, "kworker/0:1", [], v1("/"), flags=0x04208060))
    other_root = HostTree(tree.root / "ctr")
    other_root.add(FakeProcess(2, 1, "sleep", ["sleep", "100"], v1("/")))
    s = snap(tree)
    assert s.processes[2].role == "kernel-thread" and s.processes[3].role == "kernel-thread"
    inner = scan(Host(str(other_root.root)))
    assert inner.processes[2].role is None
