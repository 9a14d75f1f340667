"""`ctrlens diff REF`: the files added, changed and deleted in a running container, like `docker diff`."""

from __future__ import annotations

import argparse
import contextlib
import stat
from datetime import UTC, datetime
from typing import Any

from ..errors import EXIT_FINDINGS
from ..output import Column, Result, add_output_option, render_table
from ..text import safe_text
from ._base import Context

NAME = "diff"
ORDER = 50
HELP = "files added, changed and deleted in a container since it started (like docker diff, no daemon)"
DESCRIPTION = """\
What changed in a running container's filesystem since it started, read from the host alone:
A added, C changed, D deleted, as `docker diff` / `podman diff` show them, plus size, mode, owner and
times, and the SHA-256 of each added or changed file with --hash.

Flagged first:
  new-executable   an ELF binary or a script (#!) with an exec bit where the image had no executable
  shadows-image    a file that replaces one of the image (a modified binary or config)
  setuid/setgid, device (a device node: never opened), fifo-or-socket (never opened)

How: Docker, Podman, containerd and CRI-O keep a container's writes in an overlay "upper" layer (its path is
in the container's mountinfo, `ctrlens inspect` shows it). ctrlens walks that layer and compares each entry
with the image's layers: a path the image has is C, else A; whiteouts (character device 0/0) are D; an
opaque directory (trusted.overlay.opaque=y) replaces the image's. The layer is written by the container, so
it is walked without following any symlink, and only regular files are opened.

Directory conventions differ between engines; --like picks one (default: the container's own engine;
containerd and CRI-O use docker's and podman's). Writes to volumes, bind mounts and tmpfs are not in the
writable layer and are not listed (the result says which mounts those are).

Without an overlay (LXC, nspawn, a plain rootfs directory) there is no image to compare with: ctrlens lists
the files whose mtime or ctime is later than the container's init start (kind M: added or changed), cannot
see deletions, and says so. It is a heuristic.

examples:
  ctrlens diff web                        docker diff, with details; flagged entries first
  ctrlens diff web -l --sort path         with mtime and ctime, in path order
  ctrlens diff web --flagged              only what looks dangerous
  ctrlens diff web --hash -o json         with SHA-256, as one JSON document
  ctrlens diff web --kind A -o ndjson     added files, one JSON object a line
  ctrlens diff web --fail-on new-executable   exit 1 when an executable was dropped (CI, cron)
"""
EPILOG = """\
JSON (-o json): {container, method ("overlay" or "mtime-ctime"), style, upperdir, lowerdirs, since, hashed,
summary {added, changed, deleted, modified, new_executables, shadowing_image}, limitations, warnings,
changes: [{kind, path, type, flags, info {type, size, mode, uid, gid, mtime, ctime}, image {…} (what the image
had there), link_target, sha256, sha256_bytes}]}. uid/gid are as stored on the host. --hash reads at most
256 MiB of a file (sha256_bytes says how much; limitations lists the files hashed in part). -o ndjson: one
change a line, with "container" (the id). Paths that are not UTF-8 show their bytes as \\xNN, and the exact
bytes come as path_hex / link_target_hex (docs/json.md).
Exit: 0, or 1 with --fail-on when a matching change exists; 3 unknown REF or stopped container.
"""

KIND_CHOICES = ("A", "C", "D", "M")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ref", metavar="REF", help="container ID or unique prefix, name, or PID in it")
    parser.add_argument("--hash", action="store_true", help="SHA-256 of every added or changed regular file")
    parser.add_argument("-l", "--long", action="store_true", help="table: add modification and change times")
    parser.add_argument(
        "--like",
        choices=("docker", "podman"),
        help="report directories as docker diff or podman diff does (default: the engine's own)",
    )
    parser.add_argument(
        "--kind",
        action="append",
        choices=KIND_CHOICES,
        metavar="KIND",
        help="only changes of this kind: A, C, D, or M (heuristic); repeatable",
    )
    parser.add_argument("--flagged", action="store_true", help="only flagged changes (new executables, …)")
    parser.add_argument(
        "--sort",
        choices=("flagged", "path"),
        default="flagged",
        help="flagged first (default), or by path like docker diff",
    )
    parser.add_argument(
        "--fail-on",
        choices=("any", "new-executable", "flagged"),
        help="exit 1 when a change of this sort exists (after --kind/--flagged filters)",
    )
    add_output_option(parser)


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..diff import NEW_EXECUTABLE, diff_container
    from ..output.progress import Progress
    from ..refs import require_container

    snapshot = ctx.scan()
    container = require_container(args.ref, ctx.resolve)
    progress = Progress(f"ctrlens diff {container.display_name}", ctx.err)  # Progress escapes the name
    try:
        result = diff_container(
            snapshot,
            container,
            ctx.host,
            hash=args.hash,
            style=args.like,
            progress=progress.counter("entries walked"),
        )
    finally:
        progress.done()
    changes = result.ordered() if args.sort == "flagged" else sorted(result.changes, key=lambda c: c.path)
    if args.kind:
        changes = [c for c in changes if c.kind in args.kind]
    if args.flagged:
        changes = [c for c in changes if c.flags]
    for line in result.warnings[:20]:
        ctx.error(f"warning: {safe_text(line)}")
    if len(result.warnings) > 20:
        ctx.error(f"warning: … and {len(result.warnings) - 20} more (-o json lists them all)")

    return Result(
        document=lambda: result.to_dict(changes=changes),
        records_one_a_line=True,
        records=({"container": result.container_id, **c.to_dict()} for c in changes),
        table=lambda: _table(ctx, container, result, changes, args.long),
        exit_code=_exit_code(args.fail_on, changes, NEW_EXECUTABLE),
    )


