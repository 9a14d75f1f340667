"""All that is known of one container or process: the record `ctrlens inspect` shows, and its text view.

The text view lives here, below the faces, because two faces show it: `ctrlens inspect` and `top`'s Facts tab.
Every string from the container goes through `safe_text`.
"""

from __future__ import annotations

from typing import Any

from .errors import CtrlensError
from .host import Host
from .model import Snapshot
from .mounts import read_mounts, root_fs
from .namespaces import namespaces_of
from .procfs import ProcHandle, is_identity_map, parse_id_map
from .refs import Target
from .text import safe_text, shorten

HEADER_COMMAND = 200  # characters of a command line in a heading; the Processes list shows it whole


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


def _kv(lines: list[str], key: str, value: Any) -> None:
    if value in (None, "", [], {}):
        return
    lines.append(f"  {key + ':':<18}{safe_text(str(value))}")


def render(record: dict[str, Any]) -> str:
    lines: list[str] = []
    c = record.get("container")
    proc = record.get("process")
    if record["kind"] == "process" and proc:
        lines.append(f"Process {proc['pid']}  ({shorten(safe_text(proc['command']), HEADER_COMMAND)})")
        _kv(lines, "user", proc["user"])
        _kv(lines, "ppid", proc["ppid"])
        _kv(lines, "pid in ctr", proc["pid_in_container"])
        _kv(lines, "cgroup", proc["cgroup"])
        if c is None:
            lines.append(f"  {'container:':<18}none (a host process)")
        lines.append("")
    if c:
        lines.append(f"Container {safe_text(c['name'] or c['short_id'])}")
        for key in (
            "id",
            "runtime",
            "image",
            "engine_namespace",
            "init_pid",
            "shim_pid",
            "parent_id",
            "cgroup",
            "created",
            "started",
            "bundle",
        ):
            _kv(lines, key.replace("_", " "), c[key])
        if c["pod_info"]:
            pod = c["pod_info"]
            _kv(lines, "pod", f"{pod['namespace']}/{pod['name']} (uid {pod['uid']}, qos {pod['qos']})")
            _kv(lines, "kube container", c["kube_container"])
        if c["restart_policy"]:
            rp = c["restart_policy"]
            text = rp["name"] + (f":{rp['max_retries']}" if rp["max_retries"] else "")
            if rp["restart_count"] is not None:
                text += f" (restarted {rp['restart_count']} times)"
            _kv(lines, "restart", text)
        _kv(lines, "evidence", "; ".join(c["evidence"]))
        _kv(lines, "metadata from", ", ".join(c["metadata_files"]))
        if c["labels"]:
            lines.append("  labels:")
            for k, v in sorted(c["labels"].items()):
                lines.append(f"    {safe_text(k)}={safe_text(str(v))}")
        lines.append("")
    if record.get("shim"):
        s = record["shim"]
        lines.append(f"Shim {s['pid']}: {shorten(safe_text(s['command']), HEADER_COMMAND)}")
        lines.append("")
    if record.get("processes"):
        lines.append("Processes")
        lines.append(f"  {'PID':>7} {'CTR-PID':>7}  {'USER':<8}  COMMAND")
        for p in record["processes"]:
            lines.append(
                f"  {p['pid']:>7} {p['pid_in_container'] or '-':>7}  {safe_text(p['user']):<8}  "
                f"{safe_text(p['command'])}"
            )
        lines.append("")
    if record.get("namespaces"):
        lines.append("Namespaces")
        for ns in record["namespaces"]:
            shared = {True: "SHARED with host", False: "private", None: "unknown"}[ns["shared_with_host"]]
            lines.append(f"  {ns['type']:<7} {ns['inode'] or '-':<12} {shared}")
        lines.append("")
    if record.get("user_namespace"):
        un = record["user_namespace"]
        maps = ", ".join(" ".join(map(str, r)) for r in un["uid_map"])
        lines.append(
            f"User namespace: {'remapped' if un['remapped'] else 'none (uids are host uids)'}  uid_map: {maps}"
        )
        lines.append("")
    if record.get("rootfs"):
        fs = record["rootfs"]
        lines.append("Root filesystem")
        _kv(lines, "type", f"{fs['fstype']} ({'read-only' if fs['read_only'] else 'read-write'})")
        _kv(lines, "source", fs["source"])
        _kv(lines, "upper dir", fs["upperdir"])
        _kv(lines, "host path", fs["host_path"])
    if record.get("unreadable"):
        lines.append(f"(could not read everything: {safe_text(record['unreadable'])})")
    return "\n".join(lines).rstrip()
