"""Who on the host can read a container process's environment and command line.

The kernel lets process R open /proc/T/environ when ptrace_may_access(T, PTRACE_MODE_READ_FSCREDS) holds
(kernel/ptrace.c, security/commoncap.c; measured in host-facts §5):
  (R's fsuid equals T's real, effective and saved uid AND R's fsgid equals T's real, effective and saved gid,
   OR R has CAP_SYS_PTRACE over T's user namespace), AND T is dumpable (or R has CAP_SYS_PTRACE there), AND
  (R is in T's user namespace with effective caps that are a superset of T's permitted caps, OR R has
   CAP_SYS_PTRACE over T's user namespace). The owner of a user namespace holds every cap inside it.
So a host user reads a container's environment when the uids AND gids match (docker `--user 1000` runs with
gid 0, which host user 1000 usually cannot take), the container holds no capabilities, and there is no
user-namespace remap; a `--pid=host` container reads other containers whose caps its own cover.
`cmdline` is world-readable unless /proc is mounted with hidepid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..accounts import HostAccounts
from ..host import Host

INIT_USER_NS = 0xEFFFFFFD  # fixed inode of the initial user namespace (include/linux/proc_ns.h)
CAP_SYS_PTRACE = 19

KIND_ROOT = "root"
KIND_USER = "user"
KIND_CONTAINER = "container"
KIND_EVERYONE = "everyone"


@dataclass(frozen=True, slots=True)
class Creds:
    """The credentials of one process, as the host sees them (ids already translated to host ids)."""

    uids: tuple[int, int, int, int]  # real, effective, saved, filesystem
    gids: tuple[int, int, int, int]
    cap_eff: int = 0
    cap_prm: int = 0
    user_ns: int | None = INIT_USER_NS
    pid_ns: int | None = None
    dumpable: bool = True  # /proc/PID/environ is owned by the euid only while the process is dumpable
    userns_owner: int | None = None  # uid that created the user namespace (NS_GET_OWNER_UID), if not initial

    @property
    def euid(self) -> int:
        return self.uids[1]

    @property
    def in_init_userns(self) -> bool:
        return self.user_ns in (None, INIT_USER_NS)

    @classmethod
    def of_user(cls, uid: int, gid: int) -> Creds:
        """A login shell of a host user: no capabilities, initial user namespace."""
        return cls((uid, uid, uid, uid), (gid, gid, gid, gid))


def _has_ptrace_over(reader: Creds, target: Creds) -> bool:
    """ns_capable(T's user namespace, CAP_SYS_PTRACE), for namespaces at most one level below the initial."""
    if (reader.user_ns == target.user_ns or reader.in_init_userns) and reader.cap_eff >> CAP_SYS_PTRACE & 1:
        return True
    # The creator of a user namespace, seen from its parent, holds every capability in it (rootless engines).
    return reader.in_init_userns and not target.in_init_userns and target.userns_owner == reader.euid


def may_read_environ(reader: Creds, target: Creds) -> bool:
    """ptrace_may_access(target, PTRACE_MODE_READ_FSCREDS) for a process with `reader`'s credentials."""
    ptrace = _has_ptrace_over(reader, target)
    same_ids = all(u == reader.uids[3] for u in target.uids[:3]) and all(
        g == reader.gids[3] for g in target.gids[:3]
    )
    if not (same_ids or ptrace):
        return False
    if not target.dumpable and not ptrace:
        return False
    if reader.user_ns == target.user_ns and target.cap_prm & ~reader.cap_eff == 0:
        return True
    return ptrace


@dataclass(frozen=True, slots=True)
class HostUser:
    name: str
    uid: int
    gid: int
    groups: frozenset[int] = frozenset()  # other groups listing the user: `sg`/`newgrp` switches to them

    def possible_creds(self) -> Iterable[Creds]:
        for gid in (self.gid, *sorted(self.groups - {self.gid})):
            yield Creds.of_user(self.uid, gid)


@dataclass(frozen=True, slots=True)
class Reader:
    kind: str  # KIND_ROOT, KIND_USER, KIND_CONTAINER, KIND_EVERYONE
    name: str
    why: str
    uid: int | None = None
    container_id: str | None = field(default=None)

    @property
    def label(self) -> str:
        if self.kind == KIND_USER:
            return f"{self.name}({self.uid})"
        if self.kind == KIND_CONTAINER:
            return f"ctr:{self.name}"
        return self.name

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "uid": self.uid,
            "container_id": self.container_id,
            "why": self.why,
        }


ROOT = Reader(KIND_ROOT, "root", "host root holds CAP_SYS_PTRACE", uid=0)
EVERYONE = Reader(KIND_EVERYONE, "everyone", "/proc/PID/cmdline is world-readable")


def environ_readers(
    target: Creds,
    users: Iterable[HostUser],
    containers: Iterable[tuple[str, str, Iterable[Creds]]] = (),
) -> list[Reader]:
    """Root, the host users, and the other containers (id, name, creds of its processes) that can read it."""
    found = [ROOT]
    for user in users:
        if user.uid == 0:
            continue
        # A login shell holds no capabilities: only the same uid, or owning the target's user namespace, can pass.
        if user.uid not in target.uids[:3] and user.uid != target.userns_owner:
            continue
        if any(may_read_environ(c, target) for c in user.possible_creds()):
            found.append(Reader(KIND_USER, user.name, _user_why(user, target), uid=user.uid))
    for cid, name, creds in containers:
        if any(may_read_environ(c, target) for c in creds):
            found.append(
                Reader(
                    KIND_CONTAINER,
                    name,
                    "shares a PID namespace with it and its caps cover the target's",
                    container_id=cid,
                )
            )
    return found


def _user_why(user: HostUser, target: Creds) -> str:
    if not target.in_init_userns and target.userns_owner == user.uid:
        return "owns the container's user namespace"
    return "same uid and gid, container holds no capabilities beyond the user's"


def cmdline_readers(target: Creds, users: Iterable[HostUser], hidepid: bool) -> list[Reader]:
    """Everyone, unless the host's /proc hides other users' processes (hidepid=1/2): then root and the
    users with the process's uid."""
    if not hidepid:
        return [EVERYONE]
    found = [ROOT]
    found += [
        Reader(KIND_USER, u.name, "same uid (hidepid)", uid=u.uid)
        for u in users
        if u.uid == target.uids[0] and u.uid != 0
    ]
    return found


def host_users(host: Host) -> list[HostUser]:
    """The host's users from <host-root>/etc/passwd and /etc/group (`ctrlens.accounts`): `pwd` would describe
    the machine ctrlens runs on, which under --host-root is not the host."""
    accounts = HostAccounts(host)
    groups = accounts.group_members()
    return [HostUser(name, uid, gid, frozenset(groups.get(name, ()))) for name, uid, gid in accounts.users()]
