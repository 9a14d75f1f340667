"""All that is known of one container or process: the record `ctrlens inspect` shows."""

from __future__ import annotations

from typing import Any

from .errors import CtrlensError
from .host import Host
from .model import Snapshot
from .mounts import read_mounts, root_fs
from .namespaces import namespaces_of
from .procfs import ProcHandle, is_identity_map, parse_id_map
from .refs import Target


def inspect_target(snapshot: Snapshot, target: Target, host: Host) -> dict[str, Any]:
    container = target.container
    record: dict[str, Any] = {"kind": "container" if container and not target.by_pid else "process"}
    if target.process is not None:
        record["process"] = snapshot.process_dict(target.process)
    record["container"] = container.to_dict() if container else None
    if container is not None:
        record["processes"] = [snapshot.process_dict(p) for p in snapshot.processes_of(container)]
        shim = snapshot.processes.get(container.shim_pid) if container.shim_pid else None
        record["shim"] = snapshot.process_dict(shim) if shim else None
    pid = target.pid
    record["namespaces"] = None
    record["rootfs"] = None
    record["user_namespace"] = None
    if pid is not None:
        try:
            with ProcHandle(pid, host.proc) as handle:
                record["namespaces"] = [ns.to_dict() for ns in namespaces_of(handle, host)]
                fs = root_fs(read_mounts(handle))
                record["rootfs"] = fs.to_dict() if fs else None
                uid_map = parse_id_map(handle.read("uid_map"))
                record["user_namespace"] = {
                    "uid_map": [[r.inside, r.outside, r.count] for r in uid_map],
                    "remapped": not is_identity_map(uid_map),
                }
        except CtrlensError as exc:
            record["unreadable"] = str(exc)
    return record
