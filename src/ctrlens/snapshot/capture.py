"""Capturing one running container into a bundle, read-only: nothing in the container is written or signalled.

Members: metadata.json (the container record), processes.json (tree and each process), mounts.json, net.json,
diff.json (the changes, and which files were captured), files/<path> (content of added and changed files,
flagged ones first, capped), manifest.json (written last by the BundleWriter).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .. import __version__
from ..errors import CtrlensError, PermissionDenied, ProcessGone
from ..host import Host
from ..model import Container, Snapshot
from ..mounts import root_fs
from ..procfs import ProcHandle, parse_mountinfo
from ..rootfs.root import ContainerRoot
from ..secrets import Fingerprinter
from ..secrets.fingerprint import KEY_PATH
from ..secrets.redact import Redactor
from .bundle import BundleWriter
from .net import INET_FILES, parse_inet, parse_unix
from .procinfo import process_tree, read_process

Progress = Callable[..., None]  # progress(stage, count=None, total=None)


@dataclass(slots=True)
class Options:
    reveal: bool = False
    force: bool = False
    max_file_size: int = 8 << 20
    max_total_size: int = 128 << 20
    files: bool = True
    hash: bool = False
    style: str | None = None


@dataclass(slots=True)
class Report:
    path: str
    members: int = 0
    bytes_written: int = 0
    processes: int = 0
    vanished: list[int] = field(default_factory=list)
    files_captured: int = 0
    files_skipped: int = 0
    diff_summary: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    diff_error: str | None = None  # the filesystem part failed: the command must not end as if all is well


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def host_name(host: Host) -> str:
    """The host's name (its /etc/hostname when we look at it through --host-root, e.g. from a pod)."""
    if host.root != "/":
        try:
            with open(host.path("/etc/hostname"), "rb") as f:
                return f.read(256).decode("utf-8", "replace").strip() or "unknown"
        except OSError:
            return "unknown"
    return socket.gethostname()


def take_snapshot(
    snapshot: Snapshot,
    container: Container,
    host: Host,
    dest: str,
    options: Options,
    progress: Progress | None = None,
) -> Report:
    from ..diff import diff_container

    say = progress or (lambda *a, **k: None)
    started = utc_now()
    redactor = Redactor(Fingerprinter.for_host(host.path(KEY_PATH)), reveal=options.reveal)
    with BundleWriter(dest, force=options.force) as bundle:
        report = Report(bundle.dest)
        say("metadata")
        bundle.add_json("metadata.json", _metadata(container, redactor))

        procs = sorted(snapshot.processes_of(container), key=lambda p: p.pid)
        records = []
        for i, proc in enumerate(procs, 1):
            say("processes", i, len(procs))
            record = read_process(proc, host, redactor)
            if record is None:
                report.vanished.append(proc.pid)
            else:
                records.append(record)
        if not records:
            raise ProcessGone(f"container {container.display_name}: every process exited during the snapshot")
        report.processes = len(records)
        bundle.add_json(
            "processes.json",
            {"tree": process_tree(records), "processes": records, "vanished": report.vanished},
        )
        init: int = (
            records[0]["pid"]
            if container.init_pid is None or container.init_pid not in {r["pid"] for r in records}
            else container.init_pid
        )
        say("mounts")
        bundle.add_json("mounts.json", _mounts(init, host))
        say("network")
        bundle.add_json("net.json", _network(init, host, records))

        say("diff")
        report.notes += [f"process {pid} exited during the snapshot" for pid in report.vanished]
        try:
            result = diff_container(
                snapshot,
                container,
                host,
                hash=options.hash,
                style=options.style,
                progress=lambda n: say("diff: entries walked", n),
            )
        except (CtrlensError, OSError) as exc:
            # The rest of the evidence is worth keeping: say why the filesystem part is missing.
            bundle.add_json("diff.json", {"error": str(exc)})
            report.notes.append(f"diff failed: {exc}")
            report.diff_error = str(exc)
        else:
            report.diff_summary = result.summary()
            captured = (
                _capture_files(bundle, result, container, host, options, say, report) if options.files else []
            )
            diff = result.to_dict(order="path")
            diff["captured_files"] = captured
            bundle.add_json("diff.json", diff)
            report.notes += [f"diff: {w}" for w in result.warnings[:200]]
        say("writing")
        manifest = {
            "tool": {"name": "ctrlens", "version": __version__},
            "host": {"name": host_name(host), "kernel": os.uname().release, "host_root": host.root},
            "container": {
                "id": container.id,
                "name": container.name,
                "runtime": container.runtime,
                "image": container.image,
            },
            "started_at": started,
            "finished_at": utc_now(),
            "options": {
                "reveal": options.reveal,
                "max_file_size": options.max_file_size,
                "max_total_size": options.max_total_size,
                "files": options.files,
                "hash": options.hash,
            },
            "notes": report.notes,
        }
        bundle.commit(manifest)
        report.members = len(bundle.members) + 1
        report.bytes_written = os.path.getsize(bundle.dest)
    return report


def _metadata(container: Container, redactor: Redactor) -> dict[str, Any]:
    record = container.to_dict()
    record["labels"] = redactor.labels(container.labels)
    record["annotations"] = redactor.labels(container.annotations)
    return {"container": record}


