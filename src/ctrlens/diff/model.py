"""What `ctrlens diff` finds: one `Change` per path, and the `DiffResult` that says how it was found.

Kinds follow `docker diff`: A added, C changed, D deleted. A heuristic diff (no image layer to compare with)
uses M: "modified or added since the container started", because it cannot tell the two apart.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..rootfs.entry import kind_of

ADDED = "A"
CHANGED = "C"
DELETED = "D"
MODIFIED = "M"  # heuristic only: added or changed, cannot tell which

# Flags, most alarming first: the order `DiffResult.ordered()` puts changes in.
NEW_EXECUTABLE = "new-executable"  # an ELF or a script with an exec bit that the image did not have there
SHADOWS_IMAGE = "shadows-image"  # a non-directory that replaces a file of the image
SETUID = "setuid"
SETGID = "setgid"
DEVICE = "device"  # a device node in the writable layer: reported, never opened
FIFO_OR_SOCKET = "fifo-or-socket"  # never opened (a FIFO would block a reader)
FLAG_ORDER = (NEW_EXECUTABLE, SHADOWS_IMAGE, SETUID, SETGID, DEVICE, FIFO_OR_SOCKET)


def flag_file_type(flags: list[str], mode: int) -> bool:
    """Add the flags a file's type and mode bits earn; True for a regular file (whose content may be looked at)."""
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        flags.append(DEVICE)
    elif stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):
        flags.append(FIFO_OR_SOCKET)
    if not stat.S_ISREG(mode):
        return False
    if mode & stat.S_ISUID:
        flags.append(SETUID)
    if mode & stat.S_ISGID:
        flags.append(SETGID)
    return True


METHOD_OVERLAY = "overlay"  # the overlay upper layer compared with the image's lower layers
METHOD_HEURISTIC = "mtime-ctime"  # no image layer: files touched since the container's init started


@dataclass(frozen=True, slots=True)
class FileInfo:
    """The lstat fields a diff reports (a symlink described, never followed)."""

    mode: int
    size: int
    uid: int  # as stored on disk: host ids (map them through the container's uid_map to show them)
    gid: int
    mtime_ns: int
    ctime_ns: int
    rdev: int = 0

    @classmethod
    def of(cls, st: os.stat_result) -> FileInfo:
        return cls(st.st_mode, st.st_size, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ctime_ns, st.st_rdev)

    @property
    def type(self) -> str:
        return kind_of(self.mode)

    def to_dict(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "type": self.type,
            "size": self.size,
            "mode": f"{stat.S_IMODE(self.mode):04o}",
            "uid": self.uid,
            "gid": self.gid,
            "mtime": iso_ns(self.mtime_ns),
            "ctime": iso_ns(self.ctime_ns),
        }
        if stat.S_ISCHR(self.mode) or stat.S_ISBLK(self.mode):
            record["device"] = f"{os.major(self.rdev)}:{os.minor(self.rdev)}"
        return record


_SECONDS: dict[int, str] = {}  # files changed together share their second: format it once


