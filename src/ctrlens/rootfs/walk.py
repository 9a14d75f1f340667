"""Tree walks that stay fd-relative: each directory is opened by name from its parent's fd with O_NOFOLLOW, so a
symlinked directory is listed but never entered, and nothing depends on path strings (depth beyond PATH_MAX is
fine). Every entry is lstat'ed; kernel filesystems (/proc, /sys…) inside a container are not entered.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from ..linux.fs import mount_id, pseudo_fs_name
from .entry import Entry
from .root import ContainerRoot, cpath, list_fd
from .safeopen import open_dir_at

ENTER = "enter"  # a directory: its entries follow, then LEAVE
LEAVE = "leave"
ITEM = "item"  # anything else (file, symlink, device…)


@dataclass(slots=True)
class Step:
    event: str
    entry: Entry
    parent_fd: int  # the directory fd holding entry (valid until the next step); -1 for the top
    dir_fd: int = -1  # ENTER only: the directory itself, open O_RDONLY (valid until its LEAVE)
    depth: int = 0


@dataclass(slots=True)
class _Frame:
    entry: Entry
    fd: int
    entries: Iterator[Entry]
    depth: int


def _same_inode(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def walk(
    root: ContainerRoot,
    path: str | bytes,
    *,
    cross_mounts: bool = True,
    all_names: bool = True,
    on_skip: Callable[[Entry, str], None] | None = None,
    follow_top: bool = False,
) -> Generator[Step, None, None]:
    """Pre-order walk of `path` (not following it unless `follow_top`), with LEAVE after each directory.

    `cross_mounts=False` stays on the top's mount (rm -r). Directories not entered are reported via `on_skip`
    with a reason: a kernel filesystem, another mount, or a directory swapped while we looked.
    """
    skip = on_skip or (lambda entry, why: None)
    top = root.entry(path, follow=follow_top)
    if not top.is_dir:
        yield Step(ITEM, top, -1)
        return
    top_fd = root.open_dir(top.path, follow=False)
    if not _same_inode(os.fstat(top_fd), top.st):
        os.close(top_fd)
        raise OSError(16, "directory changed while it was opened", os.fsdecode(top.path))
    top_mnt = mount_id(top_fd)
    stack: list[_Frame] = []
    try:
        yield Step(ENTER, top, -1, top_fd, 0)
        stack.append(_Frame(top, top_fd, _entries(root, top_fd, top.path, all_names, skip), 0))
        while stack:
            frame = stack[-1]
            entry = next(frame.entries, None)
            if entry is None:
                stack.pop()
                try:
                    yield Step(LEAVE, frame.entry, -1, frame.fd, frame.depth)
                finally:
                    os.close(frame.fd)
                continue
            if not entry.is_dir:
                yield Step(ITEM, entry, frame.fd, -1, frame.depth + 1)
                continue
            if entry.is_mount_point and not cross_mounts:
                skip(entry, "another mount")
                yield Step(ITEM, entry, frame.fd, -1, frame.depth + 1)
                continue
            child = _enter(frame.fd, entry, skip)
            if child < 0:
                yield Step(ITEM, entry, frame.fd, -1, frame.depth + 1)
                continue
            fs = pseudo_fs_name(child)
            if fs is not None:
                os.close(child)
                skip(entry, f"{fs} filesystem")
                yield Step(ITEM, _with_pseudo(entry, fs), frame.fd, -1, frame.depth + 1)
                continue
            if not cross_mounts and mount_id(child) != top_mnt:
                os.close(child)
                skip(entry, "another mount")
                yield Step(ITEM, entry, frame.fd, -1, frame.depth + 1)
                continue
            try:
                yield Step(ENTER, entry, frame.fd, child, frame.depth + 1)
            except BaseException:
                os.close(child)
                raise
            stack.append(
                _Frame(entry, child, _entries(root, child, entry.path, all_names, skip), frame.depth + 1)
            )
    finally:
        for frame in stack:
            os.close(frame.fd)


def _entries(
    root: ContainerRoot, dirfd: int, base: bytes, all_names: bool, skip: Callable[[Entry, str], None]
) -> Iterator[Entry]:
    def vanished(path: bytes, exc: OSError) -> None:
        skip(Entry(path, os.stat_result((0,) * 10)), exc.strerror or str(exc))

    return iter(list_fd(root, dirfd, base, all_names=all_names, on_error=vanished))


def _enter(parent_fd: int, entry: Entry, skip: Callable[[Entry, str], None]) -> int:
    """Open a subdirectory by name, refusing a symlink; -1 when it is not the directory we lstat'ed."""
    try:
        fd = open_dir_at(parent_fd, entry.name)
    except OSError as exc:
        skip(entry, f"not entered: {exc.strerror}")
        return -1
    if not _same_inode(os.fstat(fd), entry.st):
        os.close(fd)
        skip(entry, "changed while walking")
        return -1
    return fd


def _with_pseudo(entry: Entry, fs: str) -> Entry:
    return Entry(
        entry.path, entry.st, entry.link_target, entry.mount_id, entry.is_mount_point, entry.mount, fs
    )


def relative(top: bytes, path: bytes) -> bytes:
    """Path of a walked entry relative to the walk's top ('' for the top itself)."""
    top = cpath(top).rstrip(b"/")
    return path[len(top) :].lstrip(b"/") if path.startswith(top) else path.lstrip(b"/")


__all__ = ["ENTER", "ITEM", "LEAVE", "Step", "relative", "walk"]
