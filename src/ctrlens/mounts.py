"""A container's mounts as its init process sees them (/proc/PID/mountinfo): the root filesystem and its source."""

from __future__ import annotations

from dataclasses import dataclass

from .procfs import MountEntry, ProcHandle, parse_mountinfo


@dataclass(slots=True, frozen=True)
class RootFs:
    fstype: str
    source: str
    read_only: bool
    upperdir: str | None  # overlay: the container's writable layer, as a host path
    lowerdirs: tuple[str, ...]
    host_path: (
        str | None
    )  # a bind-mounted directory's path in its filesystem (LXC: /var/lib/lxc/<name>/rootfs)
    mount_line: MountEntry

    def to_dict(self) -> dict[str, object]:
        return {
            "fstype": self.fstype,
            "source": self.source,
            "read_only": self.read_only,
            "upperdir": self.upperdir,
            "lowerdirs": list(self.lowerdirs),
            "host_path": self.host_path,
        }


def read_mounts(handle: ProcHandle) -> list[MountEntry]:
    return parse_mountinfo(handle.read("mountinfo"))


def root_mount(entries: list[MountEntry]) -> MountEntry | None:
    """The mount at '/': the last one mounted there wins (mounts stack)."""
    root = None
    for entry in entries:
        if entry.mount_point == "/":
            root = entry
    return root


def root_fs(entries: list[MountEntry]) -> RootFs | None:
    entry = root_mount(entries)
    if entry is None:
        return None
    upper = entry.super_option("upperdir") if entry.fstype == "overlay" else None
    lower = entry.super_option("lowerdir") if entry.fstype == "overlay" else None
    return RootFs(
        fstype=entry.fstype,
        source=entry.source,
        read_only=entry.read_only,
        upperdir=upper,
        lowerdirs=tuple(lower.split(":")) if lower else (),
        host_path=entry.root if entry.fstype != "overlay" else None,
        mount_line=entry,
    )
