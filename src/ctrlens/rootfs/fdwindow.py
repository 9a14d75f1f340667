"""Bounded directory fds for walks of any depth (a container can nest 100,000 directories; we get ~1024 fds).

A walk keeps a stack of open directories. Only the deepest `KEEP` of them (and the top) hold an fd; deeper
pushes close the fd of the frame that falls out of the window. When the walk climbs back to a frame whose fd was
closed, it is re-opened by name from the nearest ancestor still open, one component at a time with
O_NOFOLLOW|O_DIRECTORY, each checked to be the inode first seen: a symlink is never followed, and a directory
swapped meanwhile is reported as lost rather than walked in its new place. No path string is built, so depth
beyond PATH_MAX is fine.

Cost: a re-open pass also leaves checkpoints open on its way down (halving the distance each time, a few dozen
fds at most), so the next pass starts near where it is needed: about depth·log(depth) re-opens in all on a
chain (a 10,000-level chain without checkpoints would take ~1M re-opens), nothing on ordinary trees.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .errors import RootfsError
from .safeopen import open_dir_at

KEEP = 48  # directory fds one walk holds at once (a diff runs two walks side by side: well under 1024)


class Frame(Protocol):
    @property
    def fd(self) -> int: ...  # -1 while closed


F = TypeVar("F", bound=Frame)


def after_push(frames: Sequence[F], close: Callable[[F], None], keep: int = KEEP) -> None:
    """Call after each push: close the frame that just left the window (never the top, frames[0])."""
    index = len(frames) - keep - 1
    if index >= 1 and frames[index].fd >= 0:
        close(frames[index])


def after_pop(
    frames: Sequence[F],
    reopen: Callable[[F, F], bool],
    close: Callable[[F], None],
    lost: Callable[[F], None],
    keep: int = KEEP,
) -> None:
    """Call after each pop: make sure the new deepest frame is open again.

    `reopen(parent, frame)` opens `frame` from its open parent and says whether it is still the same directory;
    frames in between are opened in passing and closed again unless they fall in the window. When a re-open
    fails, that frame and every frame below it get `lost` (their remaining entries cannot be listed).
    """
    if not frames or frames[-1].fd >= 0:
        return
    last = len(frames) - 1
    start = last
    while frames[start].fd < 0:
        start -= 1  # frames[0] is always open
    lowest_kept = max(last - keep + 1, 1)
    marks = set()
    mark = start
    while lowest_kept - mark > keep:
        mark = (mark + lowest_kept) // 2
        marks.add(mark)
    for index in range(start + 1, last + 1):
        if not reopen(frames[index - 1], frames[index]):
            for gone in frames[index:]:
                lost(gone)
            break
        below = index - 1
        if start < below < lowest_kept and below not in marks and frames[below].fd >= 0:
            close(frames[below])


@dataclass(slots=True)
class DirFrame:
    """A directory a copy made or entered (the other side of a walk), re-opened by name and checked by inode
    when the window brings it back. `st` is the caller's (e.g. the source's metadata, applied at LEAVE)."""

    name: bytes
    ino: tuple[int, int]
    fd: int
    st: os.stat_result | None = None

    @classmethod
    def opened(cls, fd: int, name: bytes, st: os.stat_result | None = None) -> DirFrame:
        got = os.fstat(fd)
        return cls(name, (got.st_dev, got.st_ino), fd, st)


def close_frame(frame: DirFrame) -> None:
    if frame.fd >= 0:
        os.close(frame.fd)
        frame.fd = -1


def reopen_frame(parent: DirFrame, frame: DirFrame) -> bool:
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


def replaced(frame: DirFrame) -> None:
    """`lost` for copies: a destination directory swapped under us stops the copy (it is cleaned up)."""
    raise RootfsError(f"directory {os.fsdecode(frame.name)} was replaced while copying into it; stopped")
