"""Kubernetes cgroup layouts: the pod and QoS class from `kubepods…` components, for any CRI runtime.

systemd driver: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/<runtime scope>
                Guaranteed pods have no QoS level: /kubepods.slice/kubepods-pod<uid_>.slice/…
cgroupfs:       /kubepods/burstable/pod<uid>/<id>   (Guaranteed: /kubepods/pod<uid>/<id>)
"""

from __future__ import annotations

import os
import re

from ..host import Host
from ..model import Container, RestartPolicy, Snapshot
from .base import KUBERNETES, CgroupMatch, is_hex64
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .restart_rules import MAYBE, YES, RestartForecast

KUBELET_COMMS = {"kubelet", "k3s-server", "k3s-agent", "k0s", "kubelite"}
KUBE_RESTART_COUNT = "io.kubernetes.container.restartCount"

NAME = KUBERNETES
QOS_CLASSES = ("besteffort", "burstable", "guaranteed")

_SYSTEMD_POD = re.compile(r"kubepods(?:-(besteffort|burstable))?-pod([0-9a-fA-F_]+)\.slice")
_CGROUPFS_POD = re.compile(r"pod([0-9a-fA-F-]{32,36})")


def pod_of(parts: list[str], upto: int) -> tuple[str | None, str | None]:
    """(pod uid, QoS class) from the components before index `upto` (inclusive, for `:cri-containerd:` paths)."""
    in_kubepods = False
    uid = qos = None
    for comp in parts[: upto + 1]:
        head = comp.split(":", 1)[0]
        if head in ("kubepods", "kubepods.slice") or head.startswith("kubepods"):
            in_kubepods = True
        if not in_kubepods:
            continue
        m = _SYSTEMD_POD.fullmatch(head)
        if m:
            qos = m.group(1) or "guaranteed"
            uid = m.group(2).replace("_", "-")
            continue
        if head in ("besteffort", "burstable"):
            qos = head
            continue
        m = _CGROUPFS_POD.fullmatch(head)
        if m:
            uid = m.group(1)
            qos = qos or "guaranteed"
    return (uid, qos) if in_kubepods else (None, None)


def match_pod_child(parts: list[str], i: int) -> CgroupMatch | None:
    """A bare container ID under a cgroupfs pod directory: Kubernetes, runtime told later by the shim or conmon."""
    if i > 0 and _CGROUPFS_POD.fullmatch(parts[i - 1]) and is_hex64(parts[i]):
        return CgroupMatch(KUBERNETES, parts[i], "", "/kubepods/<qos>/pod<uid>/<id>")
    return None


RULES = (match_pod_child,)


def _kubelet(snapshot: Snapshot) -> int | None:
    for proc in snapshot.processes.values():
        if proc.comm in KUBELET_COMMS or (proc.cmdline and os.path.basename(proc.cmdline[0]) == "kubelet"):
            return proc.pid
    return None


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    """Any container of a pod, whatever its runtime: the kubelet decides (act.restart routes pods here)."""
    pod = container.pod
    where = f"pod {pod.namespace}/{pod.name}" if pod and pod.name else "its pod"
    count = container.annotations.get(KUBE_RESTART_COUNT)
    policy = RestartPolicy("kubelet", restart_count=int(count) if count and count.isdigit() else None)
    kubelet = _kubelet(snapshot)
    if kubelet is None:
        return RestartForecast(
            MAYBE,
            f"a container of {where}, but no kubelet runs on this host: nothing restarts it until one does",
            "kubelet",
            policy,
        )
    if container.sandbox:
        return RestartForecast(
            YES,
            f"the sandbox (pause) of {where}: the kubelet (pid {kubelet}) recreates the sandbox and restarts "
            "every container of the pod",
            "kubelet",
            policy,
        )
    return RestartForecast(
        YES,
        f"a container of {where}: the kubelet (pid {kubelet}) restarts it per the pod's restartPolicy "
        "(Always by default; OnFailure only after a non-zero exit; Never leaves it down)",
        "kubelet",
        policy,
    )


PLUGINS = (
    RuntimePlugin(KUBERNETES, RULES, None, forecast_restart, DiffConvention.DOCKER, FixDialect.KUBERNETES),
)
