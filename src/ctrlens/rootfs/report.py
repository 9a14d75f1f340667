"""What a copy did, for the one-line summary and for warnings about what it left out."""

from __future__ import annotations

from collections.abc import Callable
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
    failed: int = 0  # members or files that could not be written: the command fails after doing the rest
    stripped: list[tuple[bytes, str]] = field(default_factory=list)  # (path, what was dropped and why)
    notes: list[tuple[bytes, str]] = field(default_factory=list)  # (path, e.g. "grew while copied…")
    on_progress: Callable[[str], None] | None = None  # a progress line for long copies (the CLI: TTY only)

    def progress(self, current: int = 0) -> None:
        """Tell `on_progress` how far the copy is (`current`: bytes of the file being copied)."""
        if self.on_progress is not None:
            self.on_progress(f"{self.files} files, {_size(self.size + current)}")

    target: str = ""  # where it went, printable
    action: str = "copied"
    detail: str = ""  # e.g. "owner 0:0 mode 0644" for a single file

    def skip(self, path: bytes, why: str, *, refused: bool = False) -> None:
        self.skipped.append((path, why))
        if refused:
            self.refused += 1

    def strip(self, path: bytes, bits: int, why: str) -> None:
        names = [n for bit, n in ((0o4000, "setuid"), (0o2000, "setgid")) if bits & bit]
        self.stripped.append((path, f"{'+'.join(names)} dropped ({why})"))

    def note(self, path: bytes, text: str) -> None:
        self.notes.append((path, text))

    def fail(self, path: bytes, why: str) -> None:
        self.skipped.append((path, why))
        self.failed += 1

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
        if self.stripped:
            text += f"; set-id bits dropped from {len(self.stripped)}"
        return text

    def warnings(self, limit: int = 50) -> list[str]:
        """One line per skipped, stripped or noted path (the first `limit` of each kind, then a count)."""
        lines: list[str] = []
        for items, verb in ((self.skipped, "skipped "), (self.stripped, ""), (self.notes, "")):
            lines += [f"{verb}{show(path)}: {why}" for path, why in items[:limit]]
            if len(items) > limit:
                lines.append(f"… and {len(items) - limit} more like that")
        return lines

    def partial(self) -> str:
        """What was done before a failure: the user must know what is already written."""
        if not (self.files or self.dirs or self.links):
            return "nothing written"
        return "before that: " + self.summary()


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)
