"""Runtime shims and monitors seen from their command lines: the signals that do not depend on the cgroup path.

The command line only says which container a shim claims. Whether a process is a shim at all is decided from
what the container cannot forge (host pid namespace, cgroup, the host-side executable: scanner._is_trusted_shim).

containerd-shim-runc-v2 -namespace moby -id <id> -address …      Docker (moby), Kubernetes (k8s.io: one shim per pod), ctr
conmon -c <id> -n <name> -r <runtime> -b <bundle> …              Podman (--exit-command …/podman) and CRI-O
[lxc monitor] <lxcpath> <name>                                   LXC / LXD
systemd-nspawn -M <name> -D <dir> …                              systemd-nspawn
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .base import CONTAINERD, CRIO, DOCKER, LXC, NSPAWN, PODMAN
from .context import option_value


@dataclass(slots=True, frozen=True)
class ShimSignal:
    kind: str  # containerd-shim, conmon, lxc-monitor, nspawn
    runtime: str
    container_id: str | None
    name: str | None = None
    engine_namespace: str | None = None
    bundle: str | None = None
    state_path: str | None = None  # lxcpath for LXC
    owner_uid: int = 0  # the host uid the shim runs as: 0, or the user of a rootless runtime


def shim_signal(argv: list[str], comm: str) -> ShimSignal | None:
    if not argv:
        return None
    first = argv[0]
    if first.startswith("[lxc monitor]"):
        words = " ".join(argv).split()
        # "[lxc monitor] /var/lib/lxc web" -> lxcpath, name
        if len(words) >= 4:
            return ShimSignal("lxc-monitor", LXC, words[3], name=words[3], state_path=words[2])
        return ShimSignal("lxc-monitor", LXC, None)
    exe = os.path.basename(first)
    if exe.startswith("containerd-shim") or comm.startswith("containerd-shim"):
        namespace = option_value(argv, "-namespace", "--namespace")
        runtime = DOCKER if namespace == "moby" else CONTAINERD
        return ShimSignal(
            "containerd-shim", runtime, option_value(argv, "-id", "--id"), engine_namespace=namespace
        )
    if exe == "conmon" or comm == "conmon":
        is_podman = any(arg.endswith("/podman") or arg == "podman" for arg in argv)
        return ShimSignal(
            "conmon",
            PODMAN if is_podman else CRIO,
            option_value(argv, "-c", "--cid"),
            name=option_value(argv, "-n", "--name"),
            bundle=option_value(argv, "-b", "--bundle"),
        )
    if exe == "systemd-nspawn" or comm == "systemd-nspawn":
        name = option_value(argv, "-M", "--machine")
        directory = option_value(argv, "-D", "--directory")
        name = name or (os.path.basename(directory.rstrip("/")) if directory else None)
        return ShimSignal("nspawn", NSPAWN, name, name=name, bundle=directory)
    return None
