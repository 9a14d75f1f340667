"""The heuristic diff for roots without an image layer: files whose mtime or ctime is after a start time."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ctrlens.diff.heuristic import RecentChanges
from ctrlens.diff.model import MODIFIED, NEW_EXECUTABLE
from ctrlens.rootfs.root import ContainerRoot


def test_only_files_touched_after_the_start_are_listed(tmp_path: Path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/old.conf").write_text("old")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/tool").write_bytes(b"\x7fELF")
    os.chmod(tmp_path / "bin/tool", 0o755)
    time.sleep(0.05)
    since = time.time_ns()
    time.sleep(0.05)
    (tmp_path / "etc/new.conf").write_text("new")
    (tmp_path / "tmp").mkdir()
    (tmp_path / "tmp/dropped").write_bytes(b"#!/bin/sh\n")
    os.chmod(tmp_path / "tmp/dropped", 0o755)
    # A back-dated mtime does not hide a change: the ctime still moves.
    (tmp_path / "bin/tool").write_bytes(b"\x7fELF trojan")
    os.utime(tmp_path / "bin/tool", (1_000_000_000, 1_000_000_000))
    with ContainerRoot.from_path(str(tmp_path)) as root:
        walker = RecentChanges(root, since)
        changes = {c.path.decode(): c for c in walker.run()}
    assert "/etc/old.conf" not in changes
    assert {"/etc", "/etc/new.conf", "/tmp", "/tmp/dropped", "/bin/tool"} <= set(changes)
    assert all(c.kind == MODIFIED for c in changes.values())
    assert NEW_EXECUTABLE in changes["/tmp/dropped"].flags
    assert NEW_EXECUTABLE in changes["/bin/tool"].flags
