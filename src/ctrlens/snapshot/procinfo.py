"""One process of a container as a bundle records it, read through its ProcHandle (pidfd + /proc dirfd).

A process that exits while it is read is normal: `read_process` returns None and the bundle says so.
"""

from __future__ import annotations

from typing import Any

from ..errors import CtrlensError, PermissionDenied, ProcessGone
from ..host import Host
from ..model import Process
from ..namespaces import namespaces_of
from ..procfs import ProcHandle, parse_cgroup, parse_cmdline, parse_environ, status_ids
from ..secrets.redact import Redactor
from .net import socket_inode

CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")
MAX_FDS = 4096  # a process with more open files is recorded up to this many (the count says how many)


def parse_maps(data: bytes) -> list[dict[str, Any]]:
    """/proc/PID/maps: address range, permissions, offset, device, inode and the mapped path (or [heap]…)."""
    regions = []
    for line in data.decode("utf-8", "backslashreplace").splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) < 5:
            continue
        start, _, end = fields[0].partition("-")
        regions.append({
            "start": start, "end": end, "perms": fields[1], "offset": fields[2], "dev": fields[3],
            "inode": int(fields[4]) if fields[4].isdigit() else fields[4],
            "path": fields[5] if len(fields) > 5 else None,
        })  # fmt: skip
    return regions


def capabilities(status: dict[str, str]) -> dict[str, Any]:
    from ..audit.capabilities import names

    caps: dict[str, Any] = {}
    for key in CAP_FIELDS:
        raw = status.get(key)
        if raw is None:
            continue
        try:
            mask = int(raw, 16)
        except ValueError:
            continue
        caps[key] = {"hex": raw, "names": names(mask)}
    return caps


def open_files(handle: ProcHandle) -> tuple[list[dict[str, Any]], int]:
    """(fd -> link target, total count). Links are read, never followed."""
    try:
        names = sorted(handle.listdir("fd"), key=lambda n: int(n) if n.isdigit() else -1)
    except PermissionDenied:
        return [], 0
    files = []
    for name in names[:MAX_FDS]:
        try:
            target = handle.readlink(f"fd/{name}")
        except ProcessGone:
            raise
        except (CtrlensError, OSError):
            continue  # closed meanwhile
        record: dict[str, Any] = {"fd": int(name), "target": target}
        inode = socket_inode(target)
        if inode is not None:
            record["socket_inode"] = inode
        files.append(record)
    return files, len(names)


def read_process(proc: Process, host: Host, redactor: Redactor) -> dict[str, Any] | None:
    """The record of one process; None when it exited before it could be read."""
    try:
        with ProcHandle(proc.pid, host.proc) as handle:
            status = handle.status()
            argv = parse_cmdline(handle.read("cmdline"))
            try:
                environ = parse_environ(handle.read_checked("environ"))
                environ_error = None
            except PermissionDenied as exc:
                environ, environ_error = [], str(exc)
            maps = _optional(handle, "maps")
            files, fd_count = open_files(handle)
            cgroup = parse_cgroup(handle.read("cgroup"))
            namespaces = [ns.to_dict() for ns in namespaces_of(handle, host)]
            exe = _optional_link(handle, "exe")
            cwd = _optional_link(handle, "cwd")
            handle.ensure_alive()
    except ProcessGone:
        return None
    shown_argv, argv_findings = redactor.argv_findings(argv)
    nspid = status_ids(status["NSpid"]) if "NSpid" in status else ()
    return {
        "pid": proc.pid,
        "ppid": proc.ppid,
        "pid_in_container": nspid[-1] if len(nspid) > 1 else None,
        "comm": proc.comm,
        "state": status.get("State"),
        "uid": status.get("Uid"),
        "gid": status.get("Gid"),
        "exe": exe,
        "cwd": cwd,
        "cmdline": shown_argv,
        "cmdline_secrets": [f.to_dict() for f in argv_findings],
        "environ": [shown.to_dict() for shown in redactor.environ(environ, strict=True)],
        "environ_unreadable": environ_error,
        "status": status,
        "capabilities": capabilities(status),
        "cgroup": [{"hierarchy": c.hierarchy, "controllers": c.controllers, "path": c.path} for c in cgroup],
        "namespaces": namespaces,
        "open_files": files,
        "open_file_count": fd_count,
        "maps": parse_maps(maps) if maps is not None else None,
    }


def _optional(handle: ProcHandle, name: str) -> bytes | None:
    try:
        return handle.read(name)
    except PermissionDenied:
        return None


def _optional_link(handle: ProcHandle, name: str) -> str | None:
    try:
        return handle.readlink(name)
    except PermissionDenied:
        return None
    except ProcessGone:
        raise
    except (CtrlensError, OSError):
        return None  # a zombie has no exe/cwd


def process_tree(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nested {pid, comm, children} from the records' ppids; roots are processes whose parent is not listed."""
    by_pid = {r["pid"]: {"pid": r["pid"], "comm": r["comm"], "children": []} for r in records}
    roots: list[dict[str, Any]] = []
    for r in sorted(records, key=lambda r: r["pid"]):
        node = by_pid[r["pid"]]
        parent = by_pid.get(r["ppid"])
        (parent["children"] if parent is not None and parent is not node else roots).append(node)
    return roots
