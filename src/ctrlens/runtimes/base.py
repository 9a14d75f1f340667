"""What a runtime rule says about a cgroup path component, and the helpers the rules share."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

HEX64 = re.compile(r"[0-9a-f]{64}")
HEX_ID = re.compile(r"[0-9a-f]{12,64}")


class RuntimeName(StrEnum):
    """Runtime names as they appear in output and JSON (`Container.runtime`)."""

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
    UNKNOWN = "unknown"  # a private pid namespace no rule names


DOCKER = RuntimeName.DOCKER
CONTAINERD = RuntimeName.CONTAINERD
CRIO = RuntimeName.CRIO
PODMAN = RuntimeName.PODMAN
LXC = RuntimeName.LXC
NSPAWN = RuntimeName.NSPAWN
LIBVIRT_LXC = RuntimeName.LIBVIRT_LXC
ECS = RuntimeName.ECS
GARDEN = RuntimeName.GARDEN
MESOS = RuntimeName.MESOS
KUBERNETES = RuntimeName.KUBERNETES
UNKNOWN = RuntimeName.UNKNOWN


@dataclass(slots=True)
class CgroupMatch:
    """One container (or runtime monitor) named by a component of a cgroup path."""

    runtime: RuntimeName
    id: str
    cgroup: str  # the path up to and including the component that named the container
    rule: str  # which rule matched, shown as evidence
    shim: bool = False  # a runtime monitor's cgroup (conmon, lxc monitor, nspawn supervisor), not a payload
    name: str | None = None  # names carried by the path itself (LXC, nspawn)
    engine_namespace: str | None = None
    pod_uid: str | None = None
    qos: str | None = None
    owner_uid: int = 0  # a path under a user's delegated subtree (user@UID.service) is that user's container


_USER_SERVICE = re.compile(r"user@(\d+)\.service")


def delegated_owner(parts: list[str], upto: int) -> int:
    """The uid whose systemd user manager owns this part of the tree (anyone can name cgroups there), else 0."""
    for comp in parts[:upto]:
        m = _USER_SERVICE.fullmatch(comp)
        if m:
            return int(m.group(1))
    return 0


def is_hex64(text: str) -> bool:
    return len(text) == 64 and HEX64.fullmatch(text) is not None


def strip_suffix(text: str, suffix: str) -> str | None:
    return text[: -len(suffix)] if text.endswith(suffix) else None


def systemd_unescape(text: str) -> str:
    r"""`lxc\x2dweb` -> `lxc-web` (systemd escapes '-' and others in unit names)."""
    if "\\x" not in text:
        return text
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), text)
