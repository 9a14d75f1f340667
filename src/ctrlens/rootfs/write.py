"""Changes to a container's files by container path: write, touch, mkdir, rm. Each returns `Change` records
saying what was done, so every command can print it ("created /tmp/x in web (docker 3f2a…), owner 0:0 mode 0644").
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field

from .atomic import CREATED, FileWriter, Meta, apply_meta, lstat_at, make_dir_at, remove_tree_at
from .entry import kind_of
from .errors import RootfsError, UnsafeFile
from .fdcopy import copy_fd
from .root import ContainerRoot, cpath, show, split

DEFAULT_FILE_MODE = 0o644
DEFAULT_DIR_MODE = 0o755


@dataclass(slots=True)
class Change:
    action: str  # created, replaced, overwrote in place, touched, removed…
    path: bytes
    kind: str = "file"
    uid: int | None = None  # container ids
    gid: int | None = None
    mode: int | None = None
    detail: str = ""
    skipped: list[tuple[bytes, str]] = field(default_factory=list)

    def describe(self, where: str) -> str:
        text = f"{self.action} {show(self.path)}"
        if where:
            text += f" in {where}"
        if self.uid is not None:
            text += f", owner {self.uid}:{self.gid}"
        if self.mode is not None:
            text += f" mode {self.mode & 0o7777:04o}"
        if self.detail:
            text += f", {self.detail}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action,
            "path": show(self.path),
            "kind": self.kind,
            "uid": self.uid,
            "gid": self.gid,
            "mode": None if self.mode is None else f"{self.mode & 0o7777:04o}",
            "detail": self.detail or None,
        }


@dataclass(frozen=True, slots=True)
class Owner:
    """An owner in CONTAINER ids (what the user types and sees); mapped to host ids when applied."""

    uid: int
    gid: int


def host_meta(
    root: ContainerRoot, mode: int | None, owner: Owner | None, times_ns: tuple[int, int] | None = None
) -> tuple[Meta, Owner]:
    """Metadata in host ids for something new; the default owner is the container's root (mapped)."""
    owner = owner or Owner(0, 0)
    uid, gid = root.owner_to_host(owner.uid, owner.gid)
    return Meta(mode, uid, gid, times_ns), owner


def write_file(
    root: ContainerRoot,
    path: bytes | str,
    src_fd: int,
    *,
    mode: int | None = None,
    owner: Owner | None = None,
    times_ns: tuple[int, int] | None = None,
    follow: bool = True,
    replace: bool = True,
) -> Change:
    """Copy `src_fd` (from its offset) into the container file `path`, atomically.

    A final symlink is followed inside the root (like `docker cp`) unless `follow=False`. An existing file keeps
    its owner and mode unless given; a new one belongs to the container's root (or `owner`), mode 0644.
    """
    target = root.resolve_final(path) if follow else cpath(path)
    pfd, name = root.parent(target)
    try:
        with FileWriter(pfd, name, show(target), replace=replace, check=root.ensure_alive) as writer:
            existing = writer.existing if writer.existing and stat.S_ISREG(writer.existing.st_mode) else None
            if existing is not None and owner is None:
                meta = Meta(
                    mode if mode is not None else stat.S_IMODE(existing.st_mode),
                    existing.st_uid,
                    existing.st_gid,
                    times_ns,
                )
            else:
                meta, _ = host_meta(root, DEFAULT_FILE_MODE if mode is None else mode, owner, times_ns)
            copy_fd(src_fd, writer.fd, check=root.ensure_alive)
            action = writer.commit(meta)
        st = root.lstat(target)
    finally:
        os.close(pfd)
    uid, gid = root.owner_in_container(st)
    return Change(action, target, "file", uid, gid, st.st_mode)


