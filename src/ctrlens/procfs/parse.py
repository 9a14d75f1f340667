"""Parsers for /proc files: bytes in, typed values out. No I/O here, so fixture bytes test them directly."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import CtrlensError


@dataclass(slots=True, frozen=True)
class StatFields:
    comm: str
    state: str
    ppid: int
    start_ticks: int  # clock ticks after boot (field 22)
    cpu_ticks: int = 0  # utime + stime (fields 14, 15): CPU rates for `top` and the exporter
    rss_pages: int = 0  # field 24, resident pages (statm's second field)
    flags: int = 0  # field 9, the kernel's PF_* flags

    @property
    def kernel_thread(self) -> bool:
        """PF_KTHREAD: what the kernel says, unlike "pid 2 or ppid 2", which a private pid namespace also has."""
        return bool(self.flags & PF_KTHREAD)


PF_KTHREAD = 0x00200000


class Malformed(CtrlensError, ValueError):
    """A /proc file that is not what the kernel writes (a crafted `--host-root` tree): one line, exit 4."""


def parse_stat(data: bytes) -> StatFields:
    """`/proc/PID/stat`. comm may hold spaces and parentheses: it ends at the LAST ')'. Malformed otherwise."""
    try:
        close = data.rindex(b")")
        comm = data[data.index(b"(") + 1 : close].decode(
            "utf-8", "surrogateescape"
        )  # exact bytes (ctrlens.text)
        rest = data[close + 2 :].split()
        # rest[0] is field 3 (state); field 4 ppid; 9 flags; 14, 15 utime, stime; 22 starttime; 24 rss.
        return StatFields(
            comm=comm,
            state=rest[0].decode("ascii"),
            ppid=_number(rest[1]),
            start_ticks=_number(rest[19]),
            cpu_ticks=_number(rest[11]) + _number(rest[12]),
            rss_pages=_number(rest[21]) if len(rest) > 21 else 0,
            flags=_number(rest[6]),
        )
    except (ValueError, IndexError):
        raise Malformed("a /proc stat file is malformed (not written by the kernel)") from None


def _number(field: bytes) -> int:
    """A decimal field (rss may be negative in old kernels' accounting); ValueError for anything else."""
    if not field.lstrip(b"-").isdigit():
        raise ValueError(field[:20])
    return int(field)


def parse_cmdline(data: bytes) -> list[str]:
    """argv; a process that rewrote its title with spaces and no NULs gives one element."""
    if not data:
        return []
    if data.endswith(b"\0"):
        data = data[:-1]
    return [arg.decode("utf-8", "surrogateescape") for arg in data.split(b"\0")]


def parse_status(data: bytes) -> dict[str, str]:
    """`/proc/PID/status` as a dict of raw string values ("Uid" -> "0\t0\t0\t0")."""
    fields: dict[str, str] = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields[key] = value.strip()
    for key, count in _ID_FIELDS.items():  # garbage ids (crafted trees) read as absent, never half a list
        if key in fields and len(status_ids(fields[key])) < count:
            del fields[key]
    return fields


# Fields of /proc/PID/status holding ids, with how many each must have at least.
_ID_FIELDS = {"Uid": 4, "Gid": 4, "NSpid": 1, "NStgid": 1, "NSpgid": 1, "NSsid": 1, "Pid": 1, "PPid": 1}


def status_ids(value: str) -> tuple[int, ...]:
    """ "0\t0\t0\t0" -> (0, 0, 0, 0): Uid/Gid (real, effective, saved, fs) or NSpid; () for anything that is
    not a list of ids (a crafted tree's garbage), so callers treat it like an absent field."""
    parts = value.split()
    if not parts or not all(part.isascii() and part.isdigit() for part in parts):
        return ()
    return tuple(int(part) for part in parts)


@dataclass(slots=True, frozen=True)
class CgroupLine:
    hierarchy: int  # 0 for cgroup v2
    controllers: str  # "memory", "cpu,cpuacct", "name=systemd", "" for v2
    path: str


def parse_cgroup(data: bytes) -> list[CgroupLine]:
    lines = []
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier.isascii() and hier.isdigit():
            lines.append(CgroupLine(int(hier), controllers, path))
    return lines


# Which cgroup line to trust first: the systemd-named v1 hierarchy, then v2, then memory (Datadog's default).
_PREFERENCE = ("name=systemd", "", "memory", "pids", "cpu,cpuacct", "cpu")


def cgroup_paths(lines: list[CgroupLine]) -> list[str]:
    """Distinct cgroup paths, the most trusted first. On hybrid hosts v1 and v2 lines may disagree."""
    ordered: list[str] = []
    rank = {name: i for i, name in enumerate(_PREFERENCE)}
    for line in sorted(lines, key=lambda ln: rank.get(ln.controllers, len(rank))):
        if line.path not in ordered:
            ordered.append(line.path)
    return ordered


@dataclass(slots=True, frozen=True)
class MountEntry:
    mount_id: int
    parent_id: int
    major_minor: str
    root: str  # the path inside the source filesystem that is mounted
    mount_point: str
    options: tuple[str, ...]  # per-mount options (ro/rw, nosuid…)
    optional: tuple[str, ...]  # shared:N, master:N…
    fstype: str
    source: str
    super_options: tuple[str, ...]  # per-superblock options (upperdir=…, lowerdir=…)

    @property
    def read_only(self) -> bool:
        return "ro" in self.options

    def super_option(self, name: str) -> str | None:
        prefix = name + "="
        for opt in self.super_options:
            if opt.startswith(prefix):
                return opt[len(prefix) :]
        return None


def _unescape_mount(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo octal."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 3 < len(field) + 0 and _octal(field[i + 1 : i + 4]):
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _octal(text: str) -> bool:
    return len(text) == 3 and all(c in "01234567" for c in text)


def parse_mountinfo(data: bytes) -> list[MountEntry]:
    entries = []
    for line in data.decode("utf-8", "surrogateescape").splitlines():
        parts = line.split(" ")
        try:
            sep = parts.index("-", 6)
        except ValueError:
            continue
        if not (parts[0].isascii() and parts[0].isdigit() and parts[1].isascii() and parts[1].isdigit()):
            continue  # a crafted tree's garbage line: not a mount
        entries.append(
            MountEntry(
                mount_id=int(parts[0]),
                parent_id=int(parts[1]),
                major_minor=parts[2],
                root=_unescape_mount(parts[3]),
                mount_point=_unescape_mount(parts[4]),
                options=tuple(parts[5].split(",")),
                optional=tuple(parts[6:sep]),
                fstype=parts[sep + 1],
                source=_unescape_mount(parts[sep + 2]) if len(parts) > sep + 2 else "",
                super_options=tuple(parts[sep + 3].split(",")) if len(parts) > sep + 3 else (),
            )
        )
    return entries


def parse_environ(data: bytes) -> list[tuple[str, str]]:
    """NAME=value pairs in order; entries without '=' are kept with an empty name."""
    pairs = []
    for entry in data.split(b"\0"):
        if not entry:
            continue
        name, sep, value = entry.partition(b"=")
        if not sep:
            name, value = b"", entry
        pairs.append((name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape")))
    return pairs


@dataclass(slots=True, frozen=True)
class IdMapRange:
    inside: int
    outside: int
    count: int


def parse_id_map(data: bytes) -> list[IdMapRange]:
    """`uid_map` / `gid_map`: "0 100000 65536" lines. `0 0 4294967295` means no user namespace."""
    ranges = []
    for line in data.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and all(part.isascii() and part.isdigit() for part in parts):
            ranges.append(IdMapRange(int(parts[0]), int(parts[1]), int(parts[2])))
    return ranges


def map_to_host(ranges: list[IdMapRange], inside_id: int) -> int | None:
    for r in ranges:
        if r.inside <= inside_id < r.inside + r.count:
            return r.outside + (inside_id - r.inside)
    return None


def is_identity_map(ranges: list[IdMapRange]) -> bool:
    return len(ranges) == 1 and ranges[0] == IdMapRange(0, 0, 4294967295)


def ns_inode(link_target: str) -> int | None:
    """ "mnt:[4026531832]" -> 4026531832."""
    start = link_target.find("[")
    digits = link_target[start + 1 : -1]
    if start < 0 or not link_target.endswith("]") or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)
