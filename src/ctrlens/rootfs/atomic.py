"""Creating, replacing and removing entries relative to a directory fd, without following anything.

Shared by both sides: writes into a container (the dir fd came from openat2) and host-side copy destinations
(the dir fd came from the directory the user named). Rules from host-facts §2:
- new entries: O_CREAT|O_EXCL|O_NOFOLLOW (EEXIST on anything there, dangling symlinks included);
- replacing: write a temp file beside it, then rename over the name (rename never follows the old entry);
- in place (bind-mounted single files, which cannot be renamed over): O_PATH + fstat + nlink==1 + reopen;
- metadata through fds: fchown first (it clears set-id bits), then fchmod, then futimens.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Self

from ..linux.fs import chown_fd, mount_id, rename_noreplace
from .errors import RootfsError, UnsafeFile, kind_name
from .fdcopy import copy_fd
from .fdwindow import after_pop, after_push
from .safeopen import check_regular, open_dir_at, open_path_at, reopen

TEMP_PREFIX = b".ctrlens-"
_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC

CREATED = "created"
REPLACED = "replaced"
OVERWRITTEN = "overwrote in place"


def temp_name() -> bytes:
    return TEMP_PREFIX + secrets.token_hex(8).encode() + b".tmp"


@dataclass(frozen=True, slots=True)
class Meta:
    """Metadata to give something we create, in HOST ids. None leaves that part as the kernel made it."""

    mode: int | None = None  # permission bits (07777)
    uid: int | None = None
    gid: int | None = None
    times_ns: tuple[int, int] | None = None  # (atime, mtime)


def apply_meta(fd: int, meta: Meta) -> None:
    """Set owner, mode and times on an open (non-O_PATH) fd."""
    if meta.uid is not None or meta.gid is not None:
        os.fchown(fd, -1 if meta.uid is None else meta.uid, -1 if meta.gid is None else meta.gid)
    if meta.mode is not None:
        os.fchmod(fd, meta.mode & 0o7777)
    if meta.times_ns is not None:
        os.utime(fd, ns=meta.times_ns)


def is_mount_point_at(dirfd: int, name: bytes) -> bool:
    """Is entry `name` of `dirfd` a mount point in ITS mount namespace? The kernel's own EBUSY check for rename
    and unlink only looks at OUR namespace, so a container's bind-mounted /etc/hosts would be silently
    renamed over (detaching docker's file) unless we ask."""
    try:
        inner = mount_id(dirfd, name)
    except OSError:
        return False
    return inner is not None and inner != mount_id(dirfd)


def lstat_at(dirfd: int, name: bytes) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class FileWriter:
    """Write a regular file `name` in directory `dirfd` atomically: a temp file, then a rename at `commit`.

    On any failure before commit (ENOSPC, the container stopping…) the temp file is removed: nothing
    half-written is ever visible under `name`. `replace=False` refuses to clobber anything (RENAME_NOREPLACE).
    """

    def __init__(
        self, dirfd: int, name: bytes, shown: str, *, replace: bool, check: Callable[[], None] | None = None
    ) -> None:
        self.dirfd = dirfd
        self.name = name
        self.shown = shown
        self.replace = replace
        self.check = check
        self.tmp = temp_name()
        self.fd = -1
        self.existing: os.stat_result | None = None

    def __enter__(self) -> Self:
        self.existing = lstat_at(self.dirfd, self.name)
        if self.existing is not None:
            if not self.replace:
                raise RootfsError(f"{self.shown}: already exists")
            _check_replaceable(self.existing, self.shown)
        self.fd = os.open(self.tmp, _NEW, 0o600, dir_fd=self.dirfd)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abort()

    def abort(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
            with contextlib.suppress(OSError):
                os.unlink(self.tmp, dir_fd=self.dirfd)

    def commit(self, meta: Meta) -> str:
        """Apply metadata, flush, and move into place. Returns CREATED, REPLACED or OVERWRITTEN."""
        try:
            apply_meta(self.fd, meta)
            if self.existing is not None:
                # Replacing data: flush first, so a crash leaves the old file or the new one, never an empty one.
                # A new file has nothing to lose (cp and docker cp never fsync; it would double the copy time).
                os.fsync(self.fd)
            if self.check:
                self.check()
            action = self._move_into_place()
        except BaseException:
            self.abort()
            raise
        os.close(self.fd)
        self.fd = -1
        return action

    def _move_into_place(self) -> str:
        if not self.replace:
            rename_noreplace(self.dirfd, self.tmp, self.dirfd, self.name)
            return CREATED
        current = lstat_at(self.dirfd, self.name)
        if current is not None:
            _check_replaceable(current, self.shown)
            if is_mount_point_at(self.dirfd, self.name):
                return self._overwrite()
        try:
            os.rename(self.tmp, self.name, src_dir_fd=self.dirfd, dst_dir_fd=self.dirfd)
        except OSError as exc:
            if exc.errno != errno.EBUSY:
                raise
            return self._overwrite()
        return CREATED if current is None else REPLACED

    def _overwrite(self) -> str:
        # A bind-mounted single file (docker's /etc/hosts): the mount pins the inode, so overwrite that inode.
        readable = os.open(f"/proc/self/fd/{self.fd}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            overwrite_in_place(self.dirfd, self.name, readable, self.shown)
        finally:
            os.close(readable)
        os.unlink(self.tmp, dir_fd=self.dirfd)
        return OVERWRITTEN


def _check_replaceable(st: os.stat_result, shown: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise RootfsError(f"{shown}: is a directory")
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
        raise UnsafeFile(f"refusing to replace {shown}: {kind_name(st.st_mode)}")


def overwrite_in_place(dirfd: int, name: bytes, src_fd: int, shown: str) -> None:
    """Overwrite regular file `name` keeping its inode: O_PATH, fstat, one link only, reopen, write, truncate."""
    pfd = open_path_at(dirfd, name)
    try:
        st = check_regular(pfd, shown, verb="overwrite")
        if st.st_nlink != 1:
            raise UnsafeFile(f"refusing to overwrite {shown} in place: it has {st.st_nlink} hard links")
        wfd = reopen(pfd, os.O_WRONLY, st)
    finally:
        os.close(pfd)
    try:
        os.lseek(src_fd, 0, os.SEEK_SET)
        size = copy_fd(src_fd, wfd)
        os.ftruncate(wfd, size)
        os.fsync(wfd)
    finally:
        os.close(wfd)


def make_dir_at(dirfd: int, name: bytes, meta: Meta) -> int:
    """mkdir `name` (EEXIST if anything is there) and return it open O_RDONLY, metadata applied."""
    os.mkdir(name, 0o700, dir_fd=dirfd)
    fd = open_dir_at(dirfd, name)  # O_NOFOLLOW: if it was swapped for a symlink already, ELOOP/ENOTDIR
    try:
        apply_meta(fd, Meta(0o755 if meta.mode is None else meta.mode, meta.uid, meta.gid, meta.times_ns))
    except BaseException:
        os.close(fd)
        raise
    return fd


def make_symlink_at(dirfd: int, name: bytes, target: bytes, meta: Meta, *, replace: bool = False) -> str:
    """Create symlink `name` -> `target` (the text is stored, never resolved by us); owner set without following."""
    tmp = temp_name() if replace else name
    os.symlink(target, tmp, dir_fd=dirfd)
    try:
        if meta.uid is not None or meta.gid is not None:
            fd = open_path_at(dirfd, tmp)
            try:
                if stat.S_ISLNK(os.fstat(fd).st_mode):
                    chown_fd(fd, -1 if meta.uid is None else meta.uid, -1 if meta.gid is None else meta.gid)
            finally:
                os.close(fd)
        if not replace:
            return CREATED
        existing = lstat_at(dirfd, name)
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise RootfsError(f"{os.fsdecode(name)}: is a directory")
        if existing is not None and is_mount_point_at(dirfd, name):
            raise UnsafeFile(f"refusing to replace {os.fsdecode(name)}: a mount point")
        os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
        return CREATED if existing is None else REPLACED
    except BaseException:
        if replace:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dirfd)
        raise


def make_fifo_at(dirfd: int, name: bytes, meta: Meta) -> None:
    """mkfifo (never opened by us): an archive may carry one."""
    os.mkfifo(name, 0o600, dir_fd=dirfd)
    fd = open_path_at(dirfd, name)
    try:
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            raise UnsafeFile(f"{os.fsdecode(name)}: changed while it was created")
        if meta.uid is not None or meta.gid is not None:
            chown_fd(fd, -1 if meta.uid is None else meta.uid, -1 if meta.gid is None else meta.gid)
        if meta.mode is not None:
            os.chmod(f"/proc/self/fd/{fd}", meta.mode & 0o7777)  # the fd's own inode: chmod on O_PATH
    finally:
        os.close(fd)


def make_hardlink_at(dirfd: int, name: bytes, source_path_fd: int, *, replace: bool = False) -> str:
    """Hard-link the inode behind an O_PATH fd as `name` (linkat through /proc/self/fd: no path re-resolved)."""
    tmp = temp_name() if replace else name
    os.link(f"/proc/self/fd/{source_path_fd}", tmp, dst_dir_fd=dirfd, follow_symlinks=True)
    if not replace:
        return CREATED
    existing = lstat_at(dirfd, name)
    if existing is not None:
        try:
            _check_replaceable(existing, os.fsdecode(name))
            if is_mount_point_at(dirfd, name):
                raise UnsafeFile(f"refusing to replace {os.fsdecode(name)}: a mount point")
        except BaseException:
            os.unlink(tmp, dir_fd=dirfd)
            raise
    os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)
    return CREATED if existing is None else REPLACED


@dataclass(slots=True)
class _RmFrame:
    name: bytes
    ino: tuple[int, int]
    fd: int  # -1 while out of the fd window
    names: Iterator[bytes]
    rel: bytes


def _close_rm(frame: _RmFrame) -> None:
    if frame.fd >= 0:
        os.close(frame.fd)
        frame.fd = -1


def _reopen_rm(parent: _RmFrame, frame: _RmFrame) -> bool:
    try:
        fd = open_dir_at(parent.fd, frame.name)
    except OSError:
        return False
    got = os.fstat(fd)
    if (got.st_dev, got.st_ino) != frame.ino:
        os.close(fd)
        return False
    frame.fd = fd
    return True


def _lost_rm(frame: _RmFrame) -> None:
    raise RootfsError(f"{os.fsdecode(frame.rel)}: replaced while being removed; stopped")


def _rm_frame(fd: int, name: bytes, rel: bytes) -> _RmFrame:
    st = os.fstat(fd)
    return _RmFrame(name, (st.st_dev, st.st_ino), fd, iter(sorted(map(os.fsencode, os.listdir(fd)))), rel)


def remove_tree_at(
    dirfd: int, name: bytes, *, stay_on_mount: bool = True, skipped: list[tuple[bytes, str]] | None = None
) -> int:
    """rm -r of directory `name`, fd-relative, never following symlinks; returns how many entries went.

    With `stay_on_mount`, directories on other mounts (volumes, /proc) are left alone and listed in `skipped`
    as (relative path, reason); their parents then stay too. Any depth: at most `fdwindow.KEEP` fds are held.
    """
    skipped = skipped if skipped is not None else []
    removed = 0
    top = open_dir_at(dirfd, name)
    top_mnt = mount_id(top)
    stack = [_rm_frame(top, name, name)]
    try:
        while stack:
            here = stack[-1]
            entry = next(here.names, None)
            if entry is None:
                stack.pop()
                _close_rm(here)
                after_pop(stack, _reopen_rm, _close_rm, _lost_rm)
                try:
                    os.rmdir(here.name, dir_fd=stack[-1].fd if stack else dirfd)
                    removed += 1
                except OSError as exc:
                    if exc.errno not in (errno.ENOTEMPTY, errno.EBUSY, errno.EEXIST):
                        raise
                    skipped.append((here.rel, "not empty" if exc.errno != errno.EBUSY else "a mount point"))
                continue
            fd = here.fd
            st = lstat_at(fd, entry)
            if st is None:
                continue
            path = here.rel + b"/" + entry
            if stat.S_ISDIR(st.st_mode):
                child = open_dir_at(fd, entry)
                if stay_on_mount and mount_id(child) != top_mnt:
                    os.close(child)
                    skipped.append((path, "another mount"))
                    continue
                stack.append(_rm_frame(child, entry, path))
                after_push(stack, _close_rm)
                continue
            if stay_on_mount and is_mount_point_at(fd, entry):
                skipped.append((path, "a mount point"))  # unlink would succeed from our namespace: ask first
                continue
            try:
                os.unlink(entry, dir_fd=fd)
                removed += 1
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                skipped.append((path, "a mount point"))
    finally:
        for frame in stack:
            _close_rm(frame)
    return removed
