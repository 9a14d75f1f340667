"""Changes in a container without an image layer (LXC, nspawn, a plain rootfs directory): the files whose mtime
or ctime is later than the start of the container's init. A heuristic, and the result says what it cannot know.

The walk goes through /proc/PID/root with the safe opener (rootfs), stays on the root mount (volumes, /proc,
/sys, /dev are not the container's files), and reads only regular files.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable

from ..errors import CtrlensError
from ..model import Process
from ..rootfs.root import ContainerRoot
from ..rootfs.walk import LEAVE, walk
from .content import has_exec_bit, looks_executable, read_head, sha256_at
from .model import (
    MODIFIED,
    NEW_EXECUTABLE,
    Change,
    FileInfo,
    flag_file_type,
    show_path,
)

LIMITATIONS = (
    "no image layer to compare with: deleted files cannot be seen",
    "added and changed files cannot be told apart (kind M)",
    (
        "a file counts when its mtime or ctime is after the container's init started; ctime cannot be set back "
        "from inside, so a back-dated mtime does not hide a change, but changes made before this start (an "
        "earlier run, or the rootfs edited while stopped) are not listed"
    ),
    "files the runtime itself writes at start (e.g. /etc/hostname) are listed",
)


def process_start_ns(proc: Process) -> int:
    """Wall-clock start of a process: boot time (from CLOCK_BOOTTIME, like /proc's starttime) plus its ticks."""
    boot_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_BOOTTIME)
    return boot_ns + proc.start_ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


class RecentChanges:
    def __init__(
        self,
        root: ContainerRoot,
        since_ns: int,
        *,
        hash: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.root = root
        self.since_ns = since_ns
        self.hash = hash
        self.progress = progress
        self.changes: list[Change] = []
        self.warnings: list[str] = []

    def run(self) -> list[Change]:
        with contextlib.closing(walk(self.root, "/", cross_mounts=False, on_skip=self._skipped)) as steps:
            seen = 0
            for step in steps:
                if step.event == LEAVE or step.depth == 0:
                    continue
                seen += 1
                if self.progress is not None and seen % 1000 == 0:
                    self.progress(seen)
                if step.entry.is_mount_point or step.entry.pseudo_fs:
                    continue  # /proc, /dev, volumes: mounted over the rootfs, not files of it
                st = step.entry.st
                if max(st.st_mtime_ns, st.st_ctime_ns) < self.since_ns:
                    continue
                change = Change(
                    step.entry.path, MODIFIED, FileInfo.of(st), link_target=step.entry.link_target
                )
                self._flag(change, step.parent_fd, step.entry.name)
                self.changes.append(change)
        return self.changes

    def _flag(self, change: Change, parent_fd: int, name: bytes) -> None:
        mode = change.info.mode if change.info else 0
        if not flag_file_type(change.flags, mode):
            return
        shown = show_path(change.path)
        try:
            if has_exec_bit(mode) and looks_executable(read_head(parent_fd, name, shown)):
                change.flags.insert(0, NEW_EXECUTABLE)
            if self.hash:
                change.sha256, change.sha256_bytes, _ = sha256_at(parent_fd, name, shown)
        except FileNotFoundError:
            self.warnings.append(f"{shown}: vanished while being read")
        except (OSError, CtrlensError) as exc:
            self.warnings.append(f"{shown}: not read: {exc}")

    def _skipped(self, entry: object, why: str) -> None:
        path = getattr(entry, "path", b"?")
        if "another mount" in why or "filesystem" in why:
            return  # /proc, /sys, /dev and volumes are not the container's files: expected, not a warning
        self.warnings.append(f"{show_path(path)}: {why}")
