"""Owners as the container sees them: its user-namespace id maps, and (`Accounts`, parsed by `ctrlens.accounts`)
the names in ITS /etc/passwd and /etc/group."""

from __future__ import annotations

from dataclasses import dataclass

from ..accounts import Accounts
from ..procfs.parse import IdMapRange, is_identity_map, map_to_host, parse_id_map

__all__ = ["OVERFLOW_ID", "Accounts", "IdMap"]

OVERFLOW_ID = (
    65534  # what a user namespace shows for a host id it does not map (/proc/sys/kernel/overflowuid)
)
_IDENTITY = (IdMapRange(0, 0, 4294967295),)


def _from_host(ranges: tuple[IdMapRange, ...], host_id: int) -> int | None:
    for r in ranges:
        if r.outside <= host_id < r.outside + r.count:
            return r.inside + (host_id - r.outside)
    return None


@dataclass(frozen=True, slots=True)
class IdMap:
    """uid_map and gid_map of a container: container ids <-> host ids."""

    uids: tuple[IdMapRange, ...] = _IDENTITY
    gids: tuple[IdMapRange, ...] = _IDENTITY

    @classmethod
    def from_bytes(cls, uid_map: bytes, gid_map: bytes) -> IdMap:
        return cls(tuple(parse_id_map(uid_map)) or _IDENTITY, tuple(parse_id_map(gid_map)) or _IDENTITY)

    @property
    def is_identity(self) -> bool:
        return is_identity_map(list(self.uids)) and is_identity_map(list(self.gids))

    def uid_to_host(self, uid: int) -> int | None:
        return map_to_host(list(self.uids), uid)

    def gid_to_host(self, gid: int) -> int | None:
        return map_to_host(list(self.gids), gid)

    def uid_from_host(self, host_uid: int) -> int:
        found = _from_host(self.uids, host_uid)
        return OVERFLOW_ID if found is None else found

    def gid_from_host(self, host_gid: int) -> int:
        found = _from_host(self.gids, host_gid)
        return OVERFLOW_ID if found is None else found

    def owner_to_host(self, uid: int, gid: int) -> tuple[int, int]:
        """Host ids for a container owner; ValueError when the container does not map them."""
        host_uid, host_gid = self.uid_to_host(uid), self.gid_to_host(gid)
        if host_uid is None or host_gid is None:
            raise ValueError(f"owner {uid}:{gid} is not mapped in the container's user namespace")
        return host_uid, host_gid
