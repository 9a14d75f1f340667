"""Path resolution in userspace, one component at a time, for kernels (or seccomp policies) without openat2.

The same idea as libpathrs: hold an O_PATH fd for every directory from the root down, open each component
with O_NOFOLLOW relative to the previous one, read symlinks with readlinkat and splice their text into the
remaining path (absolute ones restart at the root fd), and treat '..' as "pop the stack" so the kernel's own
'..' is never used. Nothing is ever resolved against the host's root, whatever a container swaps meanwhile.
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque

from ..linux.fs import PROC_SUPER_MAGIC, fs_magic, mount_id

MAX_LINKS = 40  # the kernel's MAXSYMLINKS

_OPEN = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def _error(code: int, path: bytes) -> OSError:
    return OSError(code, os.strerror(code), os.fsdecode(path))


def _parts(path: bytes) -> list[bytes]:
    return [c for c in path.split(b"/") if c not in (b"", b".")]


def _names_a_directory(path: bytes) -> bool:
    """'a/', 'a/.' and 'a/..' must end on a directory, and a final symlink there is followed."""
    return path.endswith((b"/", b"/.", b"/..")) or path in (b".", b"..")


def _is_magic(link_fd: int, target: bytes) -> bool:
    # procfs magic links (root, cwd, exe, fd/N, ns/*) read back as absolute paths or "type:[inode]";
    # its ordinary links (self, thread-self, mounts, net) are relative names.
    return fs_magic(link_fd) == PROC_SUPER_MAGIC and (target.startswith(b"/") or b":" in target)


def resolve(
    rootfd: int, path: bytes, *, follow: bool = True, directory: bool = False, no_xdev: bool = False
) -> int:
    """An O_PATH fd for `path` with `rootfd` acting as '/' (the RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS rules).

    `follow=False` returns a final symlink itself; `directory` requires a directory (ENOTDIR otherwise);
    `no_xdev` refuses to cross a mount point (EXDEV). Raises OSError like openat2 would.
    """
    if not path:
        raise _error(errno.ENOENT, path)
    if _names_a_directory(path):
        follow, directory = True, True
    todo = deque(_parts(path))
    root_mnt = mount_id(rootfd) if no_xdev else None
    stack = [os.dup(rootfd)]
    links = 0
    try:
        while todo:
            comp = todo.popleft()
            if comp == b"..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            last = not todo
            try:
                fd = os.open(comp, _OPEN, dir_fd=stack[-1])
            except OSError as exc:
                raise _error(exc.errno or errno.EIO, path) from None
            try:
                st = os.fstat(fd)
                if no_xdev and mount_id(fd) != root_mnt:
                    raise _error(errno.EXDEV, path)
                if stat.S_ISLNK(st.st_mode) and (follow or not last):
                    links += 1
                    if links > MAX_LINKS:
                        raise _error(errno.ELOOP, path)
                    target = os.readlink(b"", dir_fd=fd)
                    if not target:
                        raise _error(errno.ENOENT, path)
                    if _is_magic(fd, target):
                        raise _error(errno.ELOOP, path)
                    if last and _names_a_directory(target):
                        directory = True
                    if target.startswith(b"/"):
                        for held in stack[1:]:
                            os.close(held)
                        del stack[1:]
                    todo.extendleft(reversed(_parts(target)))
                    continue
                if last:
                    if directory and not stat.S_ISDIR(st.st_mode):
                        raise _error(errno.ENOTDIR, path)
                    found, fd = fd, -1
                    return found
                if not stat.S_ISDIR(st.st_mode):
                    raise _error(errno.ENOTDIR, path)
                stack.append(fd)
                fd = -1
            finally:
                if fd >= 0:
                    os.close(fd)
        # The path ended on the root or on '..': the directory we stand in.
        return os.dup(stack[-1])
    finally:
        for held in stack:
            os.close(held)
