"""Pods as a kubelet makes them: over containerd's CRI plugin, or cri-dockerd-style on Docker.

containerd-CRI pods: RunPodSandbox (the pause image, cgroup parent /kubepods[/<qos>]/pod<uid>, the kubelet's
labels), then CreateContainer + StartContainer per container, each with the kubelet's labels, annotations,
namespace options and the QoS class's resources. `CriPod` keeps what the CRI answered (PodSandboxStatus,
ListContainers, ContainerStatus), the ground truth the tests compare ctrlens with.

cri-dockerd-style pods: `docker run` with what cri-dockerd passes to dockerd: the names
`k8s_<container>_<pod>_<namespace>_<uid>_<attempt>`, the `io.kubernetes.*` labels, the pod cgroup parent,
containers joining the sandbox's network and IPC namespaces.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import _host
from ..errors import TestbedError
from .client import CriClient

if TYPE_CHECKING:
    from ..core import Testbed

QOS_CLASSES = ("guaranteed", "burstable", "besteffort")
SANDBOX_IMAGE = "localhost/ctrlens-pause:1"  # the CRI config's sandbox_image; built from testbed/pause.c
CONTAINER_IMAGE = "docker.io/library/ctrlens-bb:1"
DOCKER_CONTAINER_IMAGE = "ctrlens-bb:1"

# Two containers a pod: `app` one process, `sidecar` a shell with a child (two processes).
DEFAULT_CONTAINERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("app", ("sleep", "1000000")),
    ("sidecar", ("sh", "-c", "sleep 1000001 & wait")),
)

# NamespaceMode of runtime.v1
POD, CONTAINER, NODE = 0, 1, 2


@dataclass(frozen=True)
class PodContainer:
    name: str  # the Kubernetes container name (metadata.name)
    id: str
    pid: int  # host pid of its first process


@dataclass(frozen=True)
class CriPod:
    """A pod the testbed made, with what the runtime itself answered about it."""

    runtime: str  # "containerd-cri" | "cri-dockerd"
    name: str
    namespace: str
    uid: str
    qos: str
    sandbox_id: str
    sandbox_pid: int
    cgroup_parent: str  # /kubepods[/<qos>]/pod<uid>
    host_network: bool = False
    host_pid: bool = False
    containers: tuple[PodContainer, ...] = ()
    netns: str | None = None  # the CRI's pinned network namespace (removed by StopPodSandbox)
    status: dict[str, Any] = field(default_factory=dict, compare=False)  # PodSandboxStatus, as JSON

    @property
    def ids(self) -> set[str]:
        return {self.sandbox_id, *(c.id for c in self.containers)}


def cgroup_parent(qos: str, uid: str) -> str:
    """The cgroupfs parent the kubelet gives a pod (Guaranteed pods sit right under /kubepods)."""
    if qos not in QOS_CLASSES:
        raise TestbedError(f"qos must be one of {', '.join(QOS_CLASSES)}, not {qos!r}")
    return f"/kubepods/pod{uid}" if qos == "guaranteed" else f"/kubepods/{qos}/pod{uid}"


def _resources(pb: Any, qos: str) -> Any:
    """A container's resources as the kubelet derives them from requests/limits of 100m CPU, 64Mi memory."""
    if qos == "guaranteed":
        return pb.LinuxContainerResources(
            cpu_period=100000, cpu_quota=10000, cpu_shares=102, memory_limit_in_bytes=64 << 20
        )
    if qos == "burstable":
        return pb.LinuxContainerResources(cpu_period=100000, cpu_shares=102)
    return pb.LinuxContainerResources(cpu_period=100000, cpu_shares=2)


def _kube_labels(name: str, namespace: str, uid: str) -> dict[str, str]:
    return {
        "io.kubernetes.pod.name": name,
        "io.kubernetes.pod.namespace": namespace,
        "io.kubernetes.pod.uid": uid,
    }


def _state_record(tb: Testbed, pod: CriPod) -> Path:
    return tb.paths.kube / f"pod-{pod.sandbox_id}.json"


