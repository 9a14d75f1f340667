"""Never fill a host disk silently: how much a copy may write on a destination filesystem.

The rule (docs/fs.md): a copy keeps a reserve free on the destination, 1% of the filesystem and at least 64 MiB.
A file is refused before anything is written when its data (allocated blocks, holes excluded: a sparse file stays
sparse) is more than the free space above that reserve; while copying, the copy stops the same way if the free
space falls to the reserve (a file growing, another writer). Exit 4, one line, nothing left behind.
"""

from __future__ import annotations

import os
import time

from .errors import RootfsError

MIN_RESERVE = 64 << 20
RESERVE_FRACTION = 0.01


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(n)


class SpaceGuard:
    """Free space of the filesystem holding directory `dirfd` (the copy's destination), checked per file and
    between chunks."""

    REFRESH = 0.05  # seconds between free-space reads while data flows (statvfs per small file is waste)

    def __init__(self, dirfd: int, shown: str) -> None:
        self.dirfd = dirfd
        self.shown = shown
        vfs = os.fstatvfs(dirfd)
        self.reserve = max(MIN_RESERVE, int(vfs.f_blocks * vfs.f_frsize * RESERVE_FRACTION))
        self._budget = 0  # bytes admitted without a fresh read: what we know is free, less what we admitted
        self._read_at = 0.0

    def available(self) -> int:
        """Bytes we may still write: free space (for us: f_bavail) above the reserve."""
        vfs = os.fstatvfs(self.dirfd)
        return vfs.f_bavail * vfs.f_frsize - self.reserve

    def admit(self, need: int, what: str) -> None:
        """Refuse (RootfsError) a file whose `need` bytes of data do not fit above the reserve."""
        if need <= self._budget and time.monotonic() - self._read_at < self.REFRESH:
            self._budget -= need
            return
        room = self.available()
        self._budget, self._read_at = room - need, time.monotonic()
        if need > room:
            raise RootfsError(
                f"refusing to copy {what}: {_size(need)} of data, but {self.shown} has only "
                f"{_size(max(room, 0))} free above its reserve of {_size(self.reserve)} (nothing written)"
            )

    def check(self) -> None:
        now = time.monotonic()
        if now - self._read_at < self.REFRESH:
            return
        self._read_at = now
        if self.available() < 0:
            raise RootfsError(
                f"stopped copying: {self.shown} is down to its reserve of {_size(self.reserve)} free "
                "(nothing written)"
            )
