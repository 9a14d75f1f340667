"""The evidence bundle: a tar.gz whose manifest.json holds the SHA-256 of every other member.

Written atomically: members go to a private temp file (0600, O_EXCL) next to the destination, which appears
only when everything is written and synced: by link(2) when it must not overwrite (fails if the name exists,
even if created meanwhile), by rename(2) with --force. An interrupted run leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import secrets
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Any, Self

from ..errors import CtrlensError, UsageError
from ..jsonrecords import dumps_with_records

MANIFEST = "manifest.json"
FORMAT = "ctrlens-snapshot/1"
SPOOL_IN_MEMORY = 8 << 20  # members bigger than this are staged on disk before they enter the archive
_CHUNK = 1 << 20


class BundleExists(CtrlensError):
    pass


@dataclass(slots=True)
class Member:
    name: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "size": self.size, "sha256": self.sha256}


def json_bytes(data: Any) -> bytes:
    # ensure_ascii: names that are not UTF-8 (surrogate escapes) survive the round trip as \\udcXX.
    if isinstance(data, dict):
        return dumps_with_records(data, ascii=True).encode()
    return (json.dumps(data, indent=2, default=str) + "\n").encode()


def check_destination(path: str, force: bool) -> str:
    """The absolute destination; refuses an existing file without --force, a directory, a missing parent."""
    dest = os.path.abspath(path)
    if os.path.isdir(dest):
        raise UsageError(
            f"{path}: is a directory; give a file name such as {os.path.join(path, 'snap.tar.gz')}"
        )
    parent = os.path.dirname(dest)
    if not os.path.isdir(parent):
        raise UsageError(f"{path}: directory {parent} does not exist")
    if os.path.lexists(dest) and not force:
        raise BundleExists(f"{path} exists; use --force to replace it")
    return dest


@dataclass
class BundleWriter:
    dest: str
    force: bool = False
    members: list[Member] = field(default_factory=list)
    _tmp: str = ""
    _file: IO[bytes] | None = None
    _tar: tarfile.TarFile | None = None
    _names: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.dest = check_destination(self.dest, self.force)
        directory, base = os.path.split(self.dest)
        self._tmp = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.part")
        fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        self._file = os.fdopen(fd, "wb")
        # Closed in commit() or abort(): the archive outlives this method.
        self._tar = tarfile.open(  # noqa: SIM115 - closed in commit() or abort()
            fileobj=self._file,
            mode="w:gz",
            compresslevel=6,
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
            errors="surrogateescape",
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            self.abort()

    # --- members --------------------------------------------------------------------------------------------

    def add_json(self, name: str, data: Any) -> Member:
        return self.add_bytes(name, json_bytes(data))

    def add_bytes(self, name: str, data: bytes, *, mtime: float | None = None, mode: int = 0o644) -> Member:
        return self._add(name, io.BytesIO(data), len(data), hashlib.sha256(data).hexdigest(), mtime, mode)

    def add_stream(
        self, name: str, source: IO[bytes], limit: int, *, mtime: float | None = None, mode: int = 0o644
    ) -> Member:
        """Up to `limit` bytes of `source` (read now: the size in the tar header must be exact)."""
        digest = hashlib.sha256()
        size = 0
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
            while size < limit:
                chunk = source.read(min(_CHUNK, limit - size))
                if not chunk:
                    break
                digest.update(chunk)
                spool.write(chunk)
                size += len(chunk)
            spool.seek(0)
            return self._add(name, spool, size, digest.hexdigest(), mtime, mode)

    def _add(
        self, name: str, data: IO[bytes], size: int, sha256: str, mtime: float | None, mode: int
    ) -> Member:
        if name in self._names or name == MANIFEST:
            raise ValueError(f"duplicate bundle member {name!r}")
        if self._tar is None:
            raise RuntimeError("bundle member added before open() or after commit()")
        info = tarfile.TarInfo(name)
        info.size = size
        info.mtime = int(mtime if mtime is not None else time.time())
        info.mode = mode
        info.uname = info.gname = "root"
        self._tar.addfile(info, data)
        self._names.add(name)
        member = Member(name, size, sha256)
        self.members.append(member)
        return member

    # --- finishing ------------------------------------------------------------------------------------------

    def commit(self, manifest: dict[str, Any]) -> str:
        """Write manifest.json (with every member's hash), sync, and move the bundle into place."""
        if self._tar is None or self._file is None:
            raise RuntimeError("commit() before open() or twice")
        manifest = {**manifest, "format": FORMAT, "members": [m.to_dict() for m in self.members]}
        data = json_bytes(manifest)
        info = tarfile.TarInfo(MANIFEST)
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
        self._tar.addfile(info, io.BytesIO(data))
        self._tar.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self._tar = self._file = None
        try:
            if self.force:
                os.replace(self._tmp, self.dest)
            else:
                self._link_into_place()
        except BaseException:
            self._remove_tmp()
            raise
        _fsync_dir(os.path.dirname(self.dest))
        return self.dest

    def _link_into_place(self) -> None:
        try:
            os.link(self._tmp, self.dest)
        except FileExistsError:
            raise BundleExists(
                f"{self.dest} appeared while the snapshot was taken; nothing written "
                "(use --force to replace it)"
            ) from None
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # A filesystem without hard links: check, then rename (a tiny window instead of none).
            if os.path.lexists(self.dest):
                raise BundleExists(f"{self.dest} exists; use --force to replace it") from None
            os.rename(self._tmp, self.dest)
            return
        os.unlink(self._tmp)

    def abort(self) -> None:
        try:
            if self._tar is not None:
                self._tar.close()
        except Exception:  # noqa: BLE001, S110 - the archive is being thrown away
            pass
        try:
            if self._file is not None:
                self._file.close()
        except OSError:
            pass
        self._tar = self._file = None
        self._remove_tmp()

    def _remove_tmp(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._tmp)


def _fsync_dir(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
