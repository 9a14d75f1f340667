"""Copy OUT of a container onto the host, never writing outside the destination the user named.

Host side: everything is created relative to a dir fd of the destination's parent, with O_EXCL|O_NOFOLLOW,
inside a fresh temp directory (or temp file) that is renamed into place only when the copy is complete, so a
failure (ENOSPC, the container stopping, SIGTERM or Ctrl-C) leaves nothing half-written. Devices, FIFOs and
sockets are skipped.

Hostile sizes: files are copied sparse (data extents only) and only up to the size seen when opened (a file
still growing is cut there, and the report says so); each file must fit in the destination's free space above a
reserve (`space`). Privilege: a copy never mints it. Without -a the copy belongs to whoever runs ctrlens and
set-id bits are dropped; with -a the owner written is the file's HOST owner (st_uid/st_gid: already host ids,
e.g. 100000 for a user-namespaced container's root, never the container's view of them), and set-id bits are
still dropped unless `keep_setid`, and even then kept only when the copy really has the source's host owner.
Every drop is reported.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable

from ..linux.fs import chown_fd, rename_noreplace
from .atomic import FileWriter, Meta, apply_meta, remove_tree_at, temp_name
from .entry import Entry
from .errors import RootfsError, UnsafeFile, kind_name
from .fdcopy import allocated_bytes, copy_sparse
from .fdwindow import DirFrame, after_pop, after_push, close_frame, reopen_frame, replaced
from .interrupt import terminating_cleanly
from .report import CopyReport
from .root import ContainerRoot, show
from .safeopen import open_dir_at, open_path_at, open_regular_at
from .space import SpaceGuard
from .walk import ENTER, ITEM, LEAVE, walk

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


SETID = stat.S_ISUID | stat.S_ISGID


class _HostMeta:
    """Metadata for host copies: `-a` keeps mode, the HOST owner ids and times; otherwise mode minus umask.
    Set-id bits of non-directories are dropped unless `keep_setid` (and -a), and reported."""

    def __init__(self, archive: bool, keep_setid: bool, report: CopyReport) -> None:
        self.archive = archive
        self.keep_setid = keep_setid and archive
        self.report = report
        self.mask = _umask()

    def of(self, st: os.stat_result, path: bytes | None = None) -> Meta:
        """`path` given: `st` is a file being copied, and a set-id bit dropped from it is reported."""
        mode = stat.S_IMODE(st.st_mode)
        if not self.archive:
            kept = mode & 0o777 & ~self.mask
            if path is not None and mode & SETID and not stat.S_ISDIR(st.st_mode):
                self.report.strip(path, mode & SETID, "copied without -a: owned by you")
            return Meta(kept)
        if mode & SETID and not stat.S_ISDIR(st.st_mode) and not self.keep_setid:
            if path is not None:
                self.report.strip(path, mode & SETID, "use --keep-setid to keep it")
            mode &= ~SETID
        # st_uid/st_gid are host ids already (the kernel stores those): write them as they are.
        return Meta(mode, st.st_uid, st.st_gid, (st.st_atime_ns, st.st_mtime_ns))

    def finish(self, fd: int, st: os.stat_result, path: bytes) -> None:
        """Apply metadata to the copy at `fd`; then a set-id bit survives only if the copy's owner is the
        source's host owner (a failed or partial chown, a remapped owner: dropped)."""
        meta = self.of(st, path)
        apply_meta(fd, meta)
        if meta.mode is None or not meta.mode & SETID:
            return
        got = os.fstat(fd)
        wrong = 0
        if meta.mode & stat.S_ISUID and got.st_uid != st.st_uid:
            wrong |= stat.S_ISUID
        if meta.mode & stat.S_ISGID and got.st_gid != st.st_gid:
            wrong |= stat.S_ISGID
        if wrong:
            os.fchmod(fd, meta.mode & ~wrong)
            self.report.strip(path, wrong, "the copy's owner is not the source's host owner")


