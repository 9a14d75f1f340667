"""The two ways to resolve a container path against a root fd: openat2 in the kernel, or the userspace walker.

Both return O_PATH fds and never open the final object for I/O; the caller checks its type first.
"""

from __future__ import annotations

import errno
import os
from typing import Protocol

from ..linux.fs import (
    RESOLVE_IN_ROOT,
    RESOLVE_NO_MAGICLINKS,
    RESOLVE_NO_XDEV,
    openat2,
    openat2_available,
)
from . import fallback

# Retrying forever could spin against a container that renames in a loop; the kernel only asks for a retry
# when a rename or mount raced a '..' step (host-facts §2 saw 702 in 3 s, never two in a row).
MAX_EAGAIN = 1000
RESOLVER_ENV = "CTRLENS_RESOLVER"  # "openat2" or "walk": force one (tests, or to work around a broken kernel)


class Resolver(Protocol):
    name: str

    def open_path(
        self, rootfd: int, path: bytes, *, follow: bool = True, directory: bool = False, no_xdev: bool = False
    ) -> int: ...


class Openat2Resolver:
    name = "openat2"

    def open_path(
        self, rootfd: int, path: bytes, *, follow: bool = True, directory: bool = False, no_xdev: bool = False
    ) -> int:
        flags = os.O_PATH | os.O_CLOEXEC
        if not follow:
            flags |= os.O_NOFOLLOW
        if directory:
            flags |= os.O_DIRECTORY
        resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | (RESOLVE_NO_XDEV if no_xdev else 0)
        for _ in range(MAX_EAGAIN):
            try:
                return openat2(rootfd, path, flags, 0, resolve)
            except BlockingIOError:
                continue
        raise OSError(errno.EAGAIN, "path kept changing while it was resolved", os.fsdecode(path))


class WalkResolver:
    name = "walk"

    def open_path(
        self, rootfd: int, path: bytes, *, follow: bool = True, directory: bool = False, no_xdev: bool = False
    ) -> int:
        return fallback.resolve(rootfd, path, follow=follow, directory=directory, no_xdev=no_xdev)


_default: Resolver | None = None


def default_resolver() -> Resolver:
    """openat2 when the kernel lets us use it, else the walker; $CTRLENS_RESOLVER overrides."""
    global _default
    forced = os.environ.get(RESOLVER_ENV, "")
    if forced == "walk":
        return WalkResolver()
    if forced == "openat2":
        return Openat2Resolver()
    if _default is None:
        _default = Openat2Resolver() if openat2_available() else WalkResolver()
    return _default
