"""Copy a host file or tree INTO a container, through the safe layer only.

The host source is walked fd-relative as a root of its own (symlinks copied as symlinks, FIFOs and devices on
the host never opened). In the container, parents are resolved with openat2 and every entry is created by name
relative to a directory fd: files through temp + rename, a new tree in a temp directory renamed at the end.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable

from ..linux.fs import rename_noreplace
from .atomic import (
    FileWriter,
    Meta,
    apply_meta,
    lstat_at,
    make_dir_at,
    make_symlink_at,
    remove_tree_at,
    temp_name,
)
from .entry import Entry, join
from .errors import RootfsError, UnsafeFile, kind_name
from .fdcopy import allocated_bytes, copy_sparse
from .fdwindow import DirFrame, after_pop, after_push, close_frame, reopen_frame, replaced
from .interrupt import terminating_cleanly
from .report import CopyReport
from .root import ContainerRoot, cpath, show
from .safeopen import check_regular, open_dir_at, open_regular_at, reopen
from .space import SpaceGuard
from .walk import ENTER, ITEM, LEAVE, relative, walk
from .write import Owner


class _ContainerMeta:
    """Metadata for what lands in the container, in host ids: mode always kept (as docker cp does); with `-a`
    the source's owner (taken as container ids) and times, else the container's root user."""

    def __init__(self, root: ContainerRoot, archive: bool, owner: Owner | None = None) -> None:
        self.root = root
        self.archive = archive
        owner = owner or Owner(0, 0)
        self.default = root.owner_to_host(owner.uid, owner.gid)

    def of(self, st: os.stat_result) -> Meta:
        if self.archive:
            uid, gid = self.root.owner_to_host(st.st_uid, st.st_gid)
            return Meta(stat.S_IMODE(st.st_mode), uid, gid, (st.st_atime_ns, st.st_mtime_ns))
        return Meta(stat.S_IMODE(st.st_mode), *self.default)


def container_destination(
    root: ContainerRoot, dest: bytes, name: bytes, *, is_dir: bool
) -> tuple[bytes, bool]:
    """(container path to write, whether it exists) following `cp` rules: into `dest` when it is a directory."""
    try:
        st = root.stat(dest)
    except FileNotFoundError:
        if dest.endswith(b"/"):
            raise RootfsError(f"{show(dest)}: no such directory in {root.label}") from None
        return root.resolve_final(dest), False
    if stat.S_ISDIR(st.st_mode):
        target = root.resolve_final(join(dest, name))
        return target, root.exists(target, follow=True)
    if is_dir:
        raise RootfsError(f"{show(dest)}: exists in {root.label} and is not a directory")
    return root.resolve_final(dest), True


def copy_in(
    root: ContainerRoot,
    src: bytes | str,
    dest: bytes | str,
    *,
    recursive: bool = False,
    archive: bool = False,
    follow: bool = False,
    owner: Owner | None = None,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Copy host `src` to container `dest` (SIGTERM and Ctrl-C leave no temp file behind); `progress` hears
    "N files, SIZE" as the copy goes (the CLI shows it on a terminal)."""
    with terminating_cleanly():
        return _copy_in(root, src, dest, recursive, archive, follow, owner, progress)


def _copy_in(
    root: ContainerRoot,
    src: bytes | str,
    dest: bytes | str,
    recursive: bool,
    archive: bool,
    follow: bool,
    owner: Owner | None,
    progress: Callable[[str], None] | None,
) -> CopyReport:
    src_b = os.fsencode(src)
    src_st = os.stat(src_b) if follow else os.lstat(src_b)
    name = os.path.basename(src_b.rstrip(b"/")) or b"rootfs"
    if stat.S_ISDIR(src_st.st_mode) and not recursive:
        raise RootfsError(f"{os.fsdecode(src_b)}: is a directory (use -r)")
    if not (stat.S_ISDIR(src_st.st_mode) or stat.S_ISREG(src_st.st_mode) or stat.S_ISLNK(src_st.st_mode)):
        raise UnsafeFile(f"refusing to copy {os.fsdecode(src_b)}: {kind_name(src_st.st_mode)}")
    meta = _ContainerMeta(root, archive, owner)
    with root.guard(dest):
        target, exists = container_destination(root, cpath(dest), name, is_dir=stat.S_ISDIR(src_st.st_mode))
        report = CopyReport(
            target=f"{show(target)} in {root.label}" if root.label else show(target), on_progress=progress
        )
        if stat.S_ISDIR(src_st.st_mode):
            _copy_tree_in(root, src_b, target, exists, meta, report)
        elif stat.S_ISLNK(src_st.st_mode):
            pfd, leaf = root.parent(target)
            try:
                make_symlink_at(pfd, leaf, os.readlink(src_b), meta.of(src_st), replace=True)
            finally:
                os.close(pfd)
            report.links += 1
        else:
            _copy_file_in(root, src_b, target, meta, report, follow=follow)
            st = root.lstat(target)
            uid, gid = root.owner_in_container(st)
            report.detail = f"owner {uid}:{gid} mode {stat.S_IMODE(st.st_mode):04o}"
    return report


