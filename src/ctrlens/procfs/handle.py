"""Race-free access to one process: a pidfd plus a /proc/PID directory fd, checked to belong together.

The pattern (host-facts §3): pidfd_open(pid), then open /proc/PID as a directory, then pidfd_send_signal(pidfd, 0).
If the last call succeeds the dirfd is the same process's, because a PID cannot be reused while its owner lives.
From then on every read goes through the dirfd; ESRCH/ENOENT mean the process exited.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
from typing import Self

from ..errors import PermissionDenied, ProcessGone
from . import parse
from .files import CAP_DEFAULT, open_regular, read_fd

_GONE = (errno.ENOENT, errno.ESRCH)


class ProcHandle:
    """One live process. Use as a context manager; `close()` releases both fds."""

    __slots__ = ("dirfd", "pid", "pidfd", "proc", "truncated")

    def __init__(self, pid: int, proc: str = "/proc", *, pidfd: bool = True) -> None:
        self.pid = pid
        self.proc = proc
        self.pidfd: int | None = None
        self.dirfd: int | None = None
        self.truncated: list[str] = []  # files read only up to their cap (crafted trees; see procfs.files)
        try:
            if pidfd and proc == "/proc":
                self.pidfd = os.pidfd_open(pid)
            self.dirfd = os.open(f"{proc}/{pid}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self.ensure_alive()
        except ProcessLookupError:
            self.close()
            raise ProcessGone(f"process {pid} has exited") from None
        except FileNotFoundError:
            self.close()
            raise ProcessGone(f"process {pid} not found") from None
        except PermissionError:
            self.close()
            raise PermissionDenied(f"process {pid}: permission denied") from None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for fd in (self.pidfd, self.dirfd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.pidfd = self.dirfd = None

    def alive(self) -> bool:
        """True while the process exists (a zombie counts as existing)."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, 0)
                return True
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
        try:
            fd = open_regular("stat", self.dirfd)
            try:
                os.read(fd, 1)
            finally:
                os.close(fd)
            return True
        except OSError:
            return False

    def ensure_alive(self) -> None:
        if not self.alive():
            raise ProcessGone(f"process {self.pid} has exited")

    def read(self, name: str, cap: int = CAP_DEFAULT) -> bytes:
        """Read at most `cap` bytes of a /proc/PID file through the dirfd (a longer one is cut and its name added
        to `truncated`). Non-blocking and regular files only: a crafted tree's FIFO is an OSError, not a hang.
        Raises ProcessGone, PermissionDenied, OSError."""
        try:
            fd = open_regular(name, self.dirfd)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None
        try:
            data, cut = read_fd(fd, cap)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None
        finally:
            os.close(fd)
        if cut:
            self.truncated.append(name)
        return data

    def read_checked(self, name: str) -> bytes:
        """Read, then confirm the process still lives: `environ` returns b'' silently after exit (host-facts §3)."""
        data = self.read(name)
        self.ensure_alive()
        return data

    def readlink(self, name: str) -> str:
        try:
            return os.readlink(name, dir_fd=self.dirfd)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None

    def listdir(self, name: str) -> list[str]:
        """Entries of a /proc/PID subdirectory (`fd`, `task`…) through the dirfd."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.dirfd)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None
        try:
            return os.listdir(fd)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None
        finally:
            os.close(fd)

    def read_at(self, name: str, offset: int, size: int) -> bytes:
        """`size` bytes at `offset` of a /proc/PID file (`mem` needs it: reading it from 0 fails)."""
        try:
            fd = open_regular(name, self.dirfd)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None
        try:
            return os.pread(fd, size, offset)
        except OSError as exc:
            raise _translate(exc, self.pid, name) from None
        finally:
            os.close(fd)

    def status(self) -> dict[str, str]:
        return parse.parse_status(self.read("status"))

    def namespace(self, ns_type: str) -> int | None:
        try:
            return parse.ns_inode(self.readlink(f"ns/{ns_type}"))
        except (ProcessGone, PermissionDenied):
            return None

    def open_root(self) -> int:
        """An O_PATH fd on the process's root directory (follows the magic link once, on purpose)."""
        try:
            fd = os.open("root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=self.dirfd)
        except OSError as exc:
            raise _translate(exc, self.pid, "root") from None
        try:
            self.ensure_alive()
        except ProcessGone:
            os.close(fd)
            raise
        return fd

    def send_signal(self, sig: int) -> None:
        """Signal through the pidfd, so a reused PID is never hit."""
        if self.pidfd is None:
            raise ProcessGone(f"process {self.pid}: no pidfd held, refusing to signal by number")
        try:
            signal.pidfd_send_signal(self.pidfd, sig)
        except ProcessLookupError:
            raise ProcessGone(f"process {self.pid} has exited") from None
        except PermissionError:
            raise PermissionDenied(f"process {self.pid}: not permitted to signal") from None


def _translate(exc: OSError, pid: int, name: str) -> Exception:
    if exc.errno in _GONE:
        return ProcessGone(f"process {pid} has exited")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"/proc/{pid}/{name}: permission denied")
    return exc
