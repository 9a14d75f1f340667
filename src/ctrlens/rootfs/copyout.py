"""Copy OUT of a container onto the host, never writing outside the destination the user named.

Host side: everything is created relative to a dir fd of the destination's parent, with O_EXCL|O_NOFOLLOW,
inside a fresh temp directory (or temp file) that is renamed into place only when the copy is complete, so a
failure (ENOSPC, the container stopping) leaves nothing half-written. Devices, FIFOs and sockets are skipped.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from ..linux.fs import chown_fd, rename_noreplace
from .atomic import FileWriter, Meta, apply_meta, remove_tree_at, temp_name
from .entry import Entry
from .errors import RootfsError, UnsafeFile, kind_name
from .fdcopy import copy_fd
from .report import CopyReport
from .root import ContainerRoot, show
from .safeopen import open_dir_at, open_path_at, open_regular_at
from .walk import ENTER, ITEM, LEAVE, walk

_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _HostMeta:
    """Metadata for host copies: `-a` keeps mode, container owner ids and times; otherwise mode minus umask."""

    def __init__(self, root: ContainerRoot, archive: bool) -> None:
        self.root = root
        self.archive = archive
        self.mask = _umask()

    def of(self, st: os.stat_result) -> Meta:
        if not self.archive:
            return Meta(stat.S_IMODE(st.st_mode) & 0o777 & ~self.mask)
        uid, gid = self.root.owner_in_container(st)
        return Meta(stat.S_IMODE(st.st_mode), uid, gid, (st.st_atime_ns, st.st_mtime_ns))


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
) -> CopyReport:
    """Copy container `src` to host `dest` (like `cp`: into `dest` when it is a directory)."""
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
    report = CopyReport(target=shown)
    meta = _HostMeta(root, archive)
    try:
        if top.is_dir:
            _copy_tree(root, top, dirfd, name, meta, report)
        elif top.is_symlink:
            _copy_symlink(dirfd, name, top, meta, report, replace=replace)
        else:
            _copy_file(root, top, dirfd, name, meta, report, replace=replace)
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
    *,
    replace: bool,
) -> None:
    with root.guard(top.path):
        src = root.open_regular(top.path, follow=False, verb="copy")
    try:
        st = os.fstat(src)
        with FileWriter(dirfd, name, report.target, replace=replace, check=root.ensure_alive) as writer:
            report.size += copy_fd(src, writer.fd, check=root.ensure_alive)
            writer.commit(meta.of(st))
        report.files += 1
    finally:
        os.close(src)


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
    root: ContainerRoot, top: Entry, dirfd: int, name: bytes, meta: _HostMeta, report: CopyReport
) -> None:
    tmp = temp_name()
    os.mkdir(tmp, 0o700, dir_fd=dirfd)
    try:
        _fill_tree(root, top, dirfd, tmp, meta, report)
        root.ensure_alive()
        rename_noreplace(dirfd, tmp, dirfd, name)
    except BaseException:
        with contextlib.suppress(OSError):
            remove_tree_at(dirfd, tmp, stay_on_mount=False)
        raise


def _fill_tree(
    root: ContainerRoot, top: Entry, dirfd: int, tmp: bytes, meta: _HostMeta, report: CopyReport
) -> None:
    hosts: list[int] = []  # host dir fds, parallel to the walk's open directories
    pending: list[tuple[int, os.stat_result]] = []
    try:
        for step in walk(root, top.path, on_skip=lambda e, why: report.skip(e.path, why)):
            entry = step.entry
            if step.event == ENTER:
                if step.depth == 0:
                    fd = open_dir_at(dirfd, tmp)
                else:
                    os.mkdir(entry.name, 0o700, dir_fd=hosts[-1])
                    fd = open_dir_at(hosts[-1], entry.name)
                    report.dirs += 1
                hosts.append(fd)
                pending.append((fd, entry.st))
            elif step.event == LEAVE:
                fd, st = pending.pop()
                apply_meta(fd, meta.of(st))  # after the contents: a 0555 directory must still take them
                os.close(hosts.pop())
            elif step.event == ITEM:
                _copy_item(root, step.parent_fd, entry, hosts[-1], meta, report)
    finally:
        for fd in hosts:
            os.close(fd)


def _copy_item(
    root: ContainerRoot, parent_fd: int, entry: Entry, host_dir: int, meta: _HostMeta, report: CopyReport
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
        dst = os.open(entry.name, _NEW, 0o600, dir_fd=host_dir)
        try:
            report.size += copy_fd(src, dst, check=root.ensure_alive)
            apply_meta(dst, meta.of(st))
        finally:
            os.close(dst)
        report.files += 1
    finally:
        os.close(src)
