"""What a runtime rule says about a cgroup path component, and the helpers the rules share."""

from __future__ import annotations

import re
from dataclasses import dataclass

HEX64 = re.compile(r"[0-9a-f]{64}")
HEX_ID = re.compile(r"[0-9a-f]{12,64}")

# Runtime names as they appear in output and JSON.
DOCKER = "docker"
CONTAINERD = "containerd"
CRIO = "cri-o"
PODMAN = "podman"
LXC = "lxc"
NSPAWN = "nspawn"
LIBVIRT_LXC = "libvirt-lxc"
ECS = "ecs"
GARDEN = "garden"
MESOS = "mesos"
KUBERNETES = "kubernetes"  # a Kubernetes container whose runtime the path alone does not tell
UNKNOWN = "unknown"


@dataclass(slots=True)
class CgroupMatch:
    """One container (or runtime monitor) named by a component of a cgroup path."""

    runtime: str
    id: str
    cgroup: str  # the path up to and including the component that named the container
    rule: str  # which rule matched, shown as evidence
    shim: bool = False  # a runtime monitor's cgroup (conmon, lxc monitor, nspawn supervisor), not a payload
    name: str | None = None  # names carried by the path itself (LXC, nspawn)
    engine_namespace: str | None = None
    pod_uid: str | None = None
    qos: str | None = None


def is_hex64(text: str) -> bool:
    return len(text) == 64 and HEX64.fullmatch(text) is not None


def strip_suffix(text: str, suffix: str) -> str | None:
    return text[: -len(suffix)] if text.endswith(suffix) else None


def systemd_unescape(text: str) -> str:
    r"""`lxc\x2dweb` -> `lxc-web` (systemd escapes '-' and others in unit names)."""
    if "\\x" not in text:
        return text
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