def _mounts(pid: int, host: Host) -> dict[str, Any]:
    try:
        with ProcHandle(pid, host.proc) as handle:
            entries = parse_mountinfo(handle.read("mountinfo"))
    except (ProcessGone, PermissionDenied) as exc:
        return {"pid": pid, "error": str(exc), "mounts": []}
    fs = root_fs(entries)
    return {
        "pid": pid,
        "rootfs": fs.to_dict() if fs else None,
        "mounts": [{
            "mount_id": m.mount_id, "parent_id": m.parent_id, "major_minor": m.major_minor, "root": m.root,
            "mount_point": m.mount_point, "options": list(m.options), "optional": list(m.optional),
            "fstype": m.fstype, "source": m.source, "super_options": list(m.super_options),
            "read_only": m.read_only,
        } for m in entries],
    }  # fmt: skip


def _network(pid: int, host: Host, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Sockets of the container's network namespace, each with the processes (pid, fd) holding it."""
    holders: dict[int, list[dict[str, Any]]] = {}
    for r in records:
        for f in r["open_files"]:
            if "socket_inode" in f:
                holders.setdefault(f["socket_inode"], []).append(
                    {"pid": r["pid"], "comm": r["comm"], "fd": f["fd"]}
                )
    inet: list[dict[str, Any]] = []
    unix: list[dict[str, Any]] = []
    missing: list[str] = []
    try:
        with ProcHandle(pid, host.proc) as handle:
            net_ns = handle.namespace("net")
            for name in (*INET_FILES, "unix"):
                data = _net_file(handle, name)
                if data is None:
                    missing.append(name)
                elif name == "unix":
                    unix = parse_unix(data)
                else:
                    inet += parse_inet(data, name)
    except (ProcessGone, PermissionDenied) as exc:
        return {"pid": pid, "error": str(exc)}
    for sock in inet + unix:
        sock["processes"] = holders.get(sock["inode"], [])
    listening = [_listen_line(s) for s in inet + unix if s["listening"]]
    host_net = host.host_namespaces().get("net")
    return {
        "pid": pid,
        "net_namespace": net_ns,
        "shared_with_host": None if net_ns is None or host_net is None else net_ns == host_net,
        "listening": listening,
        "inet": inet,
        "unix": unix,
        "missing": missing,
    }


def _net_file(handle: ProcHandle, name: str) -> bytes | None:
    try:
        return handle.read(f"net/{name}")
    except ProcessGone:
        if handle.alive():
            return None  # the file does not exist (no IPv6 in this kernel)
        raise


def _listen_line(sock: dict[str, Any]) -> str:
    who = ", ".join(f"{p['comm']}[{p['pid']}]" for p in sock["processes"]) or "no process of the container"
    if sock["proto"] == "unix":
        return f"unix {sock['type']} {sock['path'] or '(unnamed)'} ({who})"
    addr = sock["local_address"]
    addr = f"[{addr}]" if ":" in addr else addr
    return f"{sock['proto']} {addr}:{sock['local_port']} ({who})"


def _capture_files(
    bundle: BundleWriter,
    result: Any,
    container: Container,
    host: Host,
    options: Options,
    say: Progress,
    report: Report,
) -> list[dict[str, Any]]:
    """Copy added and changed regular files into files/, flagged first, within the per-file and total caps."""
    wanted = [
        c for c in result.ordered() if c.kind in ("A", "C", "M") and c.info is not None and c.type == "file"
    ]
    if not wanted:
        return []
    index: list[dict[str, Any]] = []
    remaining = options.max_total_size
    root = _files_root(result, container, host)
    with root:
        for i, change in enumerate(wanted, 1):
            say("files", i, len(wanted))
            shown = change.path.decode("utf-8", "backslashreplace")
            entry: dict[str, Any] = {"path": shown, "size": change.info.size, "member": None}
            if remaining <= 0:
                entry["skipped"] = "the total size cap was reached (--max-total-size)"
                report.files_skipped += 1
                index.append(entry)
                continue
            limit = min(options.max_file_size, remaining)
            try:
                fd = root.open_regular(change.path, follow=False, verb="capture")
            except (OSError, CtrlensError) as exc:
                entry["skipped"] = str(exc) if isinstance(exc, CtrlensError) else (exc.strerror or str(exc))
                report.files_skipped += 1
                index.append(entry)
                continue
            with os.fdopen(fd, "rb") as source:
                name = "files" + os.fsdecode(change.path)
                member = bundle.add_stream(name, source, limit, mtime=change.info.mtime_ns / 1e9)
            remaining -= member.size
            entry.update(
                member=member.name,
                stored=member.size,
                sha256_stored=member.sha256,
                truncated=member.size < change.info.size,
            )
            report.files_captured += 1
            index.append(entry)
    return index


def _files_root(result: Any, container: Container, host: Host) -> ContainerRoot:
    """Where captured files are read: the writable layer itself, or the container's root (heuristic)."""
    if result.upperdir:
        return ContainerRoot.from_path(
            result.upperdir, label=f"the writable layer of {container.display_name}"
        )
    pid = container.init_pid or (container.pids[0] if container.pids else None)
    if pid is None:
        raise ProcessGone(f"container {container.display_name} has no running process")
    return ContainerRoot.from_pid(pid, proc=host.proc, no_xdev=True, label=container.display_name)
