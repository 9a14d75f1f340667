"""`snapshot verify`: recompute every member's SHA-256 and compare it with manifest.json.

The archive is read as a stream and nothing is extracted, so a crafted bundle cannot write anywhere.
A damaged gzip stream or tar header is a failure like a wrong hash.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from ..errors import NotFound, UsageError
from .bundle import FORMAT, MANIFEST

_CHUNK = 1 << 20


@dataclass(slots=True)
class Verification:
    path: str
    manifest: dict[str, Any] | None = None
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems

    def to_dict(self) -> dict[str, Any]:
        m = self.manifest or {}
        return {
            "path": self.path,
            "ok": self.ok,
            "members_checked": self.checked,
            "problems": list(self.problems),
            "container": m.get("container"),
            "host": m.get("host"),
            "tool": m.get("tool"),
            "started_at": m.get("started_at"),
            "finished_at": m.get("finished_at"),
        }


def verify_bundle(path: str) -> Verification:
    result = Verification(path)
    digests: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(path, mode="r:gz", encoding="utf-8", errors="surrogateescape") as tar:
            for info in tar:
                if not info.isfile():
                    result.problems.append(f"{_show(info.name)}: not a regular file in the archive")
                    continue
                source = tar.extractfile(info)
                if source is None:  # isfile() was checked: the archive lies about this member
                    result.problems.append(f"{_show(info.name)}: unreadable in the archive")
                    continue
                digest = hashlib.sha256()
                size = 0
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    if info.name == MANIFEST and size > 64 << 20:
                        raise ValueError("manifest.json is implausibly large")
                if info.name == MANIFEST:
                    source = tar.extractfile(info)
                    if source is None:
                        result.problems.append(f"{MANIFEST}: unreadable in the archive")
                        continue
                    result.manifest = json.loads(source.read())
                    continue
                if info.name in digests:
                    result.problems.append(f"{_show(info.name)}: appears twice in the archive")
                digests[info.name] = (size, digest.hexdigest())
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a bundle") from None
    except (tarfile.TarError, EOFError, zlib.error, OSError, ValueError) as exc:
        result.problems.append(f"the archive is damaged: {exc}")
        return result
    if result.manifest is None:
        result.problems.append("no manifest.json: not a ctrlens snapshot, or truncated")
        return result
    _compare(result, digests)
    return result


def _compare(result: Verification, digests: dict[str, tuple[int, str]]) -> None:
    manifest = result.manifest or {}
    if manifest.get("format") != FORMAT:
        result.problems.append(f"unknown bundle format {manifest.get('format')!r} (expected {FORMAT})")
    listed = {
        str(m.get("name")): m for m in manifest.get("members", []) if isinstance(m, dict) and "name" in m
    }
    for name, entry in listed.items():
        found = digests.get(str(name))
        if found is None:
            result.problems.append(f"{_show(str(name))}: listed in the manifest, missing from the archive")
            continue
        result.checked += 1
        size, sha = found
        if sha != entry.get("sha256") or size != entry.get("size"):
            result.problems.append(
                f"{_show(str(name))}: SHA-256 differs from the manifest (changed after capture)"
            )
    for name in digests.keys() - listed.keys():
        result.problems.append(f"{_show(name)}: in the archive but not in the manifest (added after capture)")


def _show(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
