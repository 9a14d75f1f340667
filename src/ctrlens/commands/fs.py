"""`ctrlens fs ls|cat|stat|cp|edit|touch|mkdir|rm`: a container's files from the host, through `ctrlens.rootfs`.

Everything goes through the one safe layer: paths are resolved inside the container's root (openat2
RESOLVE_IN_ROOT), devices/FIFOs/sockets are never opened, writes are atomic and owned by the container's root.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
import sys
from collections.abc import Callable
from typing import Any

from ..errors import CtrlensError, NotFound, UsageError
from ..output import Column, Result, add_output_option, render_table
from ..text import safe_text
from ._base import Context, terminal_line

NAME = "fs"
ORDER = 40
HELP = "list, read, copy and edit a container's files from the host, safely (no shell needed in it)"
DESCRIPTION = """\
Into a container's filesystem from the host, through /proc/PID/root, without following any symlink out of
it: every path is resolved inside the container's root (openat2 RESOLVE_IN_ROOT), device nodes, FIFOs,
sockets and /proc-like files are refused, writes are atomic (temp file + rename) and new files belong to the
container's root user (its mapped uid under a user namespace). Works on images without a shell.

commands:
  ls REF [PATH] [-l] [-a] [-R]     list (owners from the container's /etc/passwd; symlinks shown, not followed)
  cat REF PATH...                  print files
  stat REF PATH                    details of one entry
  cp [-r] [-a] [-L] SRC DST        copy: REF:PATH to a host path, a host path to REF:PATH; '-' is a tar stream
  edit REF PATH                    edit with $VISUAL/$EDITOR on a private copy, written back atomically
  touch REF PATH                   create an empty file or update times
  mkdir [-p] REF PATH              create directories
  rm [-r] [--yes] REF PATH         remove (asks on a terminal before removing a tree)

examples:
  ctrlens fs ls web /etc -l
  ctrlens fs cat web /etc/nginx/nginx.conf
  ctrlens fs cp web:/var/log/nginx ./logs -r
  ctrlens fs cp ./fix.conf web:/etc/nginx/conf.d/
  ctrlens fs cp web:/etc - | tar tv
  EDITOR=nano ctrlens fs edit web /etc/nginx/nginx.conf
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="fs_command", metavar="SUBCOMMAND", required=True)

    p = sub.add_parser("ls", help="list a directory")
    _ref_path(p, optional=True)
    p.add_argument("-l", dest="long", action="store_true", help="long listing (mode, owner, size, time)")
    p.add_argument("-a", dest="all", action="store_true", help="show names starting with '.'")
    p.add_argument("-R", dest="recursive", action="store_true", help="list subdirectories too")
    add_output_option(p)

    p = sub.add_parser("cat", help="print files")
    p.add_argument("ref", metavar="REF")
    p.add_argument("paths", metavar="PATH", nargs="+")

    p = sub.add_parser("stat", help="details of one entry")
    _ref_path(p)
    p.add_argument("-L", dest="follow", action="store_true", help="describe what a symlink points to")
    add_output_option(p)

    p = sub.add_parser("cp", help="copy between a container and the host (REF:PATH, host path, or '-')")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DST")
    p.add_argument("-r", dest="recursive", action="store_true", help="copy directories")
    p.add_argument(
        "-a",
        dest="archive",
        action="store_true",
        help="keep owners (host ids as stored) and times; set-id bits still dropped (see --keep-setid)",
    )
    p.add_argument("-L", dest="follow", action="store_true", help="follow a symlink given as SRC")
    p.add_argument(
        "--keep-setid",
        action="store_true",
        help="with -a, keep setuid/setgid bits on files whose copy has the source's host owner (dropped otherwise)",
    )
    _owner_option(p)

    p = sub.add_parser("edit", help="edit a file with $VISUAL/$EDITOR")
    _ref_path(p)

    p = sub.add_parser("touch", help="create an empty file or update its times")
    _ref_path(p)
    _owner_option(p)
    p.add_argument("-m", "--mode", type=_octal, help="mode of a new file (octal, default 0644)")

    p = sub.add_parser("mkdir", help="create a directory")
    _ref_path(p)
    p.add_argument("-p", dest="parents", action="store_true", help="create parents; no error if it exists")
    _owner_option(p)
    p.add_argument("-m", "--mode", type=_octal, help="mode (octal, default 0755)")

    p = sub.add_parser("rm", help="remove a file, a symlink, or (with -r) a directory tree")
    _ref_path(p)
    p.add_argument("-r", dest="recursive", action="store_true", help="remove a directory and its contents")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask before removing a tree")