def iso_ns(ns: int) -> str:
    """'2026-11-24T20:37:56.307609Z' (UTC, microseconds)."""
    sec, rest = divmod(ns, 1_000_000_000)
    text = _SECONDS.get(sec)
    if text is None:
        if len(_SECONDS) > 4096:
            _SECONDS.clear()
        text = _SECONDS[sec] = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{rest // 1000:06d}Z"


def show_path(path: bytes) -> str:
    """JSON/table form of a container path: UTF-8, undecodable bytes as \\xNN (never raw bytes)."""
    return path.decode("utf-8", "backslashreplace")


@dataclass(slots=True)
class Change:
    path: bytes  # container path
    kind: str  # ADDED, CHANGED, DELETED, MODIFIED
    info: FileInfo | None  # what is there now (None for D)
    image: FileInfo | None = None  # what the image had at this path (C and D; None when unknown)
    link_target: bytes | None = None  # symlinks: the text, never followed
    flags: list[str] = field(default_factory=list)
    sha256: str | None = None
    sha256_bytes: int | None = None  # how much of the file the sha256 covers (less than its size: capped)

    @property
    def type(self) -> str:
        if self.info is not None:
            return self.info.type
        return self.image.type if self.image is not None else "unknown"

    @property
    def rank(self) -> int:
        """Position of the most alarming flag (FLAG_ORDER), len(FLAG_ORDER) when none."""
        return min((FLAG_ORDER.index(f) for f in self.flags if f in FLAG_ORDER), default=len(FLAG_ORDER))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            # surrogateescape: the output boundary (ctrlens.text) writes \xNN and the exact bytes as path_hex
            "path": self.path.decode("utf-8", "surrogateescape"),
            "type": self.type,
            "flags": list(self.flags),
            "info": self.info.to_dict() if self.info else None,
            "image": self.image.to_dict() if self.image else None,
            "link_target": (
                self.link_target.decode("utf-8", "surrogateescape") if self.link_target is not None else None
            ),
            "sha256": self.sha256,
            "sha256_bytes": self.sha256_bytes,
        }


@dataclass(slots=True)
class DiffResult:
    container_id: str
    container_name: str | None
    runtime: str
    method: str  # METHOD_OVERLAY or METHOD_HEURISTIC
    style: str | None  # overlay only: whose conventions ("docker" or "podman")
    changes: list[Change] = field(default_factory=list)
    upperdir: str | None = None
    lowerdirs: list[str] = field(default_factory=list)
    since: str | None = None  # heuristic: the start time changes are measured from (ISO-8601 UTC)
    limitations: list[str] = field(default_factory=list)  # what this method cannot know
    warnings: list[str] = field(default_factory=list)  # entries skipped or unreadable during the walk
    hashed: bool = False

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def new_executables(self) -> list[Change]:
        return [c for c in self.changes if NEW_EXECUTABLE in c.flags]

    def ordered(self) -> list[Change]:
        """Flagged changes first (new executables, then files shadowing the image…), then by path."""
        return sorted(self.changes, key=lambda c: (c.rank, c.path))

    def note_hash_caps(self, cap: int) -> None:
        """Say (in `limitations`) which files --hash covered only in part."""
        cut = [
            c for c in self.changes if c.sha256_bytes is not None and c.info and c.sha256_bytes < c.info.size
        ]
        if cut:
            shown = ", ".join(show_path(c.path) for c in cut[:5]) + (" …" if len(cut) > 5 else "")
            self.limitations.append(
                f"--hash covers the first {cap >> 20} MiB of a file at most: {len(cut)} bigger file(s) hashed "
                f"in part (sha256_bytes says how much): {shown}"
            )

    def summary(self) -> dict[str, int]:
        return {
            "added": self.count(ADDED),
            "changed": self.count(CHANGED),
            "deleted": self.count(DELETED),
            "modified": self.count(MODIFIED),
            "new_executables": len(self.new_executables),
            "shadowing_image": sum(1 for c in self.changes if SHADOWS_IMAGE in c.flags),
        }

    def to_dict(self, *, order: str = "flagged", changes: list[Change] | None = None) -> dict[str, Any]:
        """`changes` replaces the full list (a filtered view of it); else all, flagged first or by path."""
        if changes is None:
            changes = self.ordered() if order == "flagged" else sorted(self.changes, key=lambda c: c.path)
        return {
            "container": {"id": self.container_id, "name": self.container_name, "runtime": self.runtime},
            "method": self.method,
            "style": self.style,
            "upperdir": self.upperdir,
            "lowerdirs": list(self.lowerdirs),
            "since": self.since,
            "hashed": self.hashed,
            "summary": self.summary(),
            "limitations": list(self.limitations),
            "warnings": list(self.warnings),
            "changes": [c.to_dict() for c in changes],
        }
