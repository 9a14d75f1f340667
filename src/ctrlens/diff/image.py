"""The image a container started from, as overlayfs merges its lower layers: lookups and listings by name.

Each layer is a directory fd on engine storage; what is below it is image content, so it is reached only
by single names relative to a directory fd, with O_NOFOLLOW|O_DIRECTORY (rootfs.safeopen.open_dir_at): a
symlink in an image is described, never followed, and nothing but directories is ever opened here.

Overlay rules (Documentation/filesystems/overlayfs.rst): a character device 0/0 is a whiteout (the name is
deleted in this and every lower layer); a directory with the opaque xattr hides the same directory in lower
layers; a non-directory hides everything below it.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Self

from ..rootfs.safeopen import open_dir_at

TRUSTED_OPAQUE = "trusted.overlay.opaque"
USER_OPAQUE = "user.overlay.opaque"  # mounts with `userxattr` (rootless podman, unprivileged overlay)


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def is_opaque(dirfd: int, xattr: str) -> bool:
    """The directory hides lower layers. Only 'y' counts ('x' marks a directory holding xwhiteouts)."""
    try:
        return os.getxattr(dirfd, xattr) == b"y"
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.EACCES):
            return False
        raise


class ImageDir:
    """One directory of the merged image: the fds of that directory in each layer that shows through, top first.
    Owns its fds (close it); an ImageDir with no fds is a directory the image does not have."""

    __slots__ = ("_opaque_xattr", "fds")

    def __init__(self, fds: list[int], opaque_xattr: str) -> None:
        self.fds = fds
        self._opaque_xattr = opaque_xattr

    def __bool__(self) -> bool:
        return bool(self.fds)

    def close(self) -> None:
        for fd in self.fds:
            os.close(fd)
        self.fds = []

    def lookup(self, name: bytes) -> os.stat_result | None:
        """lstat of `name` as the image shows it; None when absent or whited out."""
        for fd in self.fds:
            try:
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                continue
            return None if is_whiteout(st) else st
        return None

    def child(self, name: bytes) -> ImageDir:
        """The image's directory `name` below this one (empty when the image has no directory there)."""
        found: list[int] = []
        try:
            for fd in self.fds:
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    break  # a whiteout or a non-directory hides this name in every lower layer
                try:
                    sub = open_dir_at(fd, name)
                except OSError as exc:
                    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                        break  # swapped since the lstat: layers are not supposed to change; stop merging
                    raise
                found.append(sub)
                if is_opaque(sub, self._opaque_xattr):
                    break
        except BaseException:
            for fd in found:
                os.close(fd)
            raise
        return ImageDir(found, self._opaque_xattr)

    def entries(self) -> dict[bytes, os.stat_result]:
        """The merged listing: name -> lstat of the entry that shows (whiteouts removed)."""
        merged: dict[bytes, os.stat_result | None] = {}
        for fd in self.fds:
            for name in os.listdir(fd):
                raw = os.fsencode(name)
                if raw in merged:
                    continue
                try:
                    st = os.stat(raw, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                merged[raw] = None if is_whiteout(st) else st
        return {name: st for name, st in merged.items() if st is not None}


class ImageView:
    """The lower layers of an overlay mount, top first, as one read-only tree. Use as a context manager."""

    def __init__(self, layer_paths: list[str], *, opaque_xattr: str = TRUSTED_OPAQUE) -> None:
        self.opaque_xattr = opaque_xattr
        fds: list[int] = []
        try:
            for path in layer_paths:
                # Layer paths are engine storage named by the mount (host paths): following the engine's own
                # `l/XXXX` short links here is fine. Below the layer root, nothing is followed.
                fds.append(os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self._root = ImageDir(fds, opaque_xattr)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._root.close()

    def root(self) -> ImageDir:
        """The image's '/' (owned by the view: do not close it)."""
        return self._root