def touch(
    root: ContainerRoot, path: bytes | str, *, owner: Owner | None = None, mode: int | None = None
) -> Change:
    """Create an empty file (O_EXCL) or update the times of an existing file or directory."""
    target = root.resolve_final(path)
    pfd, name = root.parent(target)
    try:
        st = lstat_at(pfd, name)
        if st is None:
            meta, _ = host_meta(root, DEFAULT_FILE_MODE if mode is None else mode, owner)
            with FileWriter(pfd, name, show(target), replace=False, check=root.ensure_alive) as writer:
                writer.commit(meta)
            action = CREATED
        else:
            _touch_existing(root, target)
            action = "touched"
    finally:
        os.close(pfd)
    st = root.lstat(target)
    uid, gid = root.owner_in_container(st)
    return Change(action, target, kind_of(st.st_mode), uid, gid, st.st_mode)


def _touch_existing(root: ContainerRoot, target: bytes) -> None:
    fd = root.open_path(target, follow=False)
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            raise UnsafeFile(f"refusing to touch {show(target)}: {kind_of(st.st_mode)}")
        os.utime(f"/proc/self/fd/{fd}")  # utimensat on our own fd's inode: O_PATH fds cannot futimens
    finally:
        os.close(fd)


def make_dirs(
    root: ContainerRoot,
    path: bytes | str,
    *,
    parents: bool = False,
    owner: Owner | None = None,
    mode: int | None = None,
) -> list[Change]:
    """mkdir (or mkdir -p): every directory created is returned; existing ones are left as they are."""
    target = cpath(path).rstrip(b"/") or b"/"
    meta, shown_owner = host_meta(root, DEFAULT_DIR_MODE if mode is None else mode, owner)
    todo = [target]
    if parents:
        todo = []
        current = b""
        for part in (p for p in target.split(b"/") if p):
            current += b"/" + part
            if part not in (b".", b".."):
                todo.append(current)
    changes = []
    for directory in todo:
        pfd, name = root.parent(directory)
        try:
            try:
                fd = make_dir_at(pfd, name, meta)
            except FileExistsError:
                if not parents:
                    raise RootfsError(f"{show(directory)}: already exists") from None
                os.close(root.open_path(directory, directory=True))  # must be (or lead to) a directory
                continue
            os.close(fd)
            root.ensure_alive()
            changes.append(
                Change("created", directory, "directory", shown_owner.uid, shown_owner.gid, meta.mode)
            )
        finally:
            os.close(pfd)
    return changes


def remove(root: ContainerRoot, path: bytes | str, *, recursive: bool = False) -> Change:
    """rm (or rm -r): never follows the final symlink (it removes the link), never crosses into other mounts."""
    target = cpath(path)
    entry = root.entry(target)
    if entry.is_mount_point:
        raise RootfsError(f"refusing to remove {show(target)}: it is a mount point (a volume or bind mount)")
    pfd, name = root.parent(target)
    try:
        if entry.is_dir:
            if not recursive:
                raise RootfsError(f"{show(target)}: is a directory (use -r)")
            skipped: list[tuple[bytes, str]] = []
            count = remove_tree_at(pfd, name, skipped=skipped)
            detail = f"{count} entries"
            if skipped:
                detail += f", left {len(skipped)} on other mounts or busy"
            rel_base = split(target)[0]
            shown = [(rel_base.rstrip(b"/") + b"/" + rel, why) for rel, why in skipped]
            return Change("removed", target, "directory", detail=detail, skipped=shown)
        os.unlink(name, dir_fd=pfd)
        return Change("removed", target, entry.kind)
    finally:
        os.close(pfd)


def set_metadata(root: ContainerRoot, path: bytes | str, meta: Meta) -> None:
    """chown/chmod/utime a regular file or directory through an fd (never a path that could follow a link)."""
    fd = root.open_path(path, follow=False)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            real = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        elif stat.S_ISREG(st.st_mode):
            real = root.open_regular(path, os.O_RDONLY, follow=False, verb="change")
        else:
            raise UnsafeFile(f"refusing to change {show(path)}: {kind_of(st.st_mode)}")
    finally:
        os.close(fd)
    try:
        apply_meta(real, meta)
    finally:
        os.close(real)
