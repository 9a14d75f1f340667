"""Readers for /proc: `parse` turns bytes into values, `ProcHandle` reads one live process race-free."""

from .handle import ProcHandle
from .parse import (
    CgroupLine,
    IdMapRange,
    MountEntry,
    StatFields,
    cgroup_paths,
    is_identity_map,
    map_to_host,
    ns_inode,
    parse_cgroup,
    parse_cmdline,
    parse_environ,
    parse_id_map,
    parse_mountinfo,
    parse_stat,
    parse_status,
    status_ids,
)

__all__ = [
    "CgroupLine",
    "IdMapRange",
    "MountEntry",
    "ProcHandle",
    "StatFields",
    "cgroup_paths",
    "is_identity_map",
    "map_to_host",
    "ns_inode",
    "parse_cgroup",
    "parse_cmdline",
    "parse_environ",
    "parse_id_map",
    "parse_mountinfo",
    "parse_stat",
    "parse_status",
    "status_ids",
]
