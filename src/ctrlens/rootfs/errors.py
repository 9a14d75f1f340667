"""What can go wrong inside a container root, as one-line errors with exit codes (see ctrlens.errors)."""

from __future__ import annotations

import errno

from ..errors import CtrlensError, NotFound, PermissionDenied, ProcessGone


class RootfsError(CtrlensError):
    """An operation on a container path failed or was refused (exit 4)."""


class UnsafeFile(RootfsError):
    """The path names something ctrlens will not open: a device, FIFO, socket, or a file on a kernel filesystem."""


class WriteConflict(RootfsError):
    """The file changed inside the container while we held a copy (fs edit)."""


class PathNotFound(NotFound):
    pass


class ContainerStopped(ProcessGone):
    pass


_KIND_OF_TYPE = {
    0o140000: "socket",
    0o120000: "symbolic link",
    0o100000: "regular file",
    0o060000: "block device",
    0o040000: "directory",
    0o020000: "character device",
    0o010000: "FIFO",
}


def kind_name(mode: int) -> str:
    return _KIND_OF_TYPE.get(mode & 0o170000, "unknown file type")


def from_oserror(exc: OSError, path: str, where: str = "") -> CtrlensError:
    """Turn an OSError on container `path` into the one line the user sees."""
    suffix = f" in {where}" if where else ""
    code = exc.errno
    if code == errno.ENOENT:
        return PathNotFound(f"{path}{suffix}: no such file or directory")
    if code == errno.ELOOP:
        return UnsafeFile(
            f"{path}{suffix}: too many symbolic links, or a symlink/magic link where none is allowed"
        )
    if code == errno.EXDEV:
        return UnsafeFile(f"{path}{suffix}: crosses a mount point")
    if code in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"{path}{suffix}: permission denied")
    if code == errno.ENOSPC:
        return RootfsError(f"{path}{suffix}: no space left on device")
    if code == errno.EROFS:
        return RootfsError(f"{path}{suffix}: read-only file system")
    return RootfsError(f"{path}{suffix}: {exc.strerror or exc}")
