"""Which namespaces a process has, and which of them it shares with the host."""

from __future__ import annotations

from dataclasses import dataclass

from .host import NAMESPACE_TYPES, Host
from .procfs import ProcHandle


@dataclass(slots=True, frozen=True)
class NamespaceInfo:
    type: str
    inode: int | None  # None when unreadable (not root) or not supported by the kernel
    host_inode: int | None

    @property
    def shared_with_host(self) -> bool | None:
        if self.inode is None or self.host_inode is None:
            return None
        return self.inode == self.host_inode

    def to_dict(self) -> dict[str, object]:
        return {
            "type": self.type,
            "inode": self.inode,
            "host_inode": self.host_inode,
            "shared_with_host": self.shared_with_host,
        }


def namespaces_of(handle: ProcHandle, host: Host) -> list[NamespaceInfo]:
    host_ns = host.host_namespaces()
    return [NamespaceInfo(t, handle.namespace(t), host_ns.get(t)) for t in NAMESPACE_TYPES]