def run_cri_pod(
    tb: Testbed,
    name: str,
    namespace: str = "default",
    qos: str = "besteffort",
    *,
    host_network: bool = False,
    host_pid: bool = False,
    containers: Sequence[tuple[str, Sequence[str]]] = DEFAULT_CONTAINERS,
    uid: str | None = None,
    labels: dict[str, str] | None = None,
) -> CriPod:
    """A pod through containerd's CRI plugin, called as the kubelet calls it; returns once every container
    runs. Raises TestbedError with the CRI's message if a call fails (the half-made pod is removed)."""
    uid = uid or str(uuid.uuid4())
    parent = cgroup_parent(qos, uid)
    with CriClient(tb.paths.containerd_socket) as cri:
        pb = cri.pb
        log_dir = tb.paths.cri_logs / f"{namespace}_{name}_{uid}"
        log_dir.mkdir(parents=True, exist_ok=True)
        ns_opts = pb.NamespaceOption(
            network=NODE if host_network else POD, pid=NODE if host_pid else CONTAINER, ipc=POD
        )
        sandbox_config = pb.PodSandboxConfig(
            metadata=pb.PodSandboxMetadata(name=name, uid=uid, namespace=namespace, attempt=0),
            hostname="" if host_network else name,  # the kubelet leaves it empty: the node's UTS namespace
            log_directory=str(log_dir),
            labels={**_kube_labels(name, namespace, uid), **(labels or {"app": name})},
            annotations={
                "kubernetes.io/config.source": "api",
                "kubernetes.io/config.seen": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
            },
            linux=pb.LinuxPodSandboxConfig(
                cgroup_parent=parent,
                security_context=pb.LinuxSandboxSecurityContext(namespace_options=ns_opts),
            ),
        )
        sandbox_id = cri.run_pod_sandbox(sandbox_config)
        # Recorded at once, so `down` finds the pod (and its cgroups) even if the rest fails.
        record = tb.paths.kube / f"pod-{sandbox_id}.json"
        record.write_text(
            json.dumps({"sandbox_id": sandbox_id, "cgroup": parent, "runtime": "containerd-cri"})
        )
        try:
            made = []
            for cname, cmd in containers:
                config = pb.ContainerConfig(
                    metadata=pb.ContainerMetadata(name=cname, attempt=0),
                    image=pb.ImageSpec(image=CONTAINER_IMAGE),
                    command=list(cmd),
                    envs=[
                        pb.KeyValue(key="HOSTNAME", value=name),
                        pb.KeyValue(key="POD_NAMESPACE", value=namespace),
                    ],
                    labels={**_kube_labels(name, namespace, uid), "io.kubernetes.container.name": cname},
                    annotations={
                        "io.kubernetes.container.hash": secrets.token_hex(4),
                        "io.kubernetes.container.restartCount": "0",
                        "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
                        "io.kubernetes.container.terminationMessagePolicy": "File",
                        "io.kubernetes.pod.terminationGracePeriod": "30",
                    },
                    log_path=f"{cname}/0.log",
                    linux=pb.LinuxContainerConfig(
                        resources=_resources(pb, qos),
                        security_context=pb.LinuxContainerSecurityContext(namespace_options=ns_opts),
                    ),
                )
                cid = cri.create_container(sandbox_id, config, sandbox_config)
                cri.start_container(cid)
                made.append((cname, cid))
            pod_containers = tuple(
                PodContainer(cname, cid, _wait_cri_pid(cri, cid, f"{namespace}/{name}/{cname}"))
                for cname, cid in made
            )
            status = cri.pod_sandbox_status(sandbox_id)
            info = json.loads(status.info.get("info") or "{}")
        except BaseException:
            _remove_cri_sandbox(cri, sandbox_id)
            record.unlink(missing_ok=True)
            raise
    from google.protobuf import json_format

    pod = CriPod(
        runtime="containerd-cri",
        name=name,
        namespace=namespace,
        uid=uid,
        qos=qos,
        sandbox_id=sandbox_id,
        sandbox_pid=int(info.get("pid") or 0),
        cgroup_parent=parent,
        host_network=host_network,
        host_pid=host_pid,
        containers=pod_containers,
        netns=_netns_path(info),
        status=json_format.MessageToDict(status.status, preserving_proto_field_name=True),
    )
    record.write_text(json.dumps({**asdict(pod), "cgroup": parent}))
    return pod


def _netns_path(info: dict[str, Any]) -> str | None:
    for ns in info.get("runtimeSpec", {}).get("linux", {}).get("namespaces") or []:
        if ns.get("type") == "network" and ns.get("path"):
            return str(ns["path"])
    return None


def _wait_cri_pid(cri: CriClient, cid: str, what: str, timeout: float = 15.0) -> int:
    pid = 0

    def running() -> bool:
        nonlocal pid
        info = json.loads(cri.container_status(cid).info.get("info") or "{}")
        pid = int(info.get("pid") or 0)
        return pid > 0 and _host.pid_alive(pid)

    if not _host.wait_for(running, timeout, interval=0.1):
        raise TestbedError(f"CRI container {what} ({cid[:12]}) has no running process after {timeout:.0f}s")
    return pid


def _remove_cri_sandbox(cri: CriClient, sandbox_id: str) -> None:
    cri.stop_pod_sandbox(sandbox_id)
    cri.remove_pod_sandbox(sandbox_id)


