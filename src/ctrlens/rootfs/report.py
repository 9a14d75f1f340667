"""What a copy did, for the one-line summary and for warnings about what it left out."""

from __future__ import annotations

from dataclasses import dataclass, field

from .root import show


@dataclass(slots=True)
class CopyReport:
    files: int = 0
    dirs: int = 0
    links: int = 0
    size: int = 0  # bytes copied
    skipped: list[tuple[bytes, str]] = field(default_factory=list)  # (path, why): specials, mounts, refusals
    refused: int = 0  # hostile archive members: these make the command fail after doing the rest
    target: str = ""  # where it went, printable
    action: str = "copied"
    detail: str = ""  # e.g. "owner 0:0 mode 0644" for a single file

    def skip(self, path: bytes, why: str, *, refused: bool = False) -> None:
        self.skipped.append((path, why))
        if refused:
            self.refused += 1

    def summary(self) -> str:
        parts = [f"{self.files} file{'s' if self.files != 1 else ''}"]
        if self.dirs:
            parts.append(f"{self.dirs} director{'ies' if self.dirs != 1 else 'y'}")
        if self.links:
            parts.append(f"{self.links} link{'s' if self.links != 1 else ''}")
        text = f"{self.action} {', '.join(parts)} ({_size(self.size)}) to {self.target}"
        if self.detail:
            text += f", {self.detail}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)}"
        return text

    def warnings(self) -> list[str]:
        return [f"skipped {show(path)}: {why}" for path, why in self.skipped]


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
