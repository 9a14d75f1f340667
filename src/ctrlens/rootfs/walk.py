"""Tree walks that stay fd-relative: each directory is opened by name from its parent's fd with O_NOFOLLOW, so a
symlinked directory is listed but never entered, and nothing depends on path strings (depth beyond PATH_MAX is
fine). Every entry is lstat'ed; kernel filesystems (/proc, /sys…) inside a container are not entered.
However deep the tree, a walk holds at most `fdwindow.KEEP` directory fds (see fdwindow): depth hides nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass

from ..linux.fs import mount_id, pseudo_fs_name
from .entry import Entry, join
from .fdwindow import after_pop, after_push
from .root import ContainerRoot, cpath
from .safeopen import open_dir_at

ENTER = "enter"  # a directory: its entries follow, then LEAVE
LEAVE = "leave"
ITEM = "item"  # anything else (file, symlink, device…)


@dataclass(slots=True)
class Step:
    event: str
    entry: Entry
    parent_fd: int  # the directory fd holding entry (valid until the next step); -1 for the top
    dir_fd: int = -1  # ENTER and LEAVE: the directory itself, open O_RDONLY (valid until the next step)
    depth: int = 0


@dataclass(slots=True)
class _Frame:
    entry: Entry
    fd: int  # -1 while out of the fd window (re-opened by name when the walk climbs back)
    entries: Iterator[Entry]
    depth: int


def _frame(
    root: ContainerRoot,
    entry: Entry,
    fd: int,
    depth: int,
    all_names: bool,
    skip: Callable[[Entry, str], None],
) -> _Frame:
    frame = _Frame(entry, fd, iter(()), depth)
    frame.entries = _entries(root, frame, all_names, skip)
    return frame


def _close(frame: _Frame) -> None:
    if frame.fd >= 0:
        os.close(frame.fd)
        frame.fd = -1


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
        stack.append(_frame(root, top, top_fd, 0, all_names, skip))
        while stack:
            frame = stack[-1]
            entry = next(frame.entries, None)
            if entry is None:
                stack.pop()
                try:
                    yield Step(LEAVE, frame.entry, -1, frame.fd, frame.depth)
                finally:
                    _close(frame)
                    after_pop(stack, _reopen, _close, lambda lost: _lose(lost, skip))
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
            stack.append(_frame(root, entry, child, frame.depth + 1, all_names, skip))
            after_push(stack, _close)
    finally:
        for frame in stack:
            _close(frame)


def _entries(
    root: ContainerRoot, frame: _Frame, all_names: bool, skip: Callable[[Entry, str], None]
) -> Iterator[Entry]:
    """The directory's entries, sorted, described one at a time (a million-entry directory costs its names,
    not a million stat results), each against the frame's fd as it is then (it may have been re-opened)."""
    names = sorted(os.fsencode(n) for n in os.listdir(frame.fd))
    dir_mnt = mount_id(frame.fd)
    base = frame.entry.path
    for name in names:
        if not all_names and name.startswith(b"."):
            continue
        try:
            yield root.entry_at(frame.fd, name, join(base, name), dir_mnt)
        except FileNotFoundError:
            continue  # removed since the listing
        except OSError as exc:
            skip(Entry(join(base, name), os.stat_result((0,) * 10)), exc.strerror or str(exc))


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


def _reopen(parent: _Frame, frame: _Frame) -> bool:
    """Open `frame` again by its name in `parent` (open): False when it is no longer the directory we listed."""
    try:
        fd = open_dir_at(parent.fd, frame.entry.name)
    except OSError:
        return False
    if not _same_inode(os.fstat(fd), frame.entry.st):
        os.close(fd)
        return False
    frame.fd = fd
    return True


def _lose(frame: _Frame, skip: Callable[[Entry, str], None]) -> None:
    skip(frame.entry, "changed while walking: the rest of it is not listed")
    frame.entries = iter(())


def _with_pseudo(entry: Entry, fs: str) -> Entry:
    return Entry(
        entry.path, entry.st, entry.link_target, entry.mount_id, entry.is_mount_point, entry.mount, fs
    )


def relative(top: bytes, path: bytes) -> bytes:
    """Path of a walked entry relative to the walk's top ('' for the top itself)."""
    top = cpath(top).rstrip(b"/")
    return path[len(top) :].lstrip(b"/") if path.startswith(top) else path.lstrip(b"/")


__all__ = ["ENTER", "ITEM", "LEAVE", "Step", "relative", "walk"]
