"""Kubernetes cgroup layouts: the pod and QoS class from `kubepods…` components, for any CRI runtime.

systemd driver: /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/<runtime scope>
                Guaranteed pods have no QoS level: /kubepods.slice/kubepods-pod<uid_>.slice/…
cgroupfs:       /kubepods/burstable/pod<uid>/<id>   (Guaranteed: /kubepods/pod<uid>/<id>)
"""

from __future__ import annotations

import re

from .base import KUBERNETES, CgroupMatch, is_hex64

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
