"""The poll loop: scan every `interval` seconds, diff against the previous scan, run the slower detectors.

Detectors (new findings, new executables) check each container at most every `slow_interval` seconds; their
first look at a container present when watch started is a baseline (no events), while a container started
during the watch is new, so everything they find in it is new.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from ..errors import CtrlensError
from ..host import Host
from ..model import Container, Snapshot
from ..scanner import scan as scan_host
from . import diff
from .events import Event

Write = Callable[[Event], None]


class Detector(Protocol):
    kind: str  # the event type it emits

    def check(self, container: Container, snapshot: Snapshot, *, baseline: bool) -> list[Event]: ...

    def forget(self, live: set[str]) -> None: ...


class Watcher:
    def __init__(
        self,
        host: Host,
        *,
        mask: diff.Masker,
        detectors: list[Detector] | None = None,
        slow_interval: float = 60.0,
        scan: Callable[[Host], Snapshot] = scan_host,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        self._warn = warn
        self.mask = mask
        self.detectors = detectors or []
        self.slow_interval = slow_interval
        self._scan = scan
        self._last: Snapshot | None = None
        self._checked: dict[tuple[str, str], float] = {}  # (detector kind, container id) -> last check
        self._baseline: set[str] = set()  # containers present at the first poll
        self.detector_errors = 0  # checks that failed (counted, not fatal: the next check tries again)

    @property
    def last(self) -> Snapshot | None:
        """The latest scan."""
        return self._last

    def first(self, *, initial: bool) -> list[Event]:
        """The first poll: the baseline; with `initial`, a `container.running` event per container."""
        now = time.time()
        snapshot = self._scan(self.host)
        self._last = snapshot
        self._baseline = set(snapshot.containers)
        events = diff.inventory(snapshot, now, self.mask) if initial else []
        return events + self._detect(snapshot, now)

    def poll(self) -> list[Event]:
        if self._last is None:
            return self.first(initial=False)
        now = time.time()
        snapshot = self._scan(self.host)
        events = diff.diff(self._last, snapshot, now, self.mask)
        self._last = snapshot
        return events + self._detect(snapshot, now)

    def _detect(self, snapshot: Snapshot, now: float) -> list[Event]:
        events: list[Event] = []
        live = set(snapshot.containers)
        for detector in self.detectors:
            for container in sorted(snapshot.containers.values(), key=lambda c: c.id):
                key = (detector.kind, container.id)
                last = self._checked.get(key)
                if last is not None and now - last < self.slow_interval:
                    continue
                self._checked[key] = now
                baseline = last is None and container.id in self._baseline
                try:
                    events.extend(detector.check(container, snapshot, baseline=baseline))
                except (CtrlensError, OSError, ValueError) as exc:
                    self._failed(detector.kind, f"{exc} (container {container.short_id})")
                except Exception as exc:  # noqa: BLE001 - a feature's bug on one container must not end the stream
                    self._failed(
                        detector.kind, f"internal error {type(exc).__name__} (container {container.short_id})"
                    )
            detector.forget(live)
        for key in [k for k in self._checked if k[1] not in live]:
            del self._checked[key]
        self._baseline &= live
        return events

    def _failed(self, kind: str, message: str) -> None:
        """Counted; the first failure is said once on stderr (stdout carries only events)."""
        self.detector_errors += 1
        if self._warn is not None and self.detector_errors == 1:
            self._warn(f"{kind}: {message}; later failures are not repeated")


def run(
    watcher: Watcher,
    write: Write,
    *,
    interval: float,
    initial: bool = False,
    stop: threading.Event | None = None,
    max_events: int | None = None,
    duration: float | None = None,
    accept: Callable[[Event], bool] | None = None,
) -> int:
    """Poll until `stop` is set, `max_events` were written or `duration` elapsed; returns the events written.
    `accept` filters events before they are written and counted."""
    stop = stop or threading.Event()
    started = time.monotonic()
    written = 0

    def emit(events: list[Event]) -> bool:
        nonlocal written
        for event in events:
            if accept is not None and not accept(event):
                continue
            write(event)
            written += 1
            if max_events is not None and written >= max_events:
                return False
        return True

    if not emit(watcher.first(initial=initial)):
        return written
    next_poll = time.monotonic() + interval
    while True:
        wait = next_poll - time.monotonic()
        if duration is not None:
            wait = min(wait, started + duration - time.monotonic())
        if stop.wait(max(wait, 0.0)):
            return written
        if duration is not None and time.monotonic() - started >= duration:
            return written
        next_poll = max(next_poll + interval, time.monotonic())  # a slow scan skips beats instead of bunching
        if not emit(watcher.poll()):
            return written
