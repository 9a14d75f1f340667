"""What changed in a running container since it started, from the host, without the engine.

    from ctrlens.diff import diff_container
    result = diff_container(snapshot, container, host)           # DiffResult
    result.summary()          # {"added": 3, "changed": 5, "deleted": 1, "new_executables": 1, ...}
    result.new_executables    # [Change(path=b"/tmp/dropped", kind="A", flags=["new-executable"], ...)]
    result.ordered()          # flagged first, then by path

Overlay containers (Docker, Podman, containerd, CRI-O): the upper layer is compared with the image's lower
layers (A/C/D, whiteouts and opaque directories understood), in docker's or podman's conventions (`style`,
default: the container's own engine). Anything else (LXC, nspawn): a heuristic on mtime/ctime since the
init started, and `limitations` says what it cannot know.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ..errors import CtrlensError
from ..host import Host
from ..model import Container, Snapshot
from ..rootfs.root import ContainerRoot
from .content import HASH_CAP
from .heuristic import LIMITATIONS, RecentChanges, process_start_ns
from .image import ImageView
from .locate import RootLocation, locate_root
from .model import (
    ADDED,
    CHANGED,
    DELETED,
    DEVICE,
    FIFO_OR_SOCKET,
    FLAG_ORDER,
    METHOD_HEURISTIC,
    METHOD_OVERLAY,
    MODIFIED,
    NEW_EXECUTABLE,
    SETGID,
    SETUID,
    SHADOWS_IMAGE,
    Change,
    DiffResult,
    FileInfo,
    show_path,
)
from .overlay import STYLE_DOCKER, STYLE_PODMAN, STYLES, OverlayDiff, hide_podman_mount_points

Progress = Callable[[int], None]


def default_style(container: Container) -> str:
    """Podman and CRI-O store layers with containers/storage: their conventions; everyone else docker's."""
    from ..runtimes import DiffConvention, diff_convention

    return STYLE_PODMAN if diff_convention(container) == DiffConvention.PODMAN else STYLE_DOCKER


def diff_container(
    snapshot: Snapshot,
    container: Container,
    host: Host,
    hash: bool = False,
    *,
    style: str | None = None,
    progress: Progress | None = None,
) -> DiffResult:
    """The changes in `container`'s filesystem. Raises CtrlensError (ProcessGone when it stopped)."""
    where = locate_root(snapshot, container, host)
    if where.is_overlay:
        return _overlay(container, where, style or default_style(container), hash, progress)
    return _heuristic(snapshot, container, host, where, hash, progress)


def _overlay(
    container: Container, where: RootLocation, style: str, hash: bool, progress: Progress | None
) -> DiffResult:
    if where.upper is None:
        raise CtrlensError(f"{container.display_name}: no writable layer found")
    result = DiffResult(
        container.id,
        container.name,
        container.runtime,
        METHOD_OVERLAY,
        style,
        upperdir=where.upper,
        lowerdirs=list(where.lowers),
        hashed=hash,
    )
    try:
        upper = ContainerRoot.from_path(where.upper, label=f"the writable layer of {container.display_name}")
    except FileNotFoundError:
        raise CtrlensError(
            f"the writable layer {where.upper} of {container.display_name} is not on this host "
            "(stopped meanwhile, or a wrong --host-root?)"
        ) from None
    with upper:
        try:
            image = ImageView(list(where.lowers), opaque_xattr=where.opaque_xattr)
        except FileNotFoundError as exc:
            raise CtrlensError(
                f"image layer {exc.filename} of {container.display_name} is not on this host "
                "(a wrong --host-root?)"
            ) from None
        with image:
            walker = OverlayDiff(upper, image, style=style, hash=hash, progress=progress)
            changes = walker.run()
    if container.runtime == "podman" and style == STYLE_PODMAN:
        changes = hide_podman_mount_points(changes)
    result.changes = changes
    result.warnings = walker.warnings
    if hash:
        result.note_hash_caps(HASH_CAP)
    options = set(where.fs.mount_line.super_options)
    if "metacopy=on" in options:
        result.limitations.append(
            "metacopy=on: a file whose metadata alone changed keeps its data in the image "
            "layers; its hash (--hash) and captured copy come from the writable layer"
        )
    if "redirect_dir=on" in options:
        result.limitations.append(
            "redirect_dir=on: a renamed directory's content from the image is not listed under its new name"
        )
    mounts = where.writable_mounts()
    if mounts:
        result.limitations.append(
            "writes to mounts are not in the writable layer and not listed: " + ", ".join(mounts)
        )
    return result


def _heuristic(
    snapshot: Snapshot,
    container: Container,
    host: Host,
    where: RootLocation,
    hash: bool,
    progress: Progress | None,
) -> DiffResult:
    proc = snapshot.processes.get(container.init_pid or where.pid)
    if proc is None:
        raise CtrlensError(f"container {container.display_name}: its init process is gone")
    since = process_start_ns(proc)
    result = DiffResult(
        container.id,
        container.name,
        container.runtime,
        METHOD_HEURISTIC,
        None,
        since=datetime.fromtimestamp(since / 1e9, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        hashed=hash,
    )
    result.limitations = [
        f"root filesystem is {where.fs.fstype} ({where.fs.host_path or where.fs.source}), "
        "not overlay: " + LIMITATIONS[0],
        *LIMITATIONS[1:],
    ]
    with ContainerRoot.from_pid(
        where.pid, proc=host.proc, no_xdev=True, label=container.display_name
    ) as root:
        walker = RecentChanges(root, since, hash=hash, progress=progress)
        result.changes = walker.run()
    result.warnings = walker.warnings
    if hash:
        result.note_hash_caps(HASH_CAP)
    return result


__all__ = [
    "ADDED", "CHANGED", "DELETED", "DEVICE", "FIFO_OR_SOCKET", "FLAG_ORDER", "METHOD_HEURISTIC", "METHOD_OVERLAY",
    "MODIFIED", "NEW_EXECUTABLE", "SETGID", "SETUID", "SHADOWS_IMAGE", "STYLES", "STYLE_DOCKER", "STYLE_PODMAN",
    "Change", "DiffResult", "FileInfo", "Progress", "default_style", "diff_container", "show_path",
]  # fmt: skip