def _copy_file_in(
    root: ContainerRoot, src: bytes, target: bytes, meta: _ContainerMeta, report: CopyReport, *, follow: bool
) -> None:
    pfd = os.open(src, os.O_PATH | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
    try:
        st = check_regular(pfd, os.fsdecode(src), verb="copy")
        fd = reopen(pfd, os.O_RDONLY, st)
    finally:
        os.close(pfd)
    try:
        cpfd, leaf = root.parent(target)
        try:
            space = SpaceGuard(cpfd, f"the filesystem of {show(target)} in {root.label or 'the container'}")
            space.admit(allocated_bytes(st), os.fsdecode(src))
            with FileWriter(cpfd, leaf, show(target), replace=True, check=root.ensure_alive) as writer:
                report.size += _copy_data_in(root, fd, writer.fd, st, space, report)
                writer.commit(meta.of(st))
        finally:
            os.close(cpfd)
        report.files += 1
        report.progress()
    finally:
        os.close(fd)


def _copy_tree_in(
    root: ContainerRoot, src: bytes, target: bytes, exists: bool, meta: _ContainerMeta, report: CopyReport
) -> None:
    with ContainerRoot.from_path(src, label="host") as source:
        if exists:
            top_fd = root.open_dir(target)
            try:
                _fill(root, source, top_fd, target, meta, report, merge=True)
            finally:
                os.close(top_fd)
            return
        pfd, leaf = root.parent(target)
        tmp = temp_name()
        try:
            top_fd = make_dir_at(pfd, tmp, Meta(0o700, *meta.default))
            try:
                _fill(root, source, top_fd, target, meta, report, merge=False)
            finally:
                os.close(top_fd)
            root.ensure_alive()
            rename_noreplace(pfd, tmp, pfd, leaf)
        except BaseException:
            with contextlib.suppress(OSError):
                remove_tree_at(pfd, tmp, stay_on_mount=False)
            raise
        finally:
            os.close(pfd)


def _fill(
    root: ContainerRoot,
    source: ContainerRoot,
    top_fd: int,
    target: bytes,
    meta: _ContainerMeta,
    report: CopyReport,
    *,
    merge: bool,
) -> None:
    dirs: list[DirFrame] = []  # container directories, parallel to the walk's (fd-windowed: any depth)
    space = SpaceGuard(top_fd, f"the filesystem of {show(target)} in {root.label or 'the container'}")
    try:
        for step in walk(source, b"/", on_skip=lambda e, why: report.skip(e.path, why)):
            entry = step.entry
            if step.event == ENTER:
                if step.depth == 0:
                    fd = os.dup(top_fd)
                else:
                    fd = _enter_dir(
                        dirs[-1].fd, entry.name, join(target, relative(b"/", entry.path)), merge, meta
                    )
                    report.dirs += 1
                dirs.append(DirFrame.opened(fd, entry.name, entry.st))
                after_push(dirs, close_frame)
            elif step.event == LEAVE:
                frame = dirs.pop()
                try:
                    if frame.st is not None:
                        apply_meta(frame.fd, meta.of(frame.st))
                finally:
                    close_frame(frame)
                after_pop(dirs, reopen_frame, close_frame, replaced)
            elif step.event == ITEM:
                _copy_item_in(root, step.parent_fd, entry, dirs[-1].fd, meta, report, space)
    finally:
        for frame in dirs:
            close_frame(frame)


def _copy_data_in(
    root: ContainerRoot, src: int, dst: int, st: os.stat_result, space: SpaceGuard, report: CopyReport
) -> int:
    """Sparse, and only the size seen at start (a host file still growing is cut there)."""

    def check() -> None:
        root.ensure_alive()
        space.check()
        if report.on_progress is not None:
            report.progress(os.lseek(dst, 0, os.SEEK_END))

    copy_sparse(src, dst, st.st_size, check=check)
    length = min(st.st_size, os.fstat(src).st_size)
    os.ftruncate(dst, length)
    return length


def _enter_dir(parent: int, name: bytes, shown: bytes, merge: bool, meta: _ContainerMeta) -> int:
    try:
        return make_dir_at(parent, name, Meta(0o700, *meta.default))
    except FileExistsError:
        if not merge:
            raise
    # An existing directory is reused; anything else there (a symlink above all) is refused, never followed.
    st = lstat_at(parent, name)
    if st is None or not stat.S_ISDIR(st.st_mode):
        kind = kind_name(st.st_mode) if st else "gone"
        raise UnsafeFile(f"refusing to copy into {show(shown)}: a {kind} in the container, not a directory")
    return open_dir_at(parent, name)


def _copy_item_in(
    root: ContainerRoot,
    src_dir: int,
    entry: Entry,
    dst_dir: int,
    meta: _ContainerMeta,
    report: CopyReport,
    space: SpaceGuard,
) -> None:
    if entry.is_dir or entry.pseudo_fs:
        return
    root.ensure_alive()
    if entry.is_symlink:
        make_symlink_at(dst_dir, entry.name, entry.link_target or b"", meta.of(entry.st), replace=True)
        report.links += 1
        return
    if entry.is_special:
        report.skip(entry.path, f"{kind_name(entry.st.st_mode)} on the host, not copied")
        return
    src, st = open_regular_at(src_dir, entry.name, os.fsdecode(entry.path))
    try:
        space.admit(allocated_bytes(st), os.fsdecode(entry.path))
        with FileWriter(
            dst_dir, entry.name, show(entry.path), replace=True, check=root.ensure_alive
        ) as writer:
            report.size += _copy_data_in(root, src, writer.fd, st, space, report)
            writer.commit(meta.of(st))
        report.files += 1
        report.progress()
    finally:
        os.close(src)
