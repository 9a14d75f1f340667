"""`ctrlens inspect REF`: processes, namespaces, cgroup, root filesystem and metadata of one container or process."""

from __future__ import annotations

import argparse
from typing import Any

from ..output import add_output_option, safe_text, write_json, write_ndjson

NAME = "inspect"
ORDER = 15
HELP = "everything known of one container or process"
DESCRIPTION = """\
All that ctrlens knows of one container (or of the container a PID belongs to): its processes, the shim
above it, its namespaces and which are shared with the host, its cgroup path, its root filesystem and
where that lives on the host (the overlay upper dir), the user-namespace map, and metadata read from the
runtime's own files (name, image, labels, restart policy, Kubernetes pod).

examples:
  ctrlens inspect web
  ctrlens inspect 4242 -o json
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="container ID or unique prefix, name, or PID")
    parser.add_argument(
        "--reveal",
        action="store_true",
        help="show secrets in command lines and labels instead of redacting them",
    )
    add_output_option(parser)


def run(args: argparse.Namespace, ctx: Any) -> int:
    from ..inspect import inspect_target
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host, reveal=args.reveal).mask_snapshot(snapshot)  # secrets in argv and labels
    target = ctx.resolve(args.ref)
    record = inspect_target(snapshot, target, ctx.host)
    if args.output == "json":
        write_json(record, ctx.out)
    elif args.output == "ndjson":
        write_ndjson([record], ctx.out)
    else:
        ctx.out.write(render(record) + "\n")
    return 0


def _kv(lines: list[str], key: str, value: Any) -> None:
    if value in (None, "", [], {}):
        return
    lines.append(f"  {key + ':':<18}{safe_text(str(value))}")


def render(record: dict[str, Any]) -> str:
    lines: list[str] = []
    c = record.get("container")
    proc = record.get("process")
    if record["kind"] == "process" and proc:
        lines.append(f"Process {proc['pid']}  ({proc['command']})")
        _kv(lines, "user", proc["user"])
        _kv(lines, "ppid", proc["ppid"])
        _kv(lines, "pid in ctr", proc["pid_in_container"])
        _kv(lines, "cgroup", proc["cgroup"])
        if c is None:
            lines.append(f"  {'container:':<18}none (a host process)")
        lines.append("")
    if c:
        lines.append(f"Container {c['name'] or c['short_id']}")
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
        lines.append(f"Shim {s['pid']}: {safe_text(s['command'])}")
        lines.append("")
    if record.get("processes"):
        lines.append("Processes")
        lines.append(f"  {'PID':>7} {'CTR-PID':>7}  {'USER':<8}  COMMAND")
        for p in record["processes"]:
            lines.append(
                f"  {p['pid']:>7} {p['pid_in_container'] or '-':>7}  {p['user']:<8}  {safe_text(p['command'])}"
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
        lines.append(f"(could not read everything: {record['unreadable']})")
    return "\n".join(lines).rstrip()