def remove_pod(tb: Testbed, pod: CriPod, timeout: float = 20.0) -> None:
    """StopPodSandbox + RemovePodSandbox (or `docker rm -f` for cri-dockerd style), then the pod's cgroup dirs
    the kubelet would remove. Raises if a process of the pod survived."""
    if pod.runtime == "containerd-cri":
        with CriClient(tb.paths.containerd_socket) as cri:
            _remove_cri_sandbox(cri, pod.sandbox_id)
    else:
        ids = [c.id for c in pod.containers] + [pod.sandbox_id]
        tb.docker("rm", "-f", "-v", *ids, check=False)
    pids = [pod.sandbox_pid, *(c.pid for c in pod.containers)]
    if not _host.wait_for(lambda: not any(_host.pid_alive(p) for p in pids), timeout):
        raise TestbedError(f"pod {pod.namespace}/{pod.name}: processes {pids} survived removal")
    _host.remove_cgroup(pod.cgroup_parent, parents=pod.cgroup_parent.strip("/").count("/"))
    _state_record(tb, pod).unlink(missing_ok=True)


def remove_all_cri_pods(tb: Testbed) -> int:
    """Stop and remove every sandbox the CRI knows (down: so it unpins their network namespaces)."""
    with CriClient(tb.paths.containerd_socket) as cri:
        sandboxes = cri.list_pod_sandbox()
        for sb in sandboxes:
            _remove_cri_sandbox(cri, sb.id)
    return len(sandboxes)


def run_dockershim_pod(
    tb: Testbed,
    name: str,
    namespace: str = "default",
    qos: str = "besteffort",
    *,
    host_network: bool = False,
    host_pid: bool = False,
    containers: Sequence[tuple[str, Sequence[str]]] = DEFAULT_CONTAINERS,
    uid: str | None = None,
) -> CriPod:
    """A pod as cri-dockerd makes it on Docker: a pause sandbox container and containers joining its network
    and IPC namespaces, with cri-dockerd's names and labels and the pod's cgroup parent."""
    uid = uid or str(uuid.uuid4())
    parent = cgroup_parent(qos, uid)
    pod_labels = {**_kube_labels(name, namespace, uid), "app": name}
    sandbox_name = f"k8s_POD_{name}_{namespace}_{uid}_0"
    label_opts = [
        f"--label={k}={v}"
        for k, v in {
            **pod_labels,
            "io.kubernetes.container.name": "POD",
            "io.kubernetes.docker.type": "podsandbox",
            "annotation.kubernetes.io/config.source": "api",
        }.items()
    ]
    net = ["--network", "host"] if host_network else ["--network", "none", "--hostname", name]
    pid_opts = ["--pid", "host"] if host_pid else []
    record = tb.paths.kube / f"dockershim-{uid}.json"
    record.write_text(json.dumps({"cgroup": parent, "runtime": "cri-dockerd"}))
    sandbox = tb.run_docker(
        sandbox_name,
        *net,
        *pid_opts,
        "--ipc",
        "shareable",
        "--cgroup-parent",
        parent,
        *label_opts,
        cmd=(),
        image=SANDBOX_IMAGE,
    )
    made: list[PodContainer] = []
    try:
        for cname, cmd in containers:
            labels = {
                **_kube_labels(name, namespace, uid),
                "io.kubernetes.container.name": cname,
                "io.kubernetes.docker.type": "container",
                "io.kubernetes.sandbox.id": sandbox.id,
                "io.kubernetes.container.logpath": f"/var/log/pods/{namespace}_{name}_{uid}/{cname}/0.log",
                "annotation.io.kubernetes.container.hash": secrets.token_hex(4),
                "annotation.io.kubernetes.container.restartCount": "0",
                "annotation.io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
                "annotation.io.kubernetes.pod.terminationGracePeriod": "30",
            }
            started = tb.run_docker(
                f"k8s_{cname}_{name}_{namespace}_{uid}_0",
                "--network",
                f"container:{sandbox.id}",
                "--ipc",
                f"container:{sandbox.id}",
                *pid_opts,
                "--cgroup-parent",
                parent,
                *(f"--label={k}={v}" for k, v in labels.items()),
                "--env",
                f"HOSTNAME={name}",
                cmd=tuple(cmd),
                image=DOCKER_CONTAINER_IMAGE,
            )
            made.append(PodContainer(cname, started.id, started.pid))
    except BaseException:
        tb.docker("rm", "-f", "-v", sandbox.id, *(c.id for c in made), check=False)
        record.unlink(missing_ok=True)
        raise
    pod = CriPod(
        runtime="cri-dockerd",
        name=name,
        namespace=namespace,
        uid=uid,
        qos=qos,
        sandbox_id=sandbox.id,
        sandbox_pid=sandbox.pid,
        cgroup_parent=parent,
        host_network=host_network,
        host_pid=host_pid,
        containers=tuple(made),
    )
    record.unlink(missing_ok=True)
    _state_record(tb, pod).write_text(json.dumps({**asdict(pod), "cgroup": parent}))
    return pod