def host_destination(dest: bytes, default_name: bytes, *, is_dir: bool) -> tuple[int, bytes, bool, bytes]:
    """(O_PATH fd of the directory to create in, name to create, whether an existing file may be replaced,
    the full destination path for messages).

    The destination is the user's own host path, so following it is their choice; below it nothing is followed.
    """
    try:
        st = os.stat(dest)
    except FileNotFoundError:
        st = None
    if st is not None and stat.S_ISDIR(st.st_mode):
        fd = os.open(dest, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return fd, default_name, False, os.path.join(dest, default_name)
    if dest.endswith(b"/"):
        raise RootfsError(f"{os.fsdecode(dest)}: no such directory")
    if st is not None and is_dir:
        raise RootfsError(f"{os.fsdecode(dest)}: exists and is not a directory")
    head, name = os.path.split(dest)
    try:
        fd = os.open(head or b".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise RootfsError(f"{os.fsdecode(head)}: no such directory on the host") from None
    return fd, name, st is not None, dest


def copy_out(
    root: ContainerRoot,
    src: bytes | str,
    dest: bytes | str,
    *,
    recursive: bool = False,
    archive: bool = False,
    follow: bool = False,
    keep_setid: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy container `src` to host `dest` (like `cp`: into `dest` when it is a directory)."""
    with terminating_cleanly():
        return _copy_out(root, src, dest, recursive, archive, follow, keep_setid, progress)


def _copy_out(
    root: ContainerRoot,
    src: bytes | str,
    dest: bytes | str,
    recursive: bool,
    archive: bool,
    follow: bool,
    keep_setid: bool,
    progress: Callable[[str], None] | None,
) -> CopyReport:
    with root.guard(src):
        top = root.entry(src, follow=follow)
    dest_b = os.fsencode(dest)
    default_name = top.name if top.name != b"/" else b"rootfs"
    if top.is_special:
        raise UnsafeFile(f"refusing to copy {show(top.path)}: {kind_name(top.st.st_mode)}")
    if top.is_dir and not recursive:
        raise RootfsError(f"{show(top.path)}: is a directory (use -r)")
    dirfd, name, replace, full = host_destination(dest_b, default_name, is_dir=top.is_dir)
    shown = show(full)
    report = CopyReport(target=shown, on_progress=progress)
    meta = _HostMeta(archive, keep_setid, report)
    try:
        space = SpaceGuard(dirfd, f"the host filesystem of {shown}")
        if top.is_dir:
            _copy_tree(root, top, dirfd, name, meta, report, space)
        elif top.is_symlink:
            _copy_symlink(dirfd, name, top, meta, report, replace=replace)
        else:
            _copy_file(root, top, dirfd, name, meta, report, space, replace=replace)
    except OSError as exc:
        raise _host_error(exc, shown) from None
    finally:
        os.close(dirfd)
    return report


def _host_error(exc: OSError, shown: str) -> RootfsError:
    if exc.errno == errno.ENOSPC:
        return RootfsError(f"no space left on device writing {shown} on the host (nothing written)")
    if exc.errno == errno.EEXIST:
        return RootfsError(f"{shown}: already exists on the host; choose a new destination")
    return RootfsError(f"writing {shown} on the host: {exc.strerror or exc} (nothing written)")


def _copy_file(
    root: ContainerRoot,
    top: Entry,
    dirfd: int,
    name: bytes,
    meta: _HostMeta,
    report: CopyReport,
    space: SpaceGuard,
    *,
    replace: bool,
) -> None:
    with root.guard(top.path):
        src = root.open_regular(top.path, follow=False, verb="copy")
    try:
        st = os.fstat(src)
        space.admit(allocated_bytes(st), show(top.path))
        with FileWriter(dirfd, name, report.target, replace=replace, check=root.ensure_alive) as writer:
            _copy_data(root, src, writer.fd, st, top.path, report, space)
            meta.finish(writer.fd, st, top.path)
            writer.commit(Meta())
        report.files += 1
        report.progress()
    finally:
        os.close(src)


def _copy_data(
    root: ContainerRoot,
    src: int,
    dst: int,
    st: os.stat_result,
    path: bytes,
    report: CopyReport,
    space: SpaceGuard,
) -> None:
    """The first st_size bytes of `src`, holes kept; a file that grew or shrank meanwhile is noted."""

    def check() -> None:
        root.ensure_alive()
        space.check()
        if report.on_progress is not None:
            report.progress(os.lseek(dst, 0, os.SEEK_END))

    copy_sparse(src, dst, st.st_size, check=check)
    now = os.fstat(src).st_size
    length = min(st.st_size, now)
    os.ftruncate(dst, length)
    report.size += length
    if now > st.st_size:
        report.note(
            path,
            f"grew while copied ({st.st_size} -> {now} bytes): copied the {st.st_size} bytes seen at start",
        )
    elif now < st.st_size:
        report.note(path, f"shrank while copied ({st.st_size} -> {now} bytes): copied {now} bytes")


def _copy_symlink(
    dirfd: int, name: bytes, entry: Entry, meta: _HostMeta, report: CopyReport, *, replace: bool
) -> None:
    if replace:
        raise RootfsError(f"{report.target}: already exists on the host")
    os.symlink(entry.link_target or b"", name, dir_fd=dirfd)
    _own_symlink(dirfd, name, meta.of(entry.st))
    report.links += 1


def _own_symlink(dirfd: int, name: bytes, meta: Meta) -> None:
    if meta.uid is None:
        return
    fd = open_path_at(dirfd, name)
    try:
        chown_fd(fd, meta.uid, -1 if meta.gid is None else meta.gid)
    finally:
        os.close(fd)


def _copy_tree(
    root: ContainerRoot,
    top: Entry,
    dirfd: int,
    name: bytes,
    meta: _HostMeta,
    report: CopyReport,
    space: SpaceGuard,
) -> None:
    tmp = temp_name()
    os.mkdir(tmp, 0o700, dir_fd=dirfd)
    try:
        _fill_tree(root, top, dirfd, tmp, meta, report, space)
        root.ensure_alive()
        rename_noreplace(dirfd, tmp, dirfd, name)
    except BaseException:
        with contextlib.suppress(OSError):
            remove_tree_at(dirfd, tmp, stay_on_mount=False)
        raise


def _fill_tree(
    root: ContainerRoot,
    top: Entry,
    dirfd: int,
    tmp: bytes,
    meta: _HostMeta,
    report: CopyReport,
    space: SpaceGuard,
) -> None:
    hosts: list[DirFrame] = []  # host directories, parallel to the walk's open directories (fd-windowed too)
    try:
        for step in walk(root, top.path, on_skip=lambda e, why: report.skip(e.path, why)):
            entry = step.entry
            if step.event == ENTER:
                if step.depth == 0:
                    fd = open_dir_at(dirfd, tmp)
                else:
                    os.mkdir(entry.name, 0o700, dir_fd=hosts[-1].fd)
                    fd = open_dir_at(hosts[-1].fd, entry.name)
                    report.dirs += 1
                hosts.append(DirFrame.opened(fd, entry.name, entry.st))
                after_push(hosts, close_frame)
            elif step.event == LEAVE:
                frame = hosts.pop()
                try:
                    if frame.st is not None:  # after the contents: a 0555 dir must still take them
                        apply_meta(frame.fd, meta.of(frame.st))
                finally:
                    close_frame(frame)
                after_pop(hosts, reopen_frame, close_frame, replaced)
            elif step.event == ITEM:
                _copy_item(root, step.parent_fd, entry, hosts[-1].fd, meta, report, space)
    finally:
        for frame in hosts:
            close_frame(frame)


def _copy_item(
    root: ContainerRoot,
    parent_fd: int,
    entry: Entry,
    host_dir: int,
    meta: _HostMeta,
    report: CopyReport,
    space: SpaceGuard,
) -> None:
    if entry.pseudo_fs or entry.is_dir:
        return  # a kernel filesystem or a directory the walk did not enter (already reported)
    if entry.is_symlink:
        os.symlink(entry.link_target or b"", entry.name, dir_fd=host_dir)
        _own_symlink(host_dir, entry.name, meta.of(entry.st))
        report.links += 1
        return
    if entry.is_special:
        report.skip(entry.path, f"{kind_name(entry.st.st_mode)}, not copied")
        return
    root.ensure_alive()
    try:
        src, st = open_regular_at(parent_fd, entry.name, show(entry.path))
    except UnsafeFile as exc:  # swapped for a device/FIFO since the listing, or a /proc-like file
        report.skip(entry.path, str(exc))
        return
    except OSError as exc:  # vanished since the listing
        root.ensure_alive()
        report.skip(entry.path, exc.strerror or str(exc))
        return
    try:
        space.admit(allocated_bytes(st), show(entry.path))
        dst = os.open(entry.name, _NEW, 0o600, dir_fd=host_dir)
        try:
            _copy_data(root, src, dst, st, entry.path, report, space)
            meta.finish(dst, st, entry.path)
        finally:
            os.close(dst)
        report.files += 1
        report.progress()
    finally:
        os.close(src)
