"""The one redaction rule for what a container shows: command lines, environments and labels, in every face.

    redactor = Redactor.for_host(host)             # fingerprints keyed by the host: the same in every face
    redactor.argv(["mysql", "-pHUNTER2", "db"])    # ["mysql", "-p<redacted: secret-name, 7 chars, fp …>", "db"]
    redactor.environ(pairs)                        # [Shown(name, value or marker, finding)]
    redactor.labels({"db.password": "x9…"})        # {"db.password": "<redacted: …>"}
    redactor.mask_snapshot(snapshot)               # argv and labels of a face's own snapshot, in place

The rule, the same for argv, environ and labels:
* a value (or the part of an argument) in which the detectors find a secret becomes
  `<redacted: RULE, N chars, fp FINGERPRINT>`; for `--opt=VALUE` / `-pVALUE` / `KEY=VALUE` the option stays;
* a value longer than the detectors read (`findings.SCAN_LIMIT` a value, `BUDGET` a process and source), or
  arguments past `ARG_LIMIT`, were not judged in full, so they are hidden: `<redacted: N chars, not scanned
  in full>`;
* when detection fails, every value but the program name is hidden (fail closed);
* `reveal=True` (the commands' `--reveal`) shows everything as it is.
A `strict` environment (snapshot bundles, which travel further than a terminal) also hides every value whose
name is not one images set by the thousand (`names.is_allowlisted`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .findings import (
    ARG_LIMIT,
    DetectionFailed,
    Finding,
    judge_environ,
    locate_argv,
    scan_lengths,
)
from .names import is_allowlisted

if TYPE_CHECKING:
    from ..host import Host
    from ..model import Snapshot

Fingerprint = Callable[[str], str]


def unscanned(length: int) -> str:
    return f"<redacted: {length} chars, not scanned in full>"


def hidden(length: int) -> str:
    return f"<redacted: {length} chars>"


@dataclass(frozen=True, slots=True)
class Shown:
    """One variable as a face may show it."""

    name: str
    value: str = field(repr=False)  # the value, or its marker
    redacted: bool
    finding: Finding | None

    def to_dict(self) -> dict[str, Any]:
        secret = None if self.finding is None else self.finding.to_dict()
        return {"name": self.name, "value": self.value, "redacted": self.redacted, "secret": secret}


@dataclass(slots=True)
class Redactor:
    fingerprint: Fingerprint
    reveal: bool = False
    _argv_cache: dict[tuple[str, ...], list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def for_host(cls, host: Host | None = None, *, reveal: bool = False) -> Redactor:
        """Fingerprints from the host's key (`fingerprint.KEY_PATH` under the host root), as every face uses."""
        from .fingerprint import KEY_PATH

        return cls(_HostKey(host.path(KEY_PATH) if host is not None else KEY_PATH), reveal)

    # -- command lines ------------------------------------------------------------------------------------

    def argv(self, argv: list[str]) -> list[str]:
        """The command line with each secret replaced by its marker."""
        return self.argv_findings(argv)[0]

    def argv_findings(self, argv: list[str]) -> tuple[list[str], list[Finding]]:
        try:
            located = locate_argv(argv, self.fingerprint)
        except DetectionFailed:
            return ([] if not argv else [argv[0], *(hidden(len(a)) for a in argv[1:])]), []
        findings = [x.finding for x in located]
        if self.reveal:
            return list(argv), findings
        out = list(argv)
        for x in located:
            out[x.index] = _replace(out[x.index], x.value, x.finding.redacted)
        for i, (arg, n) in enumerate(zip(argv[:ARG_LIMIT], scan_lengths(argv[:ARG_LIMIT]), strict=True)):
            if i and len(arg) > n:
                out[i] = unscanned(len(arg))
        for i in range(ARG_LIMIT, len(argv)):
            out[i] = unscanned(len(argv[i]))
        return out, findings

    def command(self, argv: list[str]) -> str:
        return " ".join(self.argv(argv)).rstrip()

    def cached_argv(self, argv: list[str]) -> list[str]:
        """`argv` for faces that redraw: the same command line is judged once (bounded cache)."""
        key = tuple(argv)
        masked = self._argv_cache.get(key)
        if masked is None:
            if len(self._argv_cache) > 4096:
                self._argv_cache.clear()
            masked = self._argv_cache[key] = self.argv(argv)
        return list(masked)

    # -- environments and labels ------------------------------------------------------------------------

    def environ(self, pairs: list[tuple[str, str]], *, strict: bool = False) -> list[Shown]:
        try:
            verdicts: list[Finding | None] = judge_environ(pairs, self.fingerprint)
            judged = True
        except DetectionFailed:
            verdicts, judged = [None] * len(pairs), False
        shown = []
        read = scan_lengths([v for _, v in pairs])
        for (name, value), finding, length in zip(pairs, verdicts, read, strict=True):
            if self.reveal:
                shown.append(Shown(name, value, False, finding))
            elif finding is not None:
                shown.append(Shown(name, finding.redacted, True, finding))
            elif not judged or (strict and not is_allowlisted(name)):
                shown.append(Shown(name, hidden(len(value)), True, None))
            elif len(value) > length:
                shown.append(Shown(name, unscanned(len(value)), True, None))
            else:
                shown.append(Shown(name, value, False, None))
        return shown

    def labels(self, values: dict[str, str]) -> dict[str, str]:
        """Labels and annotations: judged like variables (name = key)."""
        if self.reveal or not values:
            return dict(values)
        return {s.name: s.value for s in self.environ(list(values.items()))}

    # -- a face's own snapshot --------------------------------------------------------------------------

    def mask_snapshot(self, snapshot: Snapshot) -> None:
        """Every process's argv and every container's labels and annotations, redacted in place. Only for a
        snapshot the caller owns and only shows (ps, inspect, containers, kill's plan, top)."""
        if self.reveal:
            return
        for proc in snapshot.processes.values():
            if len(proc.cmdline) > 1:
                proc.cmdline = self.cached_argv(proc.cmdline)
        for container in snapshot.containers.values():
            container.labels = self.labels(container.labels)
            container.annotations = self.labels(container.annotations)

    def process_record(self, record: dict[str, Any]) -> dict[str, Any]:
        """A `Snapshot.process_dict` record with its argv and command redacted."""
        if self.reveal or not record.get("argv"):
            return record
        argv = self.cached_argv(list(record["argv"]))
        return {**record, "argv": argv, "command": " ".join(argv).rstrip()}


class _HostKey:
    """The host-keyed fingerprint, loaded (or created) on the first secret only: `ps` on a host without secrets
    on display leaves no key file behind."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fingerprint: Fingerprint | None = None

    def __call__(self, secret: str) -> str:
        if self._fingerprint is None:
            from .fingerprint import Fingerprinter

            self._fingerprint = Fingerprinter.for_host(self.path)
        return self._fingerprint(secret)


def _replace(arg: str, value: str, marker: str) -> str:
    """The secret's last occurrence in the argument becomes the marker (`--password=X` keeps `--password=`);
    an argument that does not hold it verbatim is replaced whole."""
    if value:
        at = arg.rfind(value)
        if at >= 0:
            return arg[:at] + marker + arg[at + len(value) :]
    return marker
