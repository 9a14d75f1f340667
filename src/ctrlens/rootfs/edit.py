"""Edit a container file from the host: a private copy, then an atomic write-back that refuses if the container
changed the file meanwhile (inode, mtime, size and sha256 are compared just before the rename).

The editor itself is the caller's business (fs edit runs $VISUAL/$EDITOR; top's browser may differ).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass

from .atomic import FileWriter, Meta
from .errors import WriteConflict
from .fdcopy import copy_fd
from .root import ContainerRoot, show
from .write import Change

_HASH_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class Fingerprint:
    dev: int
    ino: int
    size: int
    mtime_ns: int
    sha256: str

    def differs(self, other: Fingerprint) -> list[str]:
        names = ("dev", "ino", "size", "mtime_ns", "sha256")
        return [n for n in names if getattr(self, n) != getattr(other, n)]


def _sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, _HASH_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def fingerprint_fd(fd: int) -> Fingerprint:
    st = os.fstat(fd)
    return Fingerprint(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, _sha256_fd(fd))


def _copy_name(path: bytes) -> str:
    """A harmless host file name that keeps the extension (editors pick syntax by it); never the raw name."""
    base = os.path.basename(path)[-60:]
    safe = "".join(
        chr(b) if chr(b).isascii() and (chr(b).isalnum() or chr(b) in "._-") else "_" for b in base
    ).lstrip(".")
    return safe or "file"


class EditSession:
    """fetch() -> host path of a private copy (0700 temp dir); after editing, write_back() or discard()."""

    def __init__(self, root: ContainerRoot, path: bytes | str) -> None:
        self.root = root
        self.path = root.resolve_final(path)  # edit the file a symlink points to, inside the root
        self.tmpdir = ""
        self.copy = ""
        self.original: Fingerprint | None = None
        self.copy_sha256 = ""
        self.st: os.stat_result | None = None

    def fetch(self) -> str:
        with self.root.guard(self.path):
            fd = self.root.open_regular(self.path, verb="edit")
        try:
            self.original = fingerprint_fd(fd)
            self.st = os.fstat(fd)
            self.tmpdir = tempfile.mkdtemp(prefix="ctrlens-edit-")  # mode 0700: the copy stays private
            self.copy = os.path.join(self.tmpdir, _copy_name(self.path))
            out = os.open(
                self.copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            try:
                os.lseek(fd, 0, os.SEEK_SET)
                copy_fd(fd, out)
            finally:
                os.close(out)
        finally:
            os.close(fd)
        self.copy_sha256 = self._copy_hash()
        return self.copy

    def _copy_hash(self) -> str:
        fd = os.open(self.copy, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return _sha256_fd(fd)
        finally:
            os.close(fd)

    def changed(self) -> bool:
        """Did the editor change the private copy?"""
        return self._copy_hash() != self.copy_sha256

    def current(self) -> Fingerprint:
        with self.root.guard(self.path):
            fd = self.root.open_regular(self.path, verb="edit")
        try:
            return fingerprint_fd(fd)
        finally:
            os.close(fd)

    def write_back(self) -> Change:
        """Replace the container file with the edited copy, keeping owner and mode; WriteConflict if the
        container changed it since fetch (your copy is kept: see `copy`)."""
        if self.st is None:
            raise RuntimeError("write_back before fetch")
        self._unchanged()  # fail early, before any temp file exists
        src = os.open(self.copy, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            with self.root.guard(self.path):
                pfd, name = self.root.parent(self.path)
                try:
                    with FileWriter(
                        pfd, name, show(self.path), replace=True, check=self._unchanged
                    ) as writer:
                        copy_fd(src, writer.fd)
                        action = writer.commit(
                            Meta(stat.S_IMODE(self.st.st_mode), self.st.st_uid, self.st.st_gid)
                        )
                finally:
                    os.close(pfd)
        finally:
            os.close(src)
        uid, gid = self.root.owner_in_container(self.st)
        return Change(action, self.path, "file", uid, gid, self.st.st_mode)

    def _unchanged(self) -> None:
        # Called again right before the rename: the window left is a few syscalls wide.
        self.root.ensure_alive()
        if self.original is None:
            raise RuntimeError("write_back before fetch")
        diff = self.original.differs(self.current())
        if diff:
            raise WriteConflict(
                f"{show(self.path)} changed in {self.root.label or 'the container'} while you edited it "
                f"({', '.join(diff)} differ); not written. Your copy is kept at {self.copy}"
            )

    def discard(self) -> None:
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            self.tmpdir = ""
