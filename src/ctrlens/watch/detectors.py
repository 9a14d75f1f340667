"""The slower detectors `watch` runs next to the scan diff: new audit findings, new executables (drift).

Each remembers, per container instance, what it has already reported; the loop decides when to look again.
A feature package that cannot be imported leaves its detector out (`missing` says which).
"""

from __future__ import annotations

from typing import Any

from ..errors import CtrlensError
from ..host import Host
from ..model import Container, Snapshot
from .events import DRIFT_EXECUTABLE, FINDING_NEW, Event, identity
from .loop import Detector

REPORTED_SEVERITIES = ("high", "medium", "low")  # audit's info/good are not news


def _instance(container: Container, snapshot: Snapshot) -> tuple[str, int | None]:
    init = snapshot.processes.get(container.init_pid) if container.init_pid is not None else None
    return (container.id, init.start_ticks if init else None)


class FindingsDetector:
    """`finding.new`: an audit finding (rule id and title) the container did not have at its previous check."""

    kind = FINDING_NEW

    def __init__(self, host: Host) -> None:
        from ..audit import AuditContext, audit

        self.host = host
        self._audit, self._context_type = audit, AuditContext
        self._context: tuple[int, Any] | None = None
        self._known: dict[tuple[str, int | None], set[tuple[str, str]]] = {}

    def check(self, container: Container, snapshot: Snapshot, *, baseline: bool) -> list[Event]:
        if self._context is None or self._context[0] != id(snapshot):
            self._context = (id(snapshot), self._context_type(snapshot, self.host))
        # The secrets layer is left to `ctrlens secrets` and the exporter's counts: events never carry secrets.
        result = self._audit(snapshot, container, self.host, context=self._context[1], secrets_scan=False)
        if result.gone:
            return []
        key = _instance(container, snapshot)
        known = self._known.setdefault(key, set())
        events = []
        for finding in result.findings:
            mark = (finding.id, finding.title)
            if finding.severity not in REPORTED_SEVERITIES or mark in known:
                continue
            known.add(mark)
            if not baseline:
                detail = {
                    "finding": {
                        "id": finding.id,
                        "severity": finding.severity,
                        "layer": finding.layer,
                        "title": finding.title,
                    }
                }
                events.append(Event(FINDING_NEW, snapshot.taken_at, identity(container), detail))
        return events

    def forget(self, live: set[str]) -> None:
        for key in [k for k in self._known if k[0] not in live]:
            del self._known[key]


class DriftDetector:
    """`drift.executable`: a new executable file in an overlay container's writable layer."""

    kind = DRIFT_EXECUTABLE

    def __init__(self, host: Host) -> None:
        from ..diff import diff_container, show_path
        from ..diff.locate import locate_root

        self.host = host
        self._diff, self._locate, self._show = diff_container, locate_root, show_path
        self._known: dict[tuple[str, int | None], set[bytes]] = {}

    def check(self, container: Container, snapshot: Snapshot, *, baseline: bool) -> list[Event]:
        try:
            if not self._locate(snapshot, container, self.host).is_overlay:
                return []  # a whole-filesystem walk is `ctrlens diff`'s job, not a poll's
            result = self._diff(snapshot, container, self.host)
        except CtrlensError:
            return []  # stopped meanwhile, or its layer is unreadable: the next check tries again
        key = _instance(container, snapshot)
        known = self._known.setdefault(key, set())
        events = []
        for change in sorted(result.new_executables, key=lambda c: c.path):
            if change.path in known:
                continue
            known.add(change.path)
            if not baseline:
                detail = {
                    "file": {
                        "path": self._show(change.path),
                        "change": change.kind,
                        "flags": list(change.flags),
                        "size": change.info.size if change.info else None,
                    }
                }
                events.append(Event(DRIFT_EXECUTABLE, snapshot.taken_at, identity(container), detail))
        return events

    def forget(self, live: set[str]) -> None:
        for key in [k for k in self._known if k[0] not in live]:
            del self._known[key]


def available_detectors(
    host: Host, wanted: set[str] | None, missing: list[str] | None = None
) -> list[Detector]:
    """The detectors for the event types asked for (all when `wanted` is None) whose feature is installed."""
    detectors: list[Detector] = []
    for kind, make in ((FINDING_NEW, FindingsDetector), (DRIFT_EXECUTABLE, DriftDetector)):
        if wanted is not None and kind not in wanted:
            continue
        try:
            detectors.append(make(host))
        except ImportError as exc:
            if missing is not None:
                missing.append(f"{kind} ({exc.name or exc})")
    return detectors
