"""Where a container's files are: its root mount as its own processes see it, and the overlay layers as host paths."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import CtrlensError, PermissionDenied, ProcessGone
from ..host import Host
from ..model import Container, Snapshot
from ..mounts import RootFs, read_mounts, root_fs
from ..procfs import MountEntry, ProcHandle
from ..runtimes.context import discover_engine_dirs
from .image import TRUSTED_OPAQUE, USER_OPAQUE

# Mounts that every container has and that hold no data of its own.
_RUNTIME_FILES = ("/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/run/.containerenv", "/.dockerenv")
_KERNEL_FS = {
    "proc",
    "sysfs",
    "devpts",
    "mqueue",
    "cgroup",
    "cgroup2",
    "devtmpfs",
    "securityfs",
    "debugfs",
    "tracefs",
    "bpf",
    "fusectl",
    "pstore",
    "configfs",
    "hugetlbfs",
    "binfmt_misc",
    "nsfs",
}


@dataclass(slots=True)
class RootLocation:
    pid: int  # the process whose mounts were read
    fs: RootFs
    mounts: list[MountEntry]
    upper: str | None = None  # host path of the overlay upper layer
    lowers: tuple[str, ...] = ()  # host paths of the lower layers, top first
    opaque_xattr: str = TRUSTED_OPAQUE

    @property
    def is_overlay(self) -> bool:
        return self.fs.fstype == "overlay" and self.upper is not None

    def writable_mounts(self) -> list[str]:
        """Mount points (other than '/') where the container can write outside its writable layer."""
        found = []
        for m in self.mounts:
            point = m.mount_point
            if point == "/" or m.read_only or m.fstype in _KERNEL_FS or point in _RUNTIME_FILES:
                continue
            if point == "/dev" or point.startswith(("/proc/", "/sys/", "/dev/")):
                continue
            found.append(f"{point} ({m.fstype})")
        return found


def container_pids(snapshot: Snapshot, container: Container) -> list[int]:
    pids = [container.init_pid] if container.init_pid else []
    return pids + [p for p in container.pids if p not in pids]


def locate_root(snapshot: Snapshot, container: Container, host: Host) -> RootLocation:
    """The root filesystem of `container`, read from the mountinfo of its init (or any live process of it)."""
    last: CtrlensError | None = None
    for pid in container_pids(snapshot, container):
        try:
            with ProcHandle(pid, host.proc) as handle:
                mounts = read_mounts(handle)
        except (ProcessGone, PermissionDenied) as exc:
            last = exc
            continue
        fs = root_fs(mounts)
        if fs is None:
            continue
        where = RootLocation(pid, fs, mounts)
        if fs.fstype == "overlay" and fs.upperdir:
            bases = _layer_bases(snapshot, host)
            where.upper = _host_layer_path(fs.upperdir, host, bases)
            where.lowers = tuple(_host_layer_path(p, host, bases) for p in fs.lowerdirs if p)
            userxattr = "userxattr" in fs.mount_line.super_options
            where.opaque_xattr = USER_OPAQUE if userxattr else TRUSTED_OPAQUE
        return where
    if isinstance(last, PermissionDenied):
        raise PermissionDenied(f"cannot read the mounts of {container.display_name}: {last} (run as root)")
    raise ProcessGone(f"container {container.display_name} has no running process (it may have stopped)")


def _layer_bases(snapshot: Snapshot, host: Host) -> list[str]:
    # Engines mount with paths relative to their storage dir when the options would not fit in a page.
    dirs = discover_engine_dirs(snapshot.processes, host)
    return [os.path.join(r, "overlay2") for r in dirs.docker_roots] + [
        os.path.join(r, "overlay") for r in dirs.containers_storage
    ]


def _host_layer_path(path: str, host: Host, bases: list[str]) -> str:
    if path.startswith("/"):
        return host.path(path)
    for base in bases:
        candidate = host.path(os.path.join(base, path))
        if os.path.isdir(candidate):
            return candidate
    raise CtrlensError(f"overlay layer {path!r} is a relative path and no engine storage dir holds it")
