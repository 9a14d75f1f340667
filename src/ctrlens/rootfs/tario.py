"""`docker cp`-style tar streams: OUT built from the safe walk, IN extracted through the safe layer.

IN treats the archive as hostile: member names are taken relative to the destination directory, which acts
as the root of everything the archive does (absolute names, '..', and symlinks planted by earlier members all
resolve inside it). Members with '..' are refused, device nodes are refused, nothing is ever opened but the
regular files we create.
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
from collections.abc import Callable
from typing import BinaryIO

from ..errors import CtrlensError
from .atomic import FileWriter, Meta, make_dir_at, make_fifo_at, make_hardlink_at, make_symlink_at
from .entry import Entry
from .errors import ContainerStopped, PathNotFound, RootfsError, UnsafeFile
from .fdcopy import allocated_bytes, write_all
from .ids import Accounts
from .interrupt import terminating_cleanly
from .report import CopyReport
from .root import ContainerRoot, cpath, show
from .safeopen import open_regular_at
from .space import SpaceGuard
from .walk import ENTER, ITEM, relative, walk
from .write import set_metadata

BUFFER = 1 << 20
# A tar member cannot hold holes (Python's tarfile writes no sparse members): a mostly-hole file this big would
# stream as terabytes of zeros. Such files are left out, said, and the command fails (docs/fs.md).
SPARSE_LIMIT = 1 << 30


class _SizedReader(io.RawIOBase):
    """Exactly `size` bytes from an fd: a file that shrank while archived is padded with zeros (the header is
    already written), one that grew is cut."""

    def __init__(self, fd: int, size: int, report: CopyReport) -> None:
        self.fd = fd
        self.size = self.left = size
        self.short = False
        self.report = report  # told how far into this file the stream is

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray | memoryview) -> int:  # type: ignore[override]
        want = min(len(buf), self.left)
        if want == 0:
            return 0
        data = os.read(self.fd, want)
        if not data:
            self.short = True
            data = bytes(want)
        buf[: len(data)] = data
        self.left -= len(data)
        self.report.progress(self.size - self.left)
        return len(data)


def write_tar(
    root: ContainerRoot,
    src: bytes | str,
    out: BinaryIO,
    *,
    follow: bool = False,
    keep_setid: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Write container `src` as a tar stream (PAX: names of any length, as raw bytes) to `out`.

    Owners are written as the container sees them (as `docker cp` does); set-id bits are dropped unless
    `keep_setid`, and even then kept only when the container's id is the host id (no user namespace remap), so
    an archive extracted by root never holds a set-id file the container could not have made on the host."""
    with root.guard(src):
        top = root.entry(src, follow=follow)
    report = CopyReport(target="stdout", action="archived", on_progress=progress)
    try:
        with terminating_cleanly():
            _write_tar(root, top, out, report, keep_setid)
    except CtrlensError as exc:
        raise type(exc)(f"{exc}; {report.partial()}") from None
    except OSError as exc:
        raise RootfsError(f"writing the tar stream: {exc.strerror or exc}; {report.partial()}") from None
    return report


def _write_tar(root: ContainerRoot, top: Entry, out: BinaryIO, report: CopyReport, keep_setid: bool) -> None:
    base = top.name if top.name != b"/" else b"."
    accounts = root.accounts()
    links: dict[tuple[int, int], str] = {}
    with tarfile.open(
        fileobj=out,
        mode="w|",
        format=tarfile.PAX_FORMAT,
        encoding="utf-8",
        errors="surrogateescape",
        bufsize=BUFFER,
    ) as tar:
        tar.copybufsize = BUFFER  # type: ignore[attr-defined]
        for step in walk(root, top.path, on_skip=lambda e, why: report.skip(e.path, why)):
            if step.event not in (ENTER, ITEM):
                continue
            entry = step.entry
            rel = relative(top.path, entry.path)
            arcname = os.fsdecode(base + b"/" + rel if rel else base)
            info = _header(root, entry, arcname, accounts)
            if info is None:
                report.skip(entry.path, "socket, not archived")
                continue
            _setid(info, entry, keep_setid, report)
            if entry.is_file and step.parent_fd >= 0:
                _add_file(root, tar, step.parent_fd, entry, info, links, report)
            elif entry.is_file:
                _add_top_file(root, tar, entry, info, report)
            else:
                tar.addfile(info)
                report.dirs += entry.is_dir
                report.links += entry.is_symlink


def _setid(info: tarfile.TarInfo, entry: Entry, keep_setid: bool, report: CopyReport) -> None:
    bits = info.mode & 0o6000
    if not bits or entry.is_dir:
        return
    if keep_setid:
        # The header says the container's owner: keep a bit only where that is the file's host owner too.
        bits &= (0o4000 if info.uid != entry.st.st_uid else 0) | (
            0o2000 if info.gid != entry.st.st_gid else 0
        )
        why = "its owner in the container is not its host owner"
    else:
        why = "use --keep-setid to keep it"
    if bits:
        info.mode &= ~bits
        report.strip(entry.path, bits, why)


