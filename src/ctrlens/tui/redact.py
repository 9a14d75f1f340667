"""Command lines with their secrets masked before they reach the screen (`mysql -pHUNTER2` -> `mysql -p•••`).

Uses the secrets layer's argument rules (`ctrlens.secrets.option_pairs`/`classify`). Each process is judged once
in its life (cached by PID and start time), so a refresh costs a dictionary lookup per process. Without the
secrets layer every argument after argv[0] is masked: fail closed.
"""

from __future__ import annotations

from ..model import Snapshot

MASK = "•••"


class CommandRedactor:
    def __init__(self) -> None:
        self._cache: dict[tuple[int, int], list[str]] = {}
        try:
            from ..secrets.argv import option_pairs
            from ..secrets.findings import scan_argv

            self._option_pairs = option_pairs
            self._scan_argv = scan_argv
            self.available = True
        except ImportError:
            self.available = False

    def redact(self, snapshot: Snapshot) -> None:
        """Replace each process's `cmdline` by its masked form, in place (the snapshot is the TUI's own)."""
        fresh: dict[tuple[int, int], list[str]] = {}
        cache = self._cache
        for proc in snapshot.processes.values():
            key = (proc.pid, proc.start_ticks)
            masked = cache.get(key)
            if masked is None:
                masked = self.mask(proc.cmdline)
            fresh[key] = masked
            proc.cmdline = masked
        self._cache = fresh

    def mask(self, argv: list[str]) -> list[str]:
        if len(argv) < 2:
            return argv
        if not self.available:
            return [argv[0], MASK]
        secret_at = self._secret_indexes(argv)
        if not secret_at:
            return argv
        out = list(argv)
        for index, value in secret_at:
            arg = out[index]
            out[index] = arg[: len(arg) - len(value)] + MASK if value and arg.endswith(value) else MASK
        return out

    def _secret_indexes(self, argv: list[str]) -> list[tuple[int, str]]:
        try:
            findings = self._scan_argv(argv, lambda secret: "")
        except Exception:  # noqa: BLE001 - undecidable: mask all but the program, never show
            return [(i, argv[i]) for i in range(1, len(argv))]
        if not findings:
            return []
        names = {f.name for f in findings}
        found: list[tuple[int, str]] = []
        for opt in self._option_pairs(argv):
            if opt.name in names and opt.value:
                found.append((opt.index, opt.value))
        for finding in findings:
            if finding.name.startswith("argv[") and finding.name.endswith("]"):
                index = int(finding.name[5:-1])
                found.append((index, argv[index]))
        if len(found) < len(findings):
            # A finding we could not place: mask every argument rather than guess.
            return [(i, argv[i]) for i in range(1, len(argv))]
        return found
