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
    dir_fd: int = -1  # ENTER: the directory itself (O_RDONLY), valid until its LEAVE

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)


def walk_layer(
    top_fd: int, *, on_skip: Callable[[bytes, str], None] | None = None
) -> Generator[LayerStep, None, None]:
    """Pre-order walk below the directory `top_fd` (kept open by the caller), LEAVE after each directory."""
    skip = on_skip or (lambda path, why: None)
    top = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=top_fd)
    top_st = os.fstat(top)
    stack: list[tuple[LayerStep, Iterator[os.DirEntry[str]]]] = []
    try:
        first = LayerStep(ENTER, b"/", b"", top_st, -1, top)
        yield first
        stack.append((first, iter(_scan(top))))
        while stack:
            here, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                try:
                    yield LayerStep(LEAVE, here.path, here.name, here.st, -1, here.dir_fd)
                finally:
                    os.close(here.dir_fd)
                continue
            name = os.fsencode(entry.name)
            path = here.path + name if here.path == b"/" else here.path + b"/" + name
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since readdir
            if not stat.S_ISDIR(st.st_mode):
                yield LayerStep(ITEM, path, name, st, here.dir_fd)
                continue
            child = _enter(here.dir_fd, name, st, top_st.st_dev, path, skip)
            if child < 0:
                yield LayerStep(ITEM, path, name, st, here.dir_fd)
                continue
            step = LayerStep(ENTER, path, name, st, here.dir_fd, child)
            try:
                yield step
            except BaseException:
                os.close(child)
                raise
            stack.append((step, iter(_scan(child))))
    finally:
        for step, _ in stack:
            os.close(step.dir_fd)


def _scan(dirfd: int) -> list[os.DirEntry[str]]:
    # Read the whole directory now: its fd is reused for opening children while we go through it.
    with os.scandir(dirfd) as it:
        return list(it)


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
