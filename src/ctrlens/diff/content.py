"""Reading changed files, only ever as regular files opened by name from their directory fd (rootfs.safeopen):
a device, FIFO, socket or symlink is refused before anything opens it.
"""

from __future__ import annotations

import hashlib
import os
import stat

from ..rootfs.safeopen import open_regular_at

ELF_MAGIC = b"\x7fELF"
SHEBANG = b"#!"
CHUNK = 1 << 20
HASH_CAP = 256 << 20  # --hash reads at most this much per file (a sparse terabyte would take hours): reported


def has_exec_bit(mode: int) -> bool:
    return stat.S_ISREG(mode) and bool(mode & 0o111)


def looks_executable(head: bytes) -> bool:
    """An ELF binary or a script: what `execve` would run."""
    return head.startswith((ELF_MAGIC, SHEBANG))


def read_head(dirfd: int, name: bytes, shown: str, size: int = 4) -> bytes:
    fd, _ = open_regular_at(dirfd, name, shown)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def sha256_at(dirfd: int, name: bytes, shown: str, cap: int = HASH_CAP) -> tuple[str, int, bool]:
    """(sha256 hex, bytes hashed, whether the file was cut at `cap`)."""
    fd, _ = open_regular_at(dirfd, name, shown)
    try:
        return sha256_fd(fd, cap)
    finally:
        os.close(fd)


def sha256_fd(fd: int, cap: int | None = None) -> tuple[str, int, bool]:
    """sha256 of the file from its start, at most `cap` bytes: (hex, bytes hashed, whether there was more)."""
    digest = hashlib.sha256()
    done = 0
    while cap is None or done < cap:
        chunk = os.read(fd, CHUNK if cap is None else min(CHUNK, cap - done))
        if not chunk:
            return digest.hexdigest(), done, False
        digest.update(chunk)
        done += len(chunk)
    return digest.hexdigest(), done, bool(os.pread(fd, 1, done))
