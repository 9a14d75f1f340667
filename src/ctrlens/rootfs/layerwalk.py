"""A lean walk of a host directory tree that holds no mounts of its own, such as an overlay layer.

Same safety as `walk.walk` (fd-relative, each directory opened by name with O_NOFOLLOW|O_DIRECTORY and checked
to be the inode lstat saw, nothing else ever opened), about three times faster on big trees: it trusts
readdir+fstatat (os.scandir on the directory fd) instead of describing every entry with its mount id, since a
layer's content cannot be a mount point. A directory on another device (st_dev differs) is not entered.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from .fdwindow import after_pop, after_push
from .safeopen import open_dir_at

ENTER = "enter"
LEAVE = "leave"
ITEM = "item"


@dataclass(slots=True)
class LayerStep:
    event: str
    path: bytes  # '/'-rooted path inside the tree
    name: bytes  # b"" for the top
    st: os.stat_result  # lstat (a symlink is described, never followed)
    parent_fd: int  # directory fd holding the entry, valid until the next step; -1 for the top
    dir_fd: int = -1  # ENTER and LEAVE: the directory itself (O_RDONLY), valid until the next step

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


@dataclass(slots=True)
class _Frame:
    path: bytes
    name: bytes
    st: os.stat_result
    fd: int  # -1 while out of the fd window
    names: Iterator[bytes]


def _close(frame: _Frame) -> None:
    if frame.fd >= 0:
        os.close(frame.fd)
        frame.fd = -1


def walk_layer(
    top_fd: int, *, on_skip: Callable[[bytes, str], None] | None = None
) -> Generator[LayerStep, None, None]:
    """Pre-order walk below the directory `top_fd` (kept open by the caller), LEAVE after each directory.
    At most `fdwindow.KEEP` directory fds are held, whatever the depth."""
    skip = on_skip or (lambda path, why: None)
    top = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=top_fd)
    top_st = os.fstat(top)
    stack: list[_Frame] = []

    def lose(frame: _Frame) -> None:
        if next(frame.names, None) is not None:
            skip(frame.path, "changed while walking: the rest of it is not listed")
        frame.names = iter(())

    try:
        stack.append(_Frame(b"/", b"", top_st, top, iter(_scan(top))))
        yield LayerStep(ENTER, b"/", b"", top_st, -1, top)
        while stack:
            here = stack[-1]
            name = next(here.names, None)
            if name is None:
                stack.pop()
                try:
                    yield LayerStep(LEAVE, here.path, here.name, here.st, -1, here.fd)
                finally:
                    _close(here)
                    after_pop(stack, _reopen, _close, lose)
                continue
            path = here.path + name if here.path == b"/" else here.path + b"/" + name
            try:
                st = os.stat(name, dir_fd=here.fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since readdir
            if not stat.S_ISDIR(st.st_mode):
                yield LayerStep(ITEM, path, name, st, here.fd)
                continue
            child = _enter(here.fd, name, st, top_st.st_dev, path, skip)
            if child < 0:
                yield LayerStep(ITEM, path, name, st, here.fd)
                continue
            stack.append(_Frame(path, name, st, child, iter(_scan(child))))
            after_push(stack, _close)
            yield LayerStep(ENTER, path, name, st, here.fd if here.fd >= 0 else -1, child)
    finally:
        for frame in stack:
            _close(frame)


def _scan(dirfd: int) -> list[bytes]:
    # Names only (a few dozen bytes each): lstat happens when the walk reaches each one, against the fd then open.
    return [os.fsencode(name) for name in os.listdir(dirfd)]


def _reopen(parent: _Frame, frame: _Frame) -> bool:
    try:
        fd = open_dir_at(parent.fd, frame.name)
    except OSError:
        return False
    got = os.fstat(fd)
    if (got.st_dev, got.st_ino) != (frame.st.st_dev, frame.st.st_ino):
        os.close(fd)
        return False
    frame.fd = fd
    return True


def _enter(
    parent_fd: int, name: bytes, st: os.stat_result, dev: int, path: bytes, skip: Callable[[bytes, str], None]
) -> int:
    if st.st_dev != dev:
        skip(path, "another filesystem: not entered")
        return -1
    try:
        fd = open_dir_at(parent_fd, name)
    except OSError as exc:
        skip(path, f"not entered: {exc.strerror}")
        return -1
    got = os.fstat(fd)
    if (got.st_dev, got.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        skip(path, "changed while walking: not entered")
        return -1
    return fd
