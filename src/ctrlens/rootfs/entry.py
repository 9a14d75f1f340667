"""One directory entry as seen with lstat: what `ls`, `stat`, walks and copies hand around."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from ..procfs.parse import MountEntry

KINDS = {
    stat.S_IFREG: "file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symlink",
    stat.S_IFIFO: "fifo",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "char-device",
    stat.S_IFBLK: "block-device",
}


def kind_of(mode: int) -> str:
    return KINDS.get(stat.S_IFMT(mode), "unknown")


def join(parent: bytes, name: bytes) -> bytes:
    return parent.rstrip(b"/") + b"/" + name if parent not in (b"", b"/") else b"/" + name


@dataclass(frozen=True, slots=True)
class Entry:
    path: bytes  # container path as walked, not resolved (bytes: names may be any bytes but '/' and NUL)
    st: os.stat_result  # lstat: a symlink is described, never followed
    link_target: bytes | None = None  # readlink text for symlinks
    mount_id: int | None = None
    is_mount_point: bool = False
    mount: MountEntry | None = None  # what is mounted here, when the mountinfo says
    pseudo_fs: str | None = None  # 'proc', 'sysfs'… for a directory that walks did not enter

    @property
    def name(self) -> bytes:
        return os.path.basename(self.path.rstrip(b"/")) or b"/"

    @property
    def kind(self) -> str:
        return kind_of(self.st.st_mode)

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.st.st_mode)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.st.st_mode)

    @property
    def is_special(self) -> bool:
        """Device, FIFO or socket: never opened, only described."""
        return not (self.is_dir or self.is_file or self.is_symlink)
