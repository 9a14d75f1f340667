"""Runtime metadata read like hostile input: the one way ctrlens opens a runtime's own files.

A runtime's files (config.v2.json, hostconfig.json, OCI config.json, containers.json, LXC config, BoltDB and SQLite
databases, nspawn machine files) are trusted only when they are what the runtime itself writes: a regular file, not
a symlink, owned by root (or by the rootless user whose containers they describe), not writable by others.
Opened with O_NOFOLLOW|O_NONBLOCK (a FIFO never blocks the scan), read with a size cap, JSON parsed with a depth cap.
A file that fails any check raises `MetadataError` with one line saying why; a missing file is `None`, not an error.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

ROOT_ONLY: frozenset[int] = frozenset({0})
JSON_CAP = 64 << 20  # containers.json of a host with thousands of containers stays far below this
TEXT_CAP = 1 << 20  # LXC config, nspawn machine files
DB_CAP = 512 << 20  # BoltDB / SQLite databases, read whole
MAX_JSON_DEPTH = 64  # the deepest real runtime JSON (OCI config.json) nests about 8 levels

_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CHUNK = 1 << 20


class MetadataError(Exception):
    """A runtime metadata file that exists but is not trusted or does not parse: one warning, never fatal."""


@contextmanager
def open_checked(path: str, owners: frozenset[int] = ROOT_ONLY, cap: int = JSON_CAP) -> Iterator[int | None]:
    """An fd on `path` checked to be a trusted regular file (None when it does not exist)."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        yield None
        return
    except NotADirectoryError:
        yield None
        return
    except PermissionError:
        yield None  # not root: the scan already says once that root-only files cannot be read
        return
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a symlink
            raise MetadataError(f"{path}: a symlink, not read") from None
        raise MetadataError(f"{path}: {exc.strerror}") from None
    try:
        check_stat(path, os.fstat(fd), owners, cap)
        yield fd
    finally:
        os.close(fd)


def check_stat(path: str, st: os.stat_result, owners: frozenset[int], cap: int) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise MetadataError(f"{path}: not a regular file, not read")
    if st.st_uid not in owners:
        who = " or ".join(str(uid) for uid in sorted(owners))
        raise MetadataError(f"{path}: owned by uid {st.st_uid}, not {who}: not trusted")
    if st.st_mode & stat.S_IWOTH:
        raise MetadataError(f"{path}: writable by every user: not trusted")
    if st.st_size > cap:
        raise MetadataError(f"{path}: {st.st_size} bytes, over the {cap}-byte cap for runtime metadata")


def read_bytes(path: str, owners: frozenset[int] = ROOT_ONLY, cap: int = JSON_CAP) -> bytes | None:
    """The file's bytes, at most `cap` (a file growing past the cap while read is an error, not a truncation)."""
    with open_checked(path, owners, cap) as fd:
        if fd is None:
            return None
        chunks: list[bytes] = []
        total = 0
        try:
            while chunk := os.read(fd, _CHUNK):
                total += len(chunk)
                if total > cap:
                    raise MetadataError(f"{path}: grew past the {cap}-byte cap while read")
                chunks.append(chunk)
        except BlockingIOError:
            raise MetadataError(f"{path}: would block, not read") from None
        except OSError as exc:
            raise MetadataError(f"{path}: {exc.strerror}") from None
        return b"".join(chunks)


def read_text(path: str, owners: frozenset[int] = ROOT_ONLY, cap: int = TEXT_CAP) -> str | None:
    data = read_bytes(path, owners, cap)
    return None if data is None else data.decode("utf-8", errors="replace")


def read_json(path: str, owners: frozenset[int] = ROOT_ONLY, cap: int = JSON_CAP) -> Any:
    """The parsed JSON document, None when the file does not exist; MetadataError for anything else."""
    data = read_bytes(path, owners, cap)
    if data is None:
        return None
    return parse_json(data, path)


def parse_json(data: bytes | str, what: str = "JSON", max_depth: int = MAX_JSON_DEPTH) -> Any:
    """json.loads with a depth cap; every failure (syntax, depth, huge integers) is a MetadataError."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise MetadataError(f"{what}: nested deeper than {max_depth} levels, not read") from None
    except (ValueError, TypeError) as exc:
        raise MetadataError(f"{what}: not valid JSON ({str(exc)[:80]})") from None
    if _depth_exceeds(value, max_depth):
        raise MetadataError(f"{what}: nested deeper than {max_depth} levels, not read")
    return value


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """Iterative walk: linear in the document, no recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def str_dict(value: Any) -> dict[str, str]:
    """Labels and annotations as str -> str, whatever types a file holds (other values are dropped)."""
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
