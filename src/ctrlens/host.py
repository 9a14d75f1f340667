"""Where the host is: every host path ctrlens reads goes through a `Host`.

`--host-root DIR` (or `CTRLENS_HOST_ROOT`) makes every host path relative to DIR, so ctrlens works
from a pod that mounts the host at `/host`, and on fixture trees in tests.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import UsageError
from .procfs.parse import ns_inode

HOST_ROOT_ENV = "CTRLENS_HOST_ROOT"

# The initial namespaces have fixed inode numbers (include/linux/proc_ns.h); mnt and net do not.
INITIAL_NS_INODES = {
    "ipc": 0xEFFFFFFF,
    "uts": 0xEFFFFFFE,
    "user": 0xEFFFFFFD,
    "pid": 0xEFFFFFFC,
    "cgroup": 0xEFFFFFFB,
    "time": 0xEFFFFFFA,
}
NAMESPACE_TYPES = ("pid", "mnt", "net", "ipc", "uts", "user", "cgroup", "time")


@dataclass(slots=True)
class Host:
    """A host seen through a root directory ("/" for the machine we run on)."""

    root: str = "/"
    _ns: dict[str, int] | None = field(default=None, repr=False)

    @classmethod
    def from_option(cls, host_root: str | None) -> Host:
        """The host named by `--host-root`, else `$CTRLENS_HOST_ROOT`, else `/`; checked to hold a procfs."""
        root = host_root or os.environ.get(HOST_ROOT_ENV) or "/"
        host = cls(os.path.abspath(root))
        host.check()
        return host

    @property
    def is_live(self) -> bool:
        """True when `proc` is a real procfs of this kernel (not a fixture tree)."""
        try:
            return os.statvfs(self.proc).f_fsid == os.statvfs("/proc").f_fsid or os.path.samefile(
                self.proc, "/proc"
            )
        except OSError:
            return False

    @property
    def proc(self) -> str:
        return self.path("/proc")

    def path(self, host_path: str) -> str:
        """The path on this machine of `host_path` on the host."""
        if self.root == "/":
            return host_path
        return self.root + host_path if host_path.startswith("/") else os.path.join(self.root, host_path)

    def check(self) -> None:
        """Refuse a root that is not a host root: it must hold a procfs with numeric process directories."""
        if not os.path.isdir(self.root):
            raise UsageError(f"--host-root {self.root}: no such directory")
        try:
            entries = os.listdir(self.proc)
        except OSError:
            raise UsageError(f"--host-root {self.root}: no proc/ under it; is this a host root?") from None
        if not any(name.isdigit() for name in entries):
            raise UsageError(
                f"--host-root {self.root}: {self.proc} holds no processes; is /proc mounted there?"
            )

    def host_namespaces(self) -> dict[str, int]:
        """Inode of each host namespace, without reading /proc/1 (often unreadable, even for root)."""
        if self._ns is None:
            self._ns = _discover_host_namespaces(self.proc)
        return self._ns


def _ns_inode(link: str) -> int | None:
    try:
        target = os.readlink(link)
    except (OSError, ValueError):
        return None
    return ns_inode(target)  # "mnt:[4026531832]"; None for a crafted tree's garbage


def _discover_host_namespaces(proc: str) -> dict[str, int]:
    """The initial namespaces by their fixed inodes; mnt and net from kthreadd (pid 2), which never leaves them."""
    found = dict(INITIAL_NS_INODES)
    for candidate in ("2", "1", "self"):
        for ns in ("mnt", "net"):
            if ns not in found:
                inode = _ns_inode(f"{proc}/{candidate}/ns/{ns}")
                if inode is not None:
                    found[ns] = inode
    return found
