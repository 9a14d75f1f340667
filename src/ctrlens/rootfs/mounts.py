"""Which entries are mount points (bind-mounted volumes, /etc/hosts…), and what is mounted there."""

from __future__ import annotations

from collections.abc import Callable

from ..procfs.parse import MountEntry, parse_mountinfo


class MountTable:
    """Mount ids -> mountinfo lines, read lazily from the container's own mountinfo (ids are global)."""

    def __init__(self, read_mountinfo: Callable[[], bytes] | None) -> None:
        self._read = read_mountinfo
        self._by_id: dict[int, MountEntry] | None = None

    def _load(self) -> dict[int, MountEntry]:
        if self._by_id is None:
            self._by_id = {}
            if self._read is not None:
                try:
                    self._by_id = {m.mount_id: m for m in parse_mountinfo(self._read())}
                except Exception:  # noqa: BLE001 - marking mounts is a courtesy; never fail a listing for it
                    self._by_id = {}
        return self._by_id

    def get(self, mount_id: int | None) -> MountEntry | None:
        if mount_id is None:
            return None
        return self._load().get(mount_id)


def read_own_mountinfo() -> bytes:
    with open("/proc/self/mountinfo", "rb") as f:
        return f.read()
