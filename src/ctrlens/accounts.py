"""User and group names: the one parser of passwd/group files, and the host's accounts read through `Host`.

The host's names come from `<host-root>/etc/passwd` and `/etc/group`, never from `pwd`/`grp`: those describe the
machine ctrlens runs on, which under `--host-root` (the DaemonSet's `/host`) is not the host. A container's names
come from ITS files, read through `rootfs` and parsed here (`Accounts.parse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .host import Host

ACCOUNTS_LIMIT = 4 << 20  # a bigger passwd/group file is hostile or broken: names are a courtesy


def parse_names(data: bytes) -> dict[int, str]:
    """name:x:ID:… lines of passwd/group; the first name for an id wins, as getpwuid does."""
    names: dict[int, str] = {}
    for line in data.splitlines():
        parts = line.split(b":")
        if len(parts) < 3 or not parts[0] or line.startswith(b"#"):
            continue
        try:
            ident = int(parts[2])
        except ValueError:
            continue
        names.setdefault(ident, parts[0].decode("utf-8", "replace"))
    return names


def parse_passwd(data: str) -> list[tuple[str, int, int]]:
    """(name, uid, gid) from an /etc/passwd text; malformed lines are skipped."""
    users = []
    for line in data.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].isdigit() and parts[3].isdigit():
            users.append((parts[0], int(parts[2]), int(parts[3])))
    return users


def parse_group(data: str) -> dict[str, set[int]]:
    """User name -> gids of the groups that list it as a member."""
    members: dict[str, set[int]] = {}
    for line in data.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[2].isdigit():
            for member in filter(None, parts[3].split(",")):
                members.setdefault(member.strip(), set()).add(int(parts[2]))
    return members


@dataclass(slots=True)
class Accounts:
    """User and group names by id (of a container from its files, or of the host from `HostAccounts`)."""

    users: dict[int, str] = field(default_factory=dict)
    groups: dict[int, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, passwd: bytes, group: bytes) -> Accounts:
        return cls(parse_names(passwd), parse_names(group))

    def user(self, uid: int) -> str:
        return self.users.get(uid, str(uid))

    def group(self, gid: int) -> str:
        return self.groups.get(gid, str(gid))

    def uid_of(self, name: str) -> int | None:
        return next((uid for uid, n in self.users.items() if n == name), None)

    def gid_of(self, name: str) -> int | None:
        return next((gid for gid, n in self.groups.items() if n == name), None)


class HostAccounts:
    """The host's passwd and group, read through `Host` on first use, then kept (one scan, one run)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._passwd: bytes | None = None
        self._group: bytes | None = None
        self._names: Accounts | None = None

    def passwd(self) -> bytes:
        if self._passwd is None:
            self._passwd = read_host_file(self.host, "/etc/passwd")
        return self._passwd

    def group(self) -> bytes:
        if self._group is None:
            self._group = read_host_file(self.host, "/etc/group")
        return self._group

    def names(self) -> Accounts:
        if self._names is None:
            self._names = Accounts(parse_names(self.passwd()))
        return self._names

    def user_name(self, uid: int) -> str:
        """The host's name for a uid, or the number when the host has no such user."""
        return self.names().user(uid)

    def name_of(self, uid: int) -> str | None:
        """The host's name for a uid, or None."""
        return self.names().users.get(uid)

    def users(self) -> list[tuple[str, int, int]]:
        """(name, uid, gid) of every host user."""
        return parse_passwd(self.passwd().decode("utf-8", "replace"))

    def group_members(self) -> dict[str, set[int]]:
        """User name -> gids of the host groups that list it as a member."""
        return parse_group(self.group().decode("utf-8", "replace"))


def read_host_file(host: Host, host_path: str) -> bytes:
    """An accounts file of the host (b"" when unreadable), at most ACCOUNTS_LIMIT bytes."""
    try:
        with open(host.path(host_path), "rb") as f:
            return f.read(ACCOUNTS_LIMIT)
    except OSError:
        return b""
