"""A container's changes from its overlay upper layer, compared with the image (the lower layers).

The upper layer is container-controlled: it is walked with `rootfs.layerwalk` (fd-relative, O_NOFOLLOW, other
filesystems not entered), entries are described with lstat, and only regular files are ever opened (4 bytes for the exec test,
all of it for --hash). Symlinks, devices, FIFOs and sockets are reported as they are.

Two engines disagree on how to report directories, and `docker diff` / `podman diff` are what users compare with:
* docker (moby 20.10, the "naive" tree compare): a replaced (opaque) directory is C, with a D for every image
  entry it hides; every directory above a change is C; files whose lstat equals the image's are not changes.
* podman (containers/storage): a replaced directory existing in the image is D (its new content A/C); a
  directory is C when its size, mode or mtime differ from the image's, or as an ancestor (any level, '/' aside)
  of an A or D: `touch /usr/bin/new` gives `A /usr/bin/new`, `C /usr/bin` and `C /usr`.
Both call a path that the image has C, and one it lacks A.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ..errors import CtrlensError
from ..rootfs.fdwindow import after_pop, after_push
from ..rootfs.layerwalk import ENTER, LEAVE, LayerStep, walk_layer
from ..rootfs.root import ContainerRoot
from .content import has_exec_bit, looks_executable, read_head, sha256_at
from .image import ImageDir, ImageView, is_opaque, is_whiteout
from .model import (
    ADDED,
    CHANGED,
    DELETED,
    NEW_EXECUTABLE,
    SHADOWS_IMAGE,
    Change,
    FileInfo,
    flag_file_type,
    show_path,
)

STYLE_DOCKER = "docker"
STYLE_PODMAN = "podman"
STYLES = (STYLE_DOCKER, STYLE_PODMAN)

# Mount points libpod creates in the upper layer and `podman diff` hides (libpod/diff.go initInodes).
PODMAN_INIT_PATHS = frozenset({
    b"/dev", b"/etc/hostname", b"/etc/hosts", b"/etc/resolv.conf", b"/proc", b"/run", b"/run/notify",
    b"/run/.containerenv", b"/run/secrets", b"/sys", b"/etc/mtab",
})  # fmt: skip


@dataclass(slots=True)
class _Dir:
    path: bytes
    image: ImageDir  # this directory in the image (empty: the image has none)
    owned: bool  # close `image` on leave (the root's belongs to the ImageView)
    opaque: bool = False
    image_st: os.stat_result | None = None
    upper_st: os.stat_result | None = None
    names: set[bytes] = field(
        default_factory=set
    )  # upper entries seen (docker: what an opaque dir still has)
    change: Change | None = None
    inside: bool = False  # docker: something below changed
    recorded: bool = False  # podman: in containers/storage's changedDirs
    propagated: bool = False  # podman: every ancestor is recorded already
    in_image_as_dir: bool = False
    suspended: bool = False  # out of the fd window: `image` closed, re-opened when the walk climbs back

    @property
    def fd(self) -> int:
        """fdwindow.Frame: -1 while the image fds are closed."""
        return -1 if self.suspended else 0


class OverlayDiff:
    """One walk of an upper layer. `run()` returns the changes; `warnings` says what could not be looked at."""

    def __init__(
        self,
        upper: ContainerRoot,
        image: ImageView,
        *,
        style: str = STYLE_DOCKER,
        hash: bool = False,
        opaque_xattr: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        if style not in STYLES:
            raise ValueError(f"style must be one of {STYLES}")
        self.upper = upper
        self.image = image
        self.style = style
        self.hash = hash
        self.opaque_xattr = opaque_xattr or image.opaque_xattr
        self.progress = progress
        self.changes: list[Change] = []
        self.warnings: list[str] = []

    def run(self) -> list[Change]:
        # Each frame holds one fd per image layer showing through: fewer frames in the window with more layers.
        self._keep = max(2, 128 // max(1, len(self.image.root().fds)))
        stack: list[_Dir] = []
        try:
            with contextlib.closing(walk_layer(self.upper.fileno(), on_skip=self._skipped)) as steps:
                self._consume(steps, stack)
        finally:
            for frame in stack:
                if frame.owned:
                    frame.image.close()
        return self.changes

    def _consume(self, steps: Iterator[LayerStep], stack: list[_Dir]) -> None:
        seen = 0
        for step in steps:
            if step.event == LEAVE:
                self._leave(stack.pop(), stack[-1] if stack else None)
                after_pop(stack, self._resume, _suspend, lambda frame: None, self._keep)
                continue
            if step.parent_fd < 0:
                stack.append(_Dir(b"/", self.image.root(), owned=False))
                continue
            seen += 1
            if self.progress is not None and seen % 1000 == 0:
                self.progress(seen)
            parent = stack[-1]
            parent.names.add(step.name)
            image_st = parent.image.lookup(step.name) if parent.image else None
            if step.event == ENTER:
                stack.append(self._enter(stack, step, image_st))
                after_push(stack, _suspend, self._keep)
            else:
                self._item(stack, step, image_st)

    # --- walk events ----------------------------------------------------------------------------------------

    def _resume(self, parent: _Dir, frame: _Dir) -> bool:
        if frame.in_image_as_dir:
            frame.image = parent.image.child(os.path.basename(frame.path))
        frame.suspended = False
        return True

    def _enter(self, stack: list[_Dir], step: LayerStep, image_st: os.stat_result | None) -> _Dir:
        parent = stack[-1]
        in_image_as_dir = image_st is not None and stat.S_ISDIR(image_st.st_mode)
        image = parent.image.child(step.name) if in_image_as_dir else ImageDir([], self.opaque_xattr)
        frame = _Dir(
            step.path,
            image,
            owned=True,
            opaque=is_opaque(step.dir_fd, self.opaque_xattr),
            image_st=image_st,
            upper_st=step.st,
            in_image_as_dir=in_image_as_dir,
        )
        if self.style == STYLE_DOCKER:
            if image_st is None:
                frame.change = self._record(ADDED, step, None)
            elif not in_image_as_dir or _docker_differs(step.st, image_st):
                frame.change = self._record(CHANGED, step, image_st)
            if frame.change is not None:
                parent.inside = True
        else:
            kind = self._podman_kind(step, image_st, opaque=frame.opaque)
            if kind is not None:
                frame.change = self._record(kind, step, image_st)
                frame.recorded = True
                self._podman_ancestors(stack, kind)
        return frame

    def _item(self, stack: list[_Dir], step: LayerStep, image_st: os.stat_result | None) -> None:
        parent = stack[-1]
        if is_whiteout(step.st):
            if image_st is not None or self.style == STYLE_PODMAN:
                self._deleted(step.path, image_st)
                parent.inside = True
                if self.style == STYLE_PODMAN:
                    self._podman_ancestors(stack, DELETED)
            return
        if self.style == STYLE_DOCKER:
            if image_st is None:
                kind: str | None = ADDED
            elif _docker_differs(step.st, image_st):
                kind = CHANGED
            else:
                kind = None
        else:
            kind = self._podman_kind(step, image_st, opaque=False)
        if kind is None:
            return
        self._record(kind, step, image_st)
        parent.inside = True
        if self.style == STYLE_PODMAN:
            self._podman_ancestors(stack, kind)

    def _leave(self, frame: _Dir, parent: _Dir | None) -> None:
        try:
            if self.style != STYLE_DOCKER or parent is None:
                return
            if frame.opaque and frame.image:
                # The directory was replaced: every image entry it no longer shows is deleted.
                for name, st in sorted(frame.image.entries().items()):
                    if name not in frame.names:
                        self._deleted(_join(frame.path, name), st)
                        frame.inside = True
            if (
                frame.inside
                and frame.change is None
                and frame.image_st is not None
                and frame.upper_st is not None
            ):
                frame.change = Change(
                    frame.path, CHANGED, FileInfo.of(frame.upper_st), FileInfo.of(frame.image_st)
                )
                self.changes.append(frame.change)
            if frame.inside or frame.change is not None:
                parent.inside = True
        finally:
            if frame.owned:
                frame.image.close()

    # --- decisions ------------------------------------------------------------------------------------------

    def _podman_kind(self, step: LayerStep, image_st: os.stat_result | None, *, opaque: bool) -> str | None:
        if opaque and image_st is not None:
            return DELETED  # containers/storage: an opaque directory the image has was deleted and re-made
        if image_st is None:
            return ADDED
        if step.is_dir and stat.S_ISDIR(image_st.st_mode) and _podman_same_dir(step.st, image_st):
            return None
        return CHANGED

    def _podman_ancestors(self, stack: list[_Dir], kind: str) -> None:
        """containers/storage: every directory above an A or D ('/' aside) is C, unless already reported."""
        if kind not in (ADDED, DELETED):
            return
        for frame in reversed(stack):
            if frame.propagated or frame.path == b"/":
                break  # its ancestors were all marked when it was
            frame.propagated = True
            if frame.recorded:
                continue
            frame.recorded = True
            if frame.upper_st is not None:
                frame.change = Change(
                    frame.path,
                    CHANGED,
                    FileInfo.of(frame.upper_st),
                    FileInfo.of(frame.image_st) if frame.image_st else None,
                )
                self.changes.append(frame.change)

    # --- recording ------------------------------------------------------------------------------------------

    def _deleted(self, path: bytes, image_st: os.stat_result | None) -> None:
        self.changes.append(Change(path, DELETED, None, FileInfo.of(image_st) if image_st else None))

    def _record(self, kind: str, step: LayerStep, image_st: os.stat_result | None) -> Change:
        image = FileInfo.of(image_st) if image_st is not None else None
        if kind == DELETED:  # podman: a replaced directory; what is there now is reported below it
            change = Change(step.path, kind, None, image)
        else:
            change = Change(step.path, kind, FileInfo.of(step.st), image, link_target=_link_text(step))
            self._flag(change, step, image_st)
        self.changes.append(change)
        return change

    def _flag(self, change: Change, step: LayerStep, image_st: os.stat_result | None) -> None:
        mode = step.st.st_mode
        if change.kind == CHANGED and not step.is_dir and image_st is not None:
            change.flags.append(SHADOWS_IMAGE)
        if not flag_file_type(change.flags, mode):
            return
        shown = show_path(step.path)
        try:
            if has_exec_bit(mode) and looks_executable(read_head(step.parent_fd, step.name, shown)):
                image_ran = image_st is not None and has_exec_bit(image_st.st_mode)
                if not image_ran:
                    change.flags.insert(0, NEW_EXECUTABLE)
            if self.hash:
                change.sha256, change.sha256_bytes, _ = sha256_at(step.parent_fd, step.name, shown)
        except FileNotFoundError:
            self.warnings.append(f"{shown}: vanished while being read")
        except (OSError, CtrlensError) as exc:
            self.warnings.append(f"{shown}: not read: {exc}")

    def _skipped(self, path: bytes, why: str) -> None:
        self.warnings.append(f"{show_path(path)}: {why}")


def _suspend(frame: _Dir) -> None:
    if frame.owned and not frame.suspended:
        frame.image.close()
        frame.suspended = True


def _link_text(step: LayerStep) -> bytes | None:
    if not stat.S_ISLNK(step.st.st_mode):
        return None
    try:
        return os.readlink(step.name, dir_fd=step.parent_fd)
    except OSError:
        return None  # replaced since the lstat: show no target


def _join(parent: bytes, name: bytes) -> bytes:
    return b"/" + name if parent == b"/" else parent + b"/" + name


def _same_time(a_ns: int, b_ns: int) -> bool:
    """moby's sameFsTime: equal, or the same second with one side lacking nanoseconds (tar has none)."""
    if a_ns == b_ns:
        return True
    return a_ns // 1_000_000_000 == b_ns // 1_000_000_000 and (
        a_ns % 1_000_000_000 == 0 or b_ns % 1_000_000_000 == 0
    )


def _docker_differs(new: os.stat_result, old: os.stat_result) -> bool:
    """moby's statDifferent: for directories only mode, owner and rdev count; files also size and mtime."""
    if (new.st_mode, new.st_uid, new.st_gid, new.st_rdev) != (
        old.st_mode,
        old.st_uid,
        old.st_gid,
        old.st_rdev,
    ):
        return True
    if stat.S_ISDIR(old.st_mode):
        return False
    return new.st_size != old.st_size or not _same_time(new.st_mtime_ns, old.st_mtime_ns)


def _podman_same_dir(new: os.stat_result, old: os.stat_result) -> bool:
    return (
        new.st_size == old.st_size
        and new.st_mode == old.st_mode
        and _same_time(new.st_mtime_ns, old.st_mtime_ns)
    )


def hide_podman_mount_points(changes: list[Change]) -> list[Change]:
    """Drop what libpod itself creates at start, as `podman diff` does; a file there holding data stays."""
    kept = []
    for change in changes:
        if change.path in PODMAN_INIT_PATHS and (
            change.info is None or not stat.S_ISREG(change.info.mode) or change.info.size == 0
        ):
            continue
        kept.append(change)
    return kept