def _exit_code(fail_on: str | None, changes: list[Any], new_executable: str) -> int:
    if fail_on == "any" and changes:
        return EXIT_FINDINGS
    if fail_on == "new-executable" and any(new_executable in c.flags for c in changes):
        return EXIT_FINDINGS
    if fail_on == "flagged" and any(c.flags for c in changes):
        return EXIT_FINDINGS
    return 0


def _table(ctx: Context, container: Any, result: Any, changes: list[Any], long: bool) -> str:
    """The changes as a table on stdout; the summary and notes on stderr, beside it."""
    owner = _owner_namer(ctx, container.init_pid)
    rows = [_row(c, owner) for c in changes]
    s = result.summary()
    counts = (
        f"{s['modified']} modified or added"
        if result.method != "overlay"
        else f"{s['added']} added, {s['changed']} changed, {s['deleted']} deleted"
    )
    where = (
        f"layer {result.upperdir}"
        if result.upperdir
        else f"files touched since {result.since} (heuristic, no image layer)"
    )
    ctx.error(
        f"{safe_text(container.display_name)}: {counts}; {s['new_executables']} new executable(s); "
        f"{safe_text(where)}"
    )
    for limit in result.limitations:
        ctx.error(f"note: {safe_text(limit)}")
    return render_table(rows, LONG_COLUMNS if long else COLUMNS) if rows else ""


def _row(change: Any, owner: Any) -> dict[str, Any]:
    info = change.info or change.image
    path = change.path.decode("utf-8", "surrogateescape")  # the table shows a byte as \\xNN (safe_text)
    if change.link_target is not None:
        path += " -> " + change.link_target.decode("utf-8", "surrogateescape")
    return {
        "kind": change.kind,
        "type": _TYPE_LETTER.get(change.type, "?"),
        "size": info.size if info and change.info is not None else None,
        "mode": stat.filemode(info.mode) if info else None,
        "owner": owner(info.uid, info.gid) if change.info is not None else None,
        "mtime": _short_time(change.info.mtime_ns) if change.info is not None else None,
        "ctime": _short_time(change.info.ctime_ns) if change.info is not None else None,
        "flags": ",".join(change.flags) or None,
        "path": path,
    }


_TYPE_LETTER = {
    "file": "f",
    "directory": "d",
    "symlink": "l",
    "char-device": "c",
    "block-device": "b",
    "fifo": "p",
    "socket": "s",
}


def _short_time(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _owner_namer(ctx: Context, pid: int | None) -> Any:
    """Owners as the container sees them: host ids mapped through its user namespace, names from ITS passwd."""
    from ..rootfs.root import ContainerRoot

    ids = accounts = None
    if pid is None:
        return lambda uid, gid: f"{uid}:{gid}"
    # Names are a courtesy: numbers are shown when the container cannot be read.
    with contextlib.suppress(Exception), ContainerRoot.from_pid(pid, proc=ctx.host.proc) as root:
        ids, accounts = root.ids, root.accounts()

    def name(uid: int, gid: int) -> str:
        if ids is None or accounts is None:
            return f"{uid}:{gid}"
        inside_uid, inside_gid = ids.uid_from_host(uid), ids.gid_from_host(gid)
        return f"{accounts.user(inside_uid)}:{accounts.group(inside_gid)}"

    return name


COLUMNS = [
    Column("K", "kind", 1, 1),
    Column("T", "type", 1, 1),
    Column("MODE", "mode", 10, 10),
    Column("OWNER", "owner", 5, 17),
    Column("SIZE", "size", 4, 10, ">"),
    Column("FLAGS", "flags", 5, 30),
    Column("PATH", "path", 30, None),
]
LONG_COLUMNS = [
    *COLUMNS[:5],
    Column("MTIME (UTC)", "mtime", 19, 19),
    Column("CTIME (UTC)", "ctime", 19, 19),
    *COLUMNS[5:],
]
