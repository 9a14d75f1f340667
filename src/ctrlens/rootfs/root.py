"""`ContainerRoot`: the one safe way into a container's filesystem (or any host directory treated as a root).

Every container path is resolved against one root fd with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), or
the userspace walker where openat2 is missing; no host path string is ever built from a container path.
Objects are reached as O_PATH fds, type-checked with fstat, and only then reopened (see safeopen).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from typing import Self

from ..errors import CtrlensError
from ..linux.fs import mount_id
from ..procfs.handle import ProcHandle
from ..text import safe_text
from .entry import Entry, join
from .errors import ContainerStopped, RootfsError, from_oserror
from .fallback import MAX_LINKS
from .ids import Accounts, IdMap
from .mounts import MountTable, read_own_mountinfo
from .resolve import Resolver, default_resolver
from .safeopen import check_regular, reopen, reopen_dir

PathLike = str | bytes
ACCOUNTS_LIMIT = 4 << 20  # a bigger /etc/passwd is hostile or broken: names are a courtesy


def cpath(path: PathLike) -> bytes:
    """A container path as absolute bytes ('' and relative paths are taken from the root)."""
    raw = os.fsencode(path)
    return raw if raw.startswith(b"/") else b"/" + raw


def show(path: PathLike) -> str:
    """Printable form of a container path: non-UTF-8 bytes as \\xNN, control characters escaped."""
    raw = os.fsencode(path)
    return safe_text(raw.decode("utf-8", "surrogateescape"))  # a byte as \\xNN, a backslash as \\\\


def split(path: bytes) -> tuple[bytes, bytes]:
    """('/a/b', 'c') for '/a/b/c'; the name is '' for '/' and may be '.' or '..' (callers refuse those)."""
    trimmed = path.rstrip(b"/")
    head, _, name = trimmed.rpartition(b"/")
    return (head or b"/"), name


class ContainerRoot:
    """A root directory reached only through fds. Use as a context manager.

    Open it with `from_pid` (a container's /proc/PID/root), `from_path` / `from_fd` (any host directory, e.g. an
    overlay upperdir or a copy destination), or `subroot` (a directory inside, itself acting as '/').
    Methods taking a path accept str (surrogateescape) or bytes and resolve it inside this root only.
    """

    def __init__(
        self,
        rootfd: int,
        *,
        label: str = "",
        ids: IdMap | None = None,
        handle: ProcHandle | None = None,
        owns_handle: bool = False,
        mounts: MountTable | None = None,
        resolver: Resolver | None = None,
        no_xdev: bool = False,
    ) -> None:
        self._fd = rootfd
        self.label = label
        self.ids = ids or IdMap()
        self.handle = handle
        self._owns_handle = owns_handle
        self.mounts = mounts or MountTable(None)
        self.resolver = resolver or default_resolver()
        self.no_xdev = no_xdev  # refuse to cross mounts: the image/overlay layer alone
        self._accounts: Accounts | None = None

    # --- opening and closing -------------------------------------------------------------------------------

    @classmethod
    def from_pid(
        cls,
        pid: int,
        *,
        label: str | None = None,
        proc: str = "/proc",
        resolver: Resolver | None = None,
        no_xdev: bool = False,
    ) -> ContainerRoot:
        """The root of process `pid` (its container's filesystem), with its user-namespace id maps."""
        handle = ProcHandle(pid, proc)
        try:
            return cls.from_handle(handle, label=label, resolver=resolver, no_xdev=no_xdev, owns_handle=True)
        except BaseException:
            handle.close()
            raise

    @classmethod
    def from_handle(
        cls,
        handle: ProcHandle,
        *,
        label: str | None = None,
        resolver: Resolver | None = None,
        no_xdev: bool = False,
        owns_handle: bool = False,
    ) -> ContainerRoot:
        fd = handle.open_root()
        try:
            _refuse_host_root(fd, handle)
            ids = IdMap.from_bytes(handle.read("uid_map"), handle.read("gid_map"))
        except BaseException:
            os.close(fd)
            raise
        return cls(
            fd,
            label=label or f"process {handle.pid}",
            ids=ids,
            handle=handle,
            owns_handle=owns_handle,
            mounts=MountTable(lambda: handle.read("mountinfo")),
            resolver=resolver,
            no_xdev=no_xdev,
        )

    @classmethod
    def from_path(
        cls,
        host_dir: PathLike,
        *,
        label: str | None = None,
        ids: IdMap | None = None,
        resolver: Resolver | None = None,
        no_xdev: bool = False,
    ) -> ContainerRoot:
        """A host directory acting as '/': an overlay upperdir, a snapshot, a test tree. The host path itself is
        trusted (the caller chose it); everything below it is resolved inside it."""
        fd = os.open(host_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        return cls(
            fd,
            label=label or os.fsdecode(host_dir),
            ids=ids,
            mounts=MountTable(read_own_mountinfo),
            resolver=resolver,
            no_xdev=no_xdev,
        )

    @classmethod
    def from_fd(
        cls,
        dirfd: int,
        *,
        label: str = "",
        ids: IdMap | None = None,
        resolver: Resolver | None = None,
        no_xdev: bool = False,
    ) -> ContainerRoot:
        """A root on a directory fd the caller keeps (it is duplicated)."""
        fd = os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=dirfd)
        return cls(
            fd,
            label=label,
            ids=ids,
            mounts=MountTable(read_own_mountinfo),
            resolver=resolver,
            no_xdev=no_xdev,
        )

    def subroot(self, path: PathLike) -> ContainerRoot:
        """The directory `path` as a root of its own: nothing resolved through it can leave it (tar extraction)."""
        fd = self.open_path(path, directory=True)
        sub = ContainerRoot(
            fd,
            label=self.label,
            ids=self.ids,
            handle=self.handle,
            mounts=self.mounts,
            resolver=self.resolver,
            no_xdev=self.no_xdev,
        )
        sub._accounts = self._accounts
        return sub

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._owns_handle and self.handle is not None:
            self.handle.close()

    def fileno(self) -> int:
        return self._fd

    # --- liveness and errors --------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.handle is None or self.handle.alive()

    def ensure_alive(self) -> None:
        if not self.alive():
            raise ContainerStopped(f"{self.label or 'the container'} stopped during the operation")

    def where(self) -> str:
        return self.label

    @contextlib.contextmanager
    def guard(self, path: PathLike) -> Iterator[None]:
        """Turn an OSError about container `path` into a one-line CtrlensError (a stopped container first)."""
        try:
            yield
        except CtrlensError:
            raise
        except OSError as exc:
            if not self.alive():
                raise ContainerStopped(
                    f"{self.label or 'the container'} stopped during the operation"
                ) from None
            raise from_oserror(exc, show(path), self.label) from None

    # --- resolution -----------------------------------------------------------------------------------------

    def open_path(self, path: PathLike, *, follow: bool = True, directory: bool = False) -> int:
        """O_PATH fd of `path` resolved inside the root; raises OSError (ENOENT, ELOOP, ENOTDIR…)."""
        return self.resolver.open_path(
            self._fd, cpath(path), follow=follow, directory=directory, no_xdev=self.no_xdev
        )

    def lstat(self, path: PathLike) -> os.stat_result:
        return self._fstat_of(path, follow=False)

    def stat(self, path: PathLike) -> os.stat_result:
        return self._fstat_of(path, follow=True)

    def _fstat_of(self, path: PathLike, *, follow: bool) -> os.stat_result:
        fd = self.open_path(path, follow=follow)
        try:
            return os.fstat(fd)
        finally:
            os.close(fd)

    def exists(self, path: PathLike, *, follow: bool = False) -> bool:
        try:
            self._fstat_of(path, follow=follow)
            return True
        except FileNotFoundError:
            return False

    def open_regular(
        self,
        path: PathLike,
        flags: int = os.O_RDONLY,
        *,
        follow: bool = True,
        verb: str = "read",
        allow_pseudo: bool = False,
    ) -> int:
        """A real fd on the regular file at `path`. Devices, FIFOs, sockets and /proc-like files are refused
        (UnsafeFile) before anything opens them. Never pass O_CREAT or O_TRUNC: use `rootfs.write`."""
        if flags & (os.O_CREAT | os.O_TRUNC):
            raise ValueError("open_regular never creates or truncates")
        pfd = self.open_path(path, follow=follow)
        try:
            st = check_regular(pfd, show(path), verb=verb, allow_pseudo=allow_pseudo)
            return reopen(pfd, flags, st)
        finally:
            os.close(pfd)

    def open_dir(self, path: PathLike, *, follow: bool = True) -> int:
        """A readable directory fd (for listing and fd-relative walks)."""
        pfd = self.open_path(path, follow=follow, directory=True)
        try:
            return reopen_dir(pfd)
        finally:
            os.close(pfd)

    def readlink(self, path: PathLike) -> bytes:
        """The text of the symlink at `path` (never followed)."""
        fd = self.open_path(path, follow=False)
        try:
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a symbolic link", os.fsdecode(path))
            return os.readlink(b"", dir_fd=fd)
        finally:
            os.close(fd)

    def read_bytes(self, path: PathLike, limit: int | None = None) -> bytes:
        fd = self.open_regular(path)
        try:
            chunks, total = [], 0
            while limit is None or total < limit:
                chunk = os.read(fd, 1 << 20 if limit is None else min(1 << 20, limit - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def parent(self, path: PathLike) -> tuple[int, bytes]:
        """(O_PATH fd of the parent directory, final name): where writes happen, by name, relative to the fd."""
        head, name = split(cpath(path))
        if name in (b"", b".", b".."):
            raise RootfsError(f"{show(path)}: needs a file name, not '{os.fsdecode(name) or '/'}'")
        return self.open_path(head, directory=True), name

    def resolve_final(self, path: PathLike) -> bytes:
        """Follow symlinks at the LAST component (inside the root) and return the path of the real entry, which
        may not exist yet. Parents stay unresolved text: openat2 resolves them again at use."""
        current = cpath(path)
        for _ in range(MAX_LINKS):
            pfd, name = self.parent(current)
            try:
                st = os.stat(name, dir_fd=pfd, follow_symlinks=False)
                if not stat.S_ISLNK(st.st_mode):
                    return current
                target = os.readlink(name, dir_fd=pfd)
            except FileNotFoundError:
                return current
            finally:
                os.close(pfd)
            current = target if target.startswith(b"/") else split(current)[0].rstrip(b"/") + b"/" + target
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.fsdecode(path))

    # --- describing entries ---------------------------------------------------------------------------------

    def entry(self, path: PathLike, *, follow: bool = False) -> Entry:
        """Describe `path` (lstat unless `follow`), with its symlink text and whether it is a mount point."""
        path = cpath(path)
        if follow:
            # A container swapping a file for a symlink between our lstat calls could hand us a link here:
            # resolve again rather than ever describing (and a caller copying) the link itself.
            for _ in range(MAX_LINKS):
                found = self._entry(self.resolve_final(path))
                if not found.is_symlink:
                    return found
            raise OSError(errno.ELOOP, "kept turning into a symbolic link", os.fsdecode(path))
        return self._entry(path)

    def _entry(self, path: bytes) -> Entry:
        head, name = split(path)
        if name in (b"", b".", b".."):
            fd = self.open_path(path, directory=True)
            try:
                return Entry(path, os.fstat(fd), mount_id=mount_id(fd))
            finally:
                os.close(fd)
        pfd = self.open_path(head, directory=True)
        try:
            return self.entry_at(pfd, name, path)
        finally:
            os.close(pfd)

    def entry_at(self, dirfd: int, name: bytes, path: bytes, dir_mount_id: int | None = None) -> Entry:
        """Describe entry `name` of directory fd `dirfd` (lstat: never follows); `path` is how to show it."""
        st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        target = None
        mnt = None
        if stat.S_ISLNK(st.st_mode):
            with contextlib.suppress(OSError):  # swapped for a non-link since the lstat: show no target
                target = os.readlink(name, dir_fd=dirfd)
        else:
            with contextlib.suppress(OSError):
                mnt = mount_id(dirfd, name)
        if dir_mount_id is None:
            dir_mount_id = mount_id(dirfd)
        is_mp = mnt is not None and dir_mount_id is not None and mnt != dir_mount_id
        return Entry(path, st, target, mnt, is_mp, self.mounts.get(mnt) if is_mp else None)

    def listdir(self, path: PathLike, *, all_names: bool = True) -> list[Entry]:
        """Entries of directory `path` (following symlinks to it inside the root), sorted by name."""
        base = cpath(path)
        fd = self.open_dir(base)
        try:
            return list_fd(self, fd, base, all_names=all_names)
        finally:
            os.close(fd)

    def accounts(self) -> Accounts:
        """Names from the container's /etc/passwd and /etc/group, read through this layer (empty if unreadable)."""
        if self._accounts is None:
            self._accounts = Accounts.parse(
                self._read_optional(b"/etc/passwd"), self._read_optional(b"/etc/group")
            )
        return self._accounts

    def _read_optional(self, path: bytes) -> bytes:
        try:
            return self.read_bytes(path, ACCOUNTS_LIMIT)
        except (OSError, CtrlensError):
            return b""

    # --- ownership of what we create ------------------------------------------------------------------------

    def default_owner(self) -> tuple[int, int]:
        """Host ids of the container's root user: what a file we create should belong to (host-facts §6)."""
        return self.owner_to_host(0, 0)

    def owner_to_host(self, uid: int, gid: int) -> tuple[int, int]:
        try:
            return self.ids.owner_to_host(uid, gid)
        except ValueError as exc:
            raise RootfsError(f"{exc} of {self.label or 'the container'}") from None

    def owner_in_container(self, st: os.stat_result) -> tuple[int, int]:
        return self.ids.uid_from_host(st.st_uid), self.ids.gid_from_host(st.st_gid)


def list_fd(
    root: ContainerRoot,
    dirfd: int,
    base: bytes,
    *,
    all_names: bool = True,
    on_error: Callable[[bytes, OSError], None] | None = None,
) -> list[Entry]:
    """Entries of an open directory, sorted; entries that vanish between readdir and lstat are skipped."""
    dir_mnt = mount_id(dirfd)
    entries = []
    for name in sorted(os.fsencode(n) for n in os.listdir(dirfd)):
        if not all_names and name.startswith(b"."):
            continue
        try:
            entries.append(root.entry_at(dirfd, name, join(base, name), dir_mnt))
        except FileNotFoundError:
            continue
        except OSError as exc:
            if on_error is None:
                raise
            on_error(join(base, name), exc)
    return entries


def _refuse_host_root(fd: int, handle: ProcHandle) -> None:
    """A process whose root IS the host's (a host process, or a user's `unshare -p` "container" listed as
    runtime unknown) has no container filesystem: reaching "its files" as root would reach the host's."""
    mine = os.fstat(fd)
    for host_root in ("/", os.path.join(handle.proc, "..")):  # ours, and the --host-root tree's
        try:
            other = os.stat(host_root)
        except OSError:
            continue
        if (mine.st_dev, mine.st_ino) == (other.st_dev, other.st_ino):
            raise RootfsError(
                f"process {handle.pid}: its root is the host's root filesystem, not a container's: refusing "
                "(use the host's own tools for host files)"
            )
