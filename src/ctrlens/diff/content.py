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


def sha256_at(dirfd: int, name: bytes, shown: str) -> str:
    fd, _ = open_regular_at(dirfd, name, shown)
    try:
        return sha256_fd(fd)
    finally:
        os.close(fd)


def sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    while chunk := os.read(fd, CHUNK):
        digest.update(chunk)
    return digest.hexdigest()