def _header(root: ContainerRoot, entry: Entry, arcname: str, accounts: Accounts) -> tarfile.TarInfo | None:
    st = entry.st
    info = tarfile.TarInfo(arcname)
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid = root.owner_in_container(st)
    info.uname = accounts.user(info.uid)
    info.gname = accounts.group(info.gid)
    info.mtime = int(st.st_mtime)
    if entry.is_dir:
        info.type = tarfile.DIRTYPE
    elif entry.is_symlink:
        info.type = tarfile.SYMTYPE
        info.linkname = os.fsdecode(entry.link_target or b"")
    elif entry.is_file:
        info.type = tarfile.REGTYPE
    elif stat.S_ISFIFO(st.st_mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        # Described from lstat only: the node is never opened.
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(st.st_mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None
    return info


def _add_file(
    root: ContainerRoot,
    tar: tarfile.TarFile,
    parent_fd: int,
    entry: Entry,
    info: tarfile.TarInfo,
    links: dict[tuple[int, int], str],
    report: CopyReport,
) -> None:
    key = (entry.st.st_dev, entry.st.st_ino)
    if entry.st.st_nlink > 1 and key in links:
        info.type, info.linkname = tarfile.LNKTYPE, links[key]
        tar.addfile(info)
        report.links += 1
        return
    root.ensure_alive()
    try:
        fd, st = open_regular_at(parent_fd, entry.name, show(entry.path))
    except (UnsafeFile, OSError) as exc:
        report.skip(entry.path, str(exc) if isinstance(exc, UnsafeFile) else exc.strerror or str(exc))
        return
    try:
        _add_from_fd(tar, fd, st, info, entry, report)
    finally:
        os.close(fd)
    if entry.st.st_nlink > 1:
        links[key] = info.name


def _add_top_file(
    root: ContainerRoot, tar: tarfile.TarFile, entry: Entry, info: tarfile.TarInfo, report: CopyReport
) -> None:
    with root.guard(entry.path):
        fd = root.open_regular(entry.path, follow=False, verb="copy")
    try:
        _add_from_fd(tar, fd, os.fstat(fd), info, entry, report)
    finally:
        os.close(fd)


def _add_from_fd(
    tar: tarfile.TarFile, fd: int, st: os.stat_result, info: tarfile.TarInfo, entry: Entry, report: CopyReport
) -> None:
    if st.st_size > SPARSE_LIMIT and allocated_bytes(st) < st.st_size // 10:
        report.fail(
            entry.path,
            f"sparse file of {st.st_size} bytes with {allocated_bytes(st)} of data: not archived (a tar stream "
            "would carry every hole as zeros); copy it with `fs cp REF:PATH DIR`, which keeps it sparse",
        )
        return
    info.size = st.st_size
    reader = _SizedReader(fd, st.st_size, report)
    tar.addfile(info, io.BufferedReader(reader, BUFFER))
    if reader.short:
        report.skip(entry.path, "shrank while archived (padded with zeros)")
    elif (now := os.fstat(fd).st_size) > st.st_size:
        report.note(
            entry.path, f"grew while archived ({st.st_size} -> {now} bytes): archived the first {st.st_size}"
        )
    report.files += 1
    report.size += st.st_size
    report.progress()


# --- IN ---------------------------------------------------------------------------------------------------


def member_path(name: str) -> bytes | None:
    """The member's path relative to the destination, or None when it must be refused ('..' anywhere)."""
    raw = os.fsencode(name)
    parts = [p for p in raw.split(b"/") if p not in (b"", b".")]
    if any(p == b".." for p in parts):
        return None
    return b"/".join(parts)


def read_tar(
    root: ContainerRoot,
    dest: bytes | str,
    stream: BinaryIO,
    *,
    archive: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CopyReport:
    """Extract a tar stream into container directory `dest`, which acts as the root for every member;
    `progress` hears "N files, SIZE" as it goes."""
    with root.guard(dest):
        if not stat.S_ISDIR(root.stat(dest).st_mode):
            raise RootfsError(f"{show(dest)}: not a directory in {root.label} (a tar stream needs one)")
        sub = root.subroot(dest)
    report = CopyReport(
        target=f"{show(cpath(dest))} in {root.label}" if root.label else show(dest),
        action="extracted",
        on_progress=progress,
    )
    try:
        with terminating_cleanly():
            _read_tar(root, sub, stream, archive, report)
    except ContainerStopped as exc:
        raise ContainerStopped(f"{exc}; {report.partial()}") from None
    except CtrlensError as exc:
        raise type(exc)(f"{exc}; {report.partial()}") from None
    except OSError as exc:
        raise RootfsError(f"extracting the tar stream: {exc.strerror or exc}; {report.partial()}") from None
    finally:
        sub.close()
    return report


def _read_tar(
    root: ContainerRoot, sub: ContainerRoot, stream: BinaryIO, archive: bool, report: CopyReport
) -> None:
    dirs: list[tuple[bytes, Meta]] = []
    try:
        with tarfile.open(
            fileobj=stream, mode="r|*", encoding="utf-8", errors="surrogateescape", bufsize=BUFFER
        ) as tar:
            for member in tar:
                rel = member_path(member.name)
                shown = os.fsencode(member.name)
                if rel is None:
                    report.skip(shown, "member path contains '..': refused", refused=True)
                    continue
                try:
                    with root.guard(b"/" + rel):
                        _extract(sub, tar, member, rel, archive, report, dirs)
                except (PathNotFound, UnsafeFile) as exc:
                    # e.g. a parent that an earlier member made a dangling symlink: skip it, keep going
                    report.skip(shown, str(exc), refused=True)
                except ContainerStopped:
                    raise
                except CtrlensError as exc:
                    # e.g. a name the filesystem cannot hold (a 300-byte component): say so, keep going
                    report.fail(shown, str(exc))
        for rel, meta in reversed(dirs):  # after their contents: read-only directories must still take them
            with root.guard(b"/" + rel):
                set_metadata(sub, b"/" + rel, meta)
    except tarfile.TarError as exc:
        raise RootfsError(f"bad tar stream: {exc}") from None


def _member_meta(root: ContainerRoot, member: tarfile.TarInfo, archive: bool) -> Meta:
    mode = member.mode & 0o7777
    if archive:
        uid, gid = root.owner_to_host(member.uid, member.gid)
        return Meta(mode, uid, gid, (int(member.mtime * 1e9), int(member.mtime * 1e9)))
    uid, gid = root.default_owner()
    return Meta(mode, uid, gid)


def _extract(
    sub: ContainerRoot,
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    rel: bytes,
    archive: bool,
    report: CopyReport,
    dirs: list[tuple[bytes, Meta]],
) -> None:
    path = b"/" + rel
    if member.ischr() or member.isblk():
        report.skip(path, "device node in the archive: refused", refused=True)
        return
    if not rel:
        return  # the destination itself ('.'): its owner and mode stay as they are
    meta = _member_meta(sub, member, archive)
    _ensure_parents(sub, rel, meta)
    if member.isdir():
        _ensure_dir(sub, path, Meta(0o700, meta.uid, meta.gid))  # final mode once its contents are in
        dirs.append((rel, meta))
        report.dirs += 1
        return
    pfd, name = sub.parent(path)
    try:
        if member.isreg():
            space = SpaceGuard(pfd, f"the filesystem of {show(path)} in {sub.label or 'the container'}")
            space.admit(member.size, show(path))  # the free-space rule (docs/fs.md), before writing
            source = tar.extractfile(member)

            def check() -> None:
                sub.ensure_alive()
                space.check()

            with FileWriter(pfd, name, show(path), replace=True, check=check) as writer:
                written = 0
                while source is not None and (chunk := source.read(BUFFER)):
                    write_all(writer.fd, chunk)
                    written += len(chunk)
                    report.progress(written)
                    if written % (64 << 20) < len(chunk):
                        check()  # every 64 MiB
                writer.commit(meta)
            report.files += 1
            report.size += member.size
            report.progress()
        elif member.issym():
            make_symlink_at(pfd, name, os.fsencode(member.linkname), meta, replace=True)
            report.links += 1
        elif member.islnk():
            _hardlink(sub, pfd, name, member, report)
        elif member.isfifo():
            make_fifo_at(pfd, name, meta)
        else:
            report.skip(path, f"unsupported member type {member.type!r}")
    finally:
        os.close(pfd)


def _hardlink(sub: ContainerRoot, pfd: int, name: bytes, member: tarfile.TarInfo, report: CopyReport) -> None:
    target = member_path(member.linkname)
    if not target:
        report.skip(os.fsencode(member.name), "hard link target contains '..': refused", refused=True)
        return
    try:
        src = sub.open_path(b"/" + target, follow=False)
    except OSError as exc:
        report.skip(os.fsencode(member.name), f"hard link target: {exc.strerror}", refused=True)
        return
    try:
        if not stat.S_ISREG(os.fstat(src).st_mode):
            report.skip(os.fsencode(member.name), "hard link to a non-regular file: refused", refused=True)
            return
        make_hardlink_at(pfd, name, src, replace=True)
        report.links += 1
    finally:
        os.close(src)


def _ensure_parents(sub: ContainerRoot, rel: bytes, meta: Meta) -> None:
    """Directories an archive uses without listing them are made 0755, owned like the member."""
    current = b""
    for part in rel.split(b"/")[:-1]:
        current += b"/" + part
        _ensure_dir(sub, current, Meta(0o755, meta.uid, meta.gid))


def _ensure_dir(sub: ContainerRoot, path: bytes, meta: Meta) -> None:
    try:
        os.close(sub.open_path(path, directory=True))  # exists (possibly through a symlink inside the root)
        return
    except FileNotFoundError:
        pass
    pfd, name = sub.parent(path)
    try:
        os.close(make_dir_at(pfd, name, meta))
    except FileExistsError:
        os.close(sub.open_path(path, directory=True))
    finally:
        os.close(pfd)