def _ref_path(p: argparse.ArgumentParser, *, optional: bool = False) -> None:
    p.add_argument("ref", metavar="REF", help="container ID or unique prefix, name, or PID")
    if optional:
        p.add_argument(
            "path", metavar="PATH", nargs="?", default="/", help="path inside the container (default /)"
        )
    else:
        p.add_argument("path", metavar="PATH", help="path inside the container")


def _owner_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--owner",
        metavar="USER[:GROUP]",
        help="owner of what is created, as the container's user/group names or ids (default 0:0)",
    )


def _octal(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an octal mode: {text!r}") from None
    if not 0 <= value <= 0o7777:
        raise argparse.ArgumentTypeError(f"mode out of range: {text!r}")
    return value


Handler = Callable[[argparse.Namespace, Context], Result | int | None]


def run(args: argparse.Namespace, ctx: Context) -> Result | int:
    handler = _HANDLERS[args.fs_command]
    outcome = handler(args, ctx)
    return outcome if isinstance(outcome, Result) else int(outcome or 0)


# --- reaching the container ---------------------------------------------------------------------------------


def _label(target: Any) -> str:
    container = target.container
    if container is None:
        return f"process {target.pid}"
    return f"{safe_text(container.display_name)} ({container.runtime} {safe_text(container.short_id)})"


def open_root(ctx: Context, ref: str) -> Any:  # -> ContainerRoot
    from ..rootfs import ContainerRoot

    target = ctx.resolve(ref)
    if target.pid is None:
        raise NotFound(f"{ref}: the container has no running process to reach its files through")
    return ContainerRoot.from_pid(target.pid, label=_label(target), proc=ctx.host.proc)


def _owner(root: Any, text: str | None) -> Any:  # -> Owner | None
    from ..rootfs import Owner

    if not text:
        return None
    user, _, group = text.partition(":")
    accounts = root.accounts()

    def ident(value: str, lookup: Any, what: str) -> int:
        if value.isdigit():
            return int(value)
        found = lookup(value)
        if found is None:
            raise UsageError(
                f"no {what} {value!r} in the container's /etc/{'passwd' if what == 'user' else 'group'}"
            )
        return int(found)

    uid = ident(user, accounts.uid_of, "user")
    gid = ident(group, accounts.gid_of, "group") if group else uid
    return Owner(uid, gid)


def _say(ctx: Context, text: str) -> None:
    print(terminal_line(text), file=ctx.out)


def _warn(ctx: Context, lines: list[str]) -> None:
    for line in lines:
        ctx.error(line)


# --- ls -----------------------------------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    """A container name as text that keeps its bytes: the JSON boundary writes `\\xNN` and a `*_hex` sibling
    (docs/json.md), a terminal shows `\\xNN` (`safe_text`)."""
    return raw.decode("utf-8", "surrogateescape")


def _time(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M")


def entry_record(root: Any, entry: Any) -> dict[str, Any]:
    """An entry as JSON (keys stable; the output adds `path_hex`… only when a name is not UTF-8)."""
    st = entry.st
    uid, gid = root.owner_in_container(st)
    accounts = root.accounts()
    record: dict[str, Any] = {
        "path": _text(entry.path),
        "name": _text(entry.name),
        "type": entry.kind,
        "mode": stat.filemode(st.st_mode),
        "mode_octal": f"{stat.S_IMODE(st.st_mode):04o}",
        "nlink": st.st_nlink,
        "uid": uid,
        "gid": gid,
        "user": accounts.user(uid),
        "group": accounts.group(gid),
        "host_uid": st.st_uid,
        "host_gid": st.st_gid,
        "size": st.st_size,
        "device": [os.major(st.st_rdev), os.minor(st.st_rdev)] if entry.is_special and st.st_rdev else None,
        "inode": st.st_ino,
        "mtime": dt.datetime.fromtimestamp(st.st_mtime, dt.UTC).isoformat(),
        "link_target": _text(entry.link_target) if entry.link_target is not None else None,
        "mount_point": entry.is_mount_point,
        "mount": _mount_record(entry),
        "not_entered": entry.pseudo_fs,
    }
    return record


def _mount_record(entry: Any) -> dict[str, Any] | None:
    if not entry.is_mount_point:
        return None
    m = entry.mount
    if m is None:
        return {"mount_id": entry.mount_id, "fstype": None, "source": None, "root": None}
    return {
        "mount_id": m.mount_id,
        "fstype": m.fstype,
        "source": m.source,
        "root": m.root,
        "read_only": m.read_only,
    }


def _decorated_name(record: dict[str, Any], *, long: bool) -> str:
    name = str(record["name"])
    if record["type"] == "directory" and not long:
        name += "/"
    if record["link_target"] is not None:
        name += f" -> {record['link_target']}"
    if record["mount_point"]:
        m = record["mount"]
        origin = (
            m.get("root") if m.get("root") not in (None, "/") else m.get("source")
        )  # bind source or device
        where = " ".join(x for x in (m.get("fstype"), origin) if x)
        name += f"  [mount{': ' + where if where else ''}]"
    if record["not_entered"]:
        name += f"  [{record['not_entered']}]"
    return name


LONG_COLUMNS = [
    Column("MODE", "mode", max_width=10),
    Column("LINKS", "nlink", max_width=5, align=">"),
    Column("USER", "user", max_width=12),
    Column("GROUP", "group", max_width=12),
    Column(
        "SIZE",
        lambda r: ", ".join(map(str, r["device"])) if r["device"] else r["size"],
        max_width=12,
        align=">",
    ),
    Column("MODIFIED", "modified", max_width=16),
    Column("NAME", "shown"),
]


def _ls(args: argparse.Namespace, ctx: Context) -> Result:
    from ..rootfs import walk
    from ..rootfs.walk import ENTER, ITEM

    with open_root(ctx, args.ref) as root:
        with root.guard(args.path):
            top = root.entry(args.path)
            if top.is_symlink and (not args.long or args.path.endswith("/")):
                followed = root.entry(args.path, follow=True)
                top = followed if followed.is_dir else top
        groups: list[tuple[str, list[dict[str, Any]]]] = []
        if not top.is_dir:
            groups.append(("", [entry_record(root, top)]))
        elif not args.recursive:
            with root.guard(top.path):
                entries = root.listdir(top.path, all_names=args.all)
            groups.append((_text(top.path), [entry_record(root, e) for e in entries]))
        else:
            notes: list[str] = []
            current: dict[int, list[dict[str, Any]]] = {}
            with root.guard(top.path):
                for step in walk(
                    root,
                    top.path,
                    all_names=args.all,
                    on_skip=lambda e, why: notes.append(f"not listed: {_text(e.path)}: {why}"),
                ):
                    if step.event == ENTER:
                        current[step.depth] = []
                        groups.append((_text(step.entry.path), current[step.depth]))
                    if step.event in (ENTER, ITEM) and step.depth > 0:
                        current[step.depth - 1].append(entry_record(root, step.entry))
            _warn(ctx, notes)
    records = [r for _, group in groups for r in group]
    return Result(document=records, table=lambda: _ls_table(args, groups))


def _ls_table(args: argparse.Namespace, groups: list[tuple[str, list[dict[str, Any]]]]) -> str:
    blocks = []
    for header, rows in groups:
        for r in rows:
            r["shown"] = _decorated_name(r, long=args.long)
            r["modified"] = _time(dt.datetime.fromisoformat(r["mtime"]).timestamp())
        body = (
            (render_table(rows, LONG_COLUMNS).split("\n", 1)[1] if rows else "")
            if args.long
            else "\n".join(safe_text(r["shown"]) for r in rows)
        )
        title = f"{safe_text(header)}:\n" if args.recursive else ""
        blocks.append(title + body)
    return "\n\n".join(b.rstrip("\n") for b in blocks if b).rstrip("\n") if blocks else ""


# --- cat, stat ----------------------------------------------------------------------------------------------


def _binary_out(ctx: Context) -> Any:
    out = getattr(ctx.out, "buffer", None)
    if out is None:
        raise UsageError("this command writes bytes: its output must be a file or a pipe")
    return out


def _cat(args: argparse.Namespace, ctx: Context) -> int:
    from ..rootfs.fdcopy import copy_fd

    out = _binary_out(ctx)
    status = 0
    with open_root(ctx, args.ref) as root:
        for path in args.paths:
            try:
                with root.guard(path):
                    fd = root.open_regular(path)
                    try:
                        out.flush()
                        copy_fd(fd, out.fileno())
                    finally:
                        os.close(fd)
            except CtrlensError as exc:
                ctx.error(str(exc))
                status = exc.exit_code
    out.flush()
    return status


STAT_FIELDS = [
    ("path", "path"),
    ("type", "type"),
    ("mode", "mode"),
    ("links", "nlink"),
    ("owner", "owner"),
    ("host owner", "host_owner"),
    ("size", "size"),
    ("device", "device"),
    ("inode", "inode"),
    ("link target", "link_target"),
    ("mount", "mount_text"),
    ("access", "atime"),
    ("modify", "mtime"),
    ("change", "ctime"),
]


def _stat(args: argparse.Namespace, ctx: Context) -> Result:
    with open_root(ctx, args.ref) as root:
        with root.guard(args.path):
            entry = root.entry(args.path, follow=args.follow)
        record = entry_record(root, entry)
    st = entry.st
    record["atime"] = dt.datetime.fromtimestamp(st.st_atime, dt.UTC).isoformat()
    record["ctime"] = dt.datetime.fromtimestamp(st.st_ctime, dt.UTC).isoformat()
    record["container"] = root.label
    return Result(document=record, table=lambda: _stat_table(dict(record)))


def _stat_table(record: dict[str, Any]) -> str:
    record["owner"] = f"{record['uid']}:{record['gid']} ({record['user']}:{record['group']})"
    record["host_owner"] = f"{record['host_uid']}:{record['host_gid']}"
    record["mode"] = f"{record['mode']} ({record['mode_octal']})"
    record["device"] = ", ".join(map(str, record["device"])) if record["device"] else None
    if record["mount"]:
        m = record["mount"]
        record["mount_text"] = (
            "mount point: " + " ".join(str(x) for x in (m["fstype"], m["source"], m["root"]) if x)
            or "mount point"
        )
    lines = []
    for label, key in STAT_FIELDS:
        value = record.get(key)
        if value not in (None, ""):
            lines.append(f"{label + ':':<13}{safe_text(str(value))}")
    return "\n".join(lines)


# --- cp -----------------------------------------------------------------------------------------------------


def split_operand(text: str) -> tuple[str, str] | None:
    """('web', '/etc') for 'web:/etc'; None for a host path. A host path with ':' is written './a:b'."""
    ref, sep, path = text.partition(":")
    if not sep or not ref or "/" in ref or text.startswith((".", "/")):
        return None
    return ref, path or "/"


def _cp(args: argparse.Namespace, ctx: Context) -> int:
    from ..rootfs import copy_in, copy_out, read_tar, write_tar

    src, dst = split_operand(args.src), split_operand(args.dst)
    if (src is None) == (dst is None):
        raise UsageError("fs cp: exactly one of SRC and DST must be REF:PATH (a host path with ':' is ./a:b)")
    from ..output.progress import Progress

    # a progress line on a terminal (stderr), never in pipes: long copies and streams say how far they are
    progress = Progress(f"ctrlens fs cp {args.src} {args.dst}", ctx.err)
    try:
        if src is not None:
            with open_root(ctx, src[0]) as root:
                if args.dst == "-":
                    if ctx.out.isatty():
                        raise UsageError(
                            "refusing to write a tar stream to a terminal; pipe it or redirect it"
                        )
                    out = _binary_out(ctx)
                    report = write_tar(
                        root,
                        src[1],
                        out,
                        follow=args.follow,
                        keep_setid=args.keep_setid,
                        progress=progress.update,
                    )
                    out.flush()
                    progress.done()
                    _warn(ctx, report.warnings())
                    if report.failed:
                        ctx.error(f"left {report.failed} file(s) out of the tar stream (listed above)")
                    return 4 if report.failed else 0
                report = copy_out(
                    root,
                    src[1],
                    args.dst,
                    recursive=args.recursive,
                    archive=args.archive,
                    follow=args.follow,
                    keep_setid=args.keep_setid,
                    progress=progress.update,
                )
                report.target = f"{report.target} (host)"
        else:
            if dst is None:
                raise UsageError("cp: one of SRC and DST must be REF:PATH")
            with open_root(ctx, dst[0]) as root:
                if args.src == "-":
                    report = read_tar(
                        root, dst[1], sys.stdin.buffer, archive=args.archive, progress=progress.update
                    )
                else:
                    report = copy_in(
                        root,
                        args.src,
                        dst[1],
                        recursive=args.recursive,
                        archive=args.archive,
                        follow=args.follow,
                        owner=_owner(root, args.owner),
                        progress=progress.update,
                    )
    finally:
        progress.done()
    _warn(ctx, report.warnings())
    _say(ctx, report.summary())
    if report.refused:
        ctx.error(f"refused {report.refused} archive member(s) that would have escaped or were device nodes")
    if report.failed:
        ctx.error(f"could not write {report.failed} archive member(s) (listed above); the rest was extracted")
    return 4 if report.refused or report.failed else 0


# --- edit ---------------------------------------------------------------------------------------------------


def _edit(args: argparse.Namespace, ctx: Context) -> int:
    import shlex
    import subprocess

    from ..rootfs import EditSession

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    with open_root(ctx, args.ref) as root:
        session = EditSession(root, args.path)
        copy = session.fetch()
        keep = False
        try:
            try:
                code = subprocess.call([*shlex.split(editor), copy])  # noqa: S603 - the user's own $EDITOR
            except OSError as exc:
                raise CtrlensError(f"cannot run editor {editor!r}: {exc.strerror or exc}") from None
            if code != 0:
                keep = True
                raise CtrlensError(f"editor exited with status {code}; nothing written (your copy: {copy})")
            if not session.changed():
                _say(ctx, f"no changes to {safe_text(_text(session.path))}; nothing written")
                return 0
            try:
                change = session.write_back()
            except CtrlensError:
                keep = True
                raise
            _say(ctx, change.describe(root.label))
            return 0
        finally:
            if not keep:
                session.discard()


# --- touch, mkdir, rm ---------------------------------------------------------------------------------------


def _touch(args: argparse.Namespace, ctx: Context) -> int:
    from ..rootfs import touch

    with open_root(ctx, args.ref) as root:
        with root.guard(args.path):
            change = touch(root, args.path, owner=_owner(root, args.owner), mode=args.mode)
        _say(ctx, change.describe(root.label))
    return 0


def _mkdir(args: argparse.Namespace, ctx: Context) -> int:
    from ..rootfs import make_dirs

    with open_root(ctx, args.ref) as root:
        with root.guard(args.path):
            changes = make_dirs(
                root, args.path, parents=args.parents, owner=_owner(root, args.owner), mode=args.mode
            )
        for change in changes:
            _say(ctx, change.describe(root.label))
        if not changes:
            _say(ctx, f"{safe_text(args.path)} already exists in {root.label}; nothing to do")
    return 0


def _confirm(ctx: Context, question: str) -> bool:
    if not sys.stdin.isatty():
        raise UsageError("fs rm -r: not on a terminal, so it cannot ask; pass --yes to remove the tree")
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _rm(args: argparse.Namespace, ctx: Context) -> int:
    from ..rootfs import remove, show

    with open_root(ctx, args.ref) as root:
        with root.guard(args.path):
            entry = root.entry(args.path)
            question = f"remove {show(entry.path)} and everything under it in {root.label}?"
            if entry.is_dir and args.recursive and not args.yes and not _confirm(ctx, question):
                _say(ctx, "nothing removed")
                return 1
            change = remove(root, args.path, recursive=args.recursive)
        _say(ctx, change.describe(root.label))
        _warn(ctx, [f"left {show(path)}: {why}" for path, why in change.skipped])
    return 0


_HANDLERS: dict[str, Handler] = {
    "ls": _ls,
    "cat": _cat,
    "stat": _stat,
    "cp": _cp,
    "edit": _edit,
    "touch": _touch,
    "mkdir": _mkdir,
    "rm": _rm,
}
