"""Raw syscalls Python's `os` lacks: openat2(2), statx(2) for mount ids, fstatfs(2) for the filesystem type.

Only ctypes and libc: no compiled extension, no libpathrs (host-facts §1: not packaged for Debian).
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform

from ._libc import last_error as _oserror
from ._libc import libc as _libc

# openat2 has the same number on every architecture (new syscalls are numbered alike since 5.x).
SYS_OPENAT2 = 437

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_STATX_DONT_SYNC = 0x4000

STATX_MNT_ID = 0x1000
STATX_ATTR_MOUNT_ROOT = 0x2000

# statfs f_type of filesystems whose "regular files" are kernel interfaces, not data (linux/magic.h).
PSEUDO_FS_MAGIC = {
    0x9FA0: "proc",
    0x62656572: "sysfs",
    0x64626720: "debugfs",
    0x74726163: "tracefs",
    0x73636673: "securityfs",
    0x0027E0EB: "cgroup",
    0x63677270: "cgroup2",
    0xCAFE4A11: "bpf",
    0x62656570: "configfs",
    0x6165676C: "pstore",
    0xDE5E81E4: "efivarfs",
    0x65735543: "fusectl",
    0x42494E4D: "binfmt_misc",
    0xF97CFF8C: "selinuxfs",
    0x43415D53: "smackfs",
    0x19800202: "mqueue",
    0x1CD1: "devpts",
    0x6E736673: "nsfs",
}
PROC_SUPER_MAGIC = 0x9FA0


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: bytes, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """One openat2(2) call; raises OSError (EAGAIN included: see `openat2_retry`)."""
    how = _OpenHow(flags, mode, resolve)
    fd = _libc.syscall(
        SYS_OPENAT2,
        ctypes.c_int(dirfd),
        ctypes.c_char_p(path),
        ctypes.byref(how),
        ctypes.c_size_t(ctypes.sizeof(how)),
    )
    if fd < 0:
        raise _oserror(os.fsdecode(path))
    return int(fd)


def openat2_available() -> bool:
    """False on kernels before 5.6 (ENOSYS) or under a seccomp policy that denies it (ENOSYS/EPERM)."""
    if platform.system() != "Linux":
        return False
    try:
        fd = openat2(AT_FDCWD, b"/", os.O_PATH | os.O_CLOEXEC, 0, RESOLVE_NO_MAGICLINKS)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EPERM):
            return False
        raise
    os.close(fd)
    return True


class _StatxTimestamp(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_uint32), ("_reserved", ctypes.c_int32)]


class _Statx(ctypes.Structure):
    _fields_ = [
        ("stx_mask", ctypes.c_uint32),
        ("stx_blksize", ctypes.c_uint32),
        ("stx_attributes", ctypes.c_uint64),
        ("stx_nlink", ctypes.c_uint32),
        ("stx_uid", ctypes.c_uint32),
        ("stx_gid", ctypes.c_uint32),
        ("stx_mode", ctypes.c_uint16),
        ("_spare0", ctypes.c_uint16),
        ("stx_ino", ctypes.c_uint64),
        ("stx_size", ctypes.c_uint64),
        ("stx_blocks", ctypes.c_uint64),
        ("stx_attributes_mask", ctypes.c_uint64),
        ("stx_atime", _StatxTimestamp),
        ("stx_btime", _StatxTimestamp),
        ("stx_ctime", _StatxTimestamp),
        ("stx_mtime", _StatxTimestamp),
        ("stx_rdev_major", ctypes.c_uint32),
        ("stx_rdev_minor", ctypes.c_uint32),
        ("stx_dev_major", ctypes.c_uint32),
        ("stx_dev_minor", ctypes.c_uint32),
        ("stx_mnt_id", ctypes.c_uint64),
        ("_spare", ctypes.c_uint64 * 13),
    ]


_statx = getattr(_libc, "statx", None)


def mount_id(dirfd: int, name: bytes = b"") -> int | None:
    """The mount id (as in mountinfo) of `name` under `dirfd`, never following a final symlink; of `dirfd` itself
    when `name` is empty. None when the kernel cannot tell."""
    if _statx is not None:
        buf = _Statx()
        flags = (
            AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC | (AT_EMPTY_PATH if not name else 0)
        )
        if (
            _statx(
                ctypes.c_int(dirfd),
                ctypes.c_char_p(name),
                ctypes.c_int(flags),
                ctypes.c_uint(STATX_MNT_ID),
                ctypes.byref(buf),
            )
            == 0
        ):
            if buf.stx_mask & STATX_MNT_ID:
                return int(buf.stx_mnt_id)
        elif ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL):
            raise _oserror(name)
    if name:
        return None
    return _fdinfo_mount_id(dirfd)


def _fdinfo_mount_id(fd: int) -> int | None:
    # Kernels without statx mnt_id (< 5.8) still show it in fdinfo (since 3.15).
    try:
        with open(f"/proc/self/fdinfo/{fd}", "rb") as f:
            for line in f:
                if line.startswith(b"mnt_id:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class _Statfs(ctypes.Structure):
    # Only f_type is read; the rest of struct statfs is padding big enough for every ABI.
    _fields_ = [("f_type", ctypes.c_long), ("_rest", ctypes.c_byte * 256)]


_libc.fstatfs.argtypes = [ctypes.c_int, ctypes.c_void_p]


def fs_magic(fd: int) -> int:
    """statfs f_type of the filesystem holding `fd` (O_PATH fds work since Linux 3.12)."""
    buf = _Statfs()
    if _libc.fstatfs(fd, ctypes.byref(buf)) != 0:
        raise _oserror()
    return int(buf.f_type) & 0xFFFFFFFF


def pseudo_fs_name(fd: int) -> str | None:
    """'proc', 'sysfs'… when `fd` lives on a kernel-interface filesystem, else None."""
    return PSEUDO_FS_MAGIC.get(fs_magic(fd))


RENAME_NOREPLACE = 1

_libc.renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
_libc.fchownat.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_int]


def rename_noreplace(src_dirfd: int, src: bytes, dst_dirfd: int, dst: bytes) -> None:
    """renameat2(RENAME_NOREPLACE): move into place only if nothing has appeared at `dst` meanwhile."""
    if _libc.renameat2(src_dirfd, src, dst_dirfd, dst, RENAME_NOREPLACE) != 0:
        raise _oserror(os.fsdecode(dst))


def chown_fd(fd: int, uid: int, gid: int) -> None:
    """fchownat(fd, "", AT_EMPTY_PATH): works on O_PATH fds, symlinks included, and never follows anything."""
    if _libc.fchownat(fd, b"", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0:
        raise _oserror()
