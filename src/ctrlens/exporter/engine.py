"""One collection: a scan of /proc, then every source for every container, cached for `--cache-ttl` seconds.

Scrapes that arrive while a collection runs, or within the cache lifetime, are served the same collection:
several Prometheus servers (or a retrying one) cost one pass over /proc, not one each.
The server collects in a background thread (`current`): a scrape waits for a new collection only as long as
its budget allows, then gets the last one, marked stale, so a slow host never turns into a scrape timeout.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..errors import CtrlensError, ProcessGone
from ..host import Host
from ..model import Container, Snapshot
from ..scanner import scan as scan_host
from ..text import safe_text
from .catalog import INFO_LABELS, MAX_LABEL_LENGTH, STAGES
from .sources import InstanceChanged, LabelValues, PartialFacts, Sample, Source

InstanceKey = tuple[str, int | None, int | None]  # container id, init pid, init start ticks


@dataclass(slots=True)
class Collection:
    """What one collection found, as samples keyed by metric name (label values include `id` first)."""

    samples: dict[str, list[tuple[LabelValues, float]]] = field(default_factory=dict)
    collected_at: float = 0.0  # time.monotonic()
    duration: float = 0.0
    omitted: int = 0
    pending: int = 0
    containers: int = 0
    ok: bool = False  # the scan succeeded

    def add(self, metric: str, labels: LabelValues, value: float) -> None:
        self.samples.setdefault(metric, []).append((labels, value))

    def values(self, metric: str) -> list[tuple[LabelValues, float]]:
        return self.samples.get(metric, [])


def label(value: str | None) -> str:
    """A label value: printable, bounded in length (container-controlled strings end up here)."""
    if not value:
        return ""
    text = safe_text(value)
    return text if len(text) <= MAX_LABEL_LENGTH else text[: MAX_LABEL_LENGTH - 1] + "…"


def info_labels(container: Container) -> LabelValues:
    values = container.brief()  # the identity every face shows: id, name, runtime, image, pod, namespace
    return tuple(label(values[name]) for name in INFO_LABELS)


class Engine:
    """Collects on demand; thread-safe; keeps per-source caches across collections."""

    def __init__(
        self,
        host: Host,
        sources: list[Source],
        *,
        cache_ttl: float = 5.0,
        slow_budget: float = 2.0,
        max_containers: int = 1000,
        scan: Callable[[Host], Snapshot] | None = None,  # None: ctrlens.scanner.scan
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.host = host
        self.sources = sources
        self.cache_ttl = cache_ttl
        self.slow_budget = slow_budget
        self.max_containers = max_containers
        self._scan = scan
        self._lock = threading.Lock()
        self._last: Collection | None = None
        self._cache: dict[
            tuple[str, InstanceKey], tuple[float, int, list[Sample]]
        ] = {}  # (when, processes, …)
        self.errors: Counter[str] = Counter(dict.fromkeys(STAGES, 0))
        self.collections = 0
        self.connection_stats: Any = None  # the HTTP server's counts (http.ConnectionStats), when serving
        self.version = __version__
        self._warn = warn
        self._warned: set[str] = set()
        self._changed = threading.Condition()  # guards _generation and _refreshing
        self._generation = 0  # collections finished by the background refresher
        self._refreshing = False

    def collect(self) -> Collection:
        """The current collection: a cached one younger than `cache_ttl`, else a new one."""
        with self._lock:
            last = self._last
            if last is not None and time.monotonic() - last.collected_at < self.cache_ttl:
                return last
            self._last = self._collect()
            return self._last

    @property
    def last(self) -> Collection | None:
        return self._last

    def refresh(self) -> None:
        """Start a collection in the background unless one is running already."""
        with self._changed:
            if self._refreshing:
                return
            self._refreshing = True
        threading.Thread(target=self._refresh, name="ctrlens-collect", daemon=True).start()

    def current(self, budget: float) -> tuple[Collection | None, bool]:
        """The collection a scrape gets, and whether it is stale: a fresh one (younger than `cache_ttl`), else
        a new one if it finishes within `budget` seconds, else the last one (None before the first ends)."""
        deadline = time.monotonic() + budget
        with self._changed:
            last = self._last
            if last is not None and time.monotonic() - last.collected_at < self.cache_ttl:
                return last, False
            generation = self._generation
        self.refresh()
        with self._changed:
            while self._generation == generation:
                left = deadline - time.monotonic()
                if left <= 0:
                    return self._last, True
                self._changed.wait(left)
            return self._last, False

    def _refresh(self) -> None:
        try:
            with self._lock:
                collection = self._collect()
        except Exception as exc:  # noqa: BLE001 - the refresher must outlive one bad collection
            self._error("scan", f"internal error {type(exc).__name__}")
            collection = Collection(collected_at=time.monotonic())
        with self._changed:
            self._last = collection
            self._generation += 1
            self._refreshing = False
            self._changed.notify_all()

    def _collect(self) -> Collection:
        started = time.monotonic()
        self.collections += 1
        result = Collection()
        try:
            snapshot = (self._scan or scan_host)(self.host)
        except (CtrlensError, OSError) as exc:
            self._error("scan", str(exc))
            result.collected_at = time.monotonic()
            result.duration = result.collected_at - started
            return result
        result.ok = True
        containers = sorted(snapshot.containers.values(), key=lambda c: c.id)
        result.containers = len(containers)
        by_runtime = Counter(c.runtime for c in containers)
        for runtime, count in sorted(by_runtime.items()):
            result.add("ctrlens_containers", (label(runtime),), float(count))
        if len(containers) > self.max_containers:
            result.omitted = len(containers) - self.max_containers
            containers = containers[: self.max_containers]
        slow_deadline = started + self.slow_budget
        live: set[InstanceKey] = set()
        for container in containers:
            key = _instance(container, snapshot)
            live.add(key)
            identity = info_labels(container)
            cid = identity[0]  # the same bounded, printable id on every series, so joins match
            result.add("ctrlens_container_info", identity, 1.0)
            result.add("ctrlens_container_processes", (cid,), float(len(container.pids)))
            waiting = False
            processes = hash(
                tuple(
                    (p, snapshot.processes[p].start_ticks) for p in container.pids if p in snapshot.processes
                )
            )
            for source in self.sources:
                samples = self._measure(source, container, snapshot, key, processes, slow_deadline)
                if samples is None:
                    waiting = True
                    continue
                for sample in samples:
                    result.add(sample.metric, (cid, *sample.labels), sample.value)
            result.pending += waiting
        self._forget(live, {c.id for c in containers})
        result.collected_at = time.monotonic()
        result.duration = result.collected_at - started
        return result

    def _measure(
        self,
        source: Source,
        container: Container,
        snapshot: Snapshot,
        key: InstanceKey,
        processes: int,
        slow_deadline: float,
    ) -> list[Sample] | None:
        """The source's samples for one container, from the cache while fresh; None when the budget ran out."""
        now = time.monotonic()
        cached = self._cache.get((source.stage, key))
        if cached is not None and _fresh(source, cached[0], cached[1], processes, now):
            return cached[2]
        if source.expensive and now > slow_deadline:
            return cached[2] if cached is not None else None
        try:
            samples = source.measure(container, snapshot)
        except (ProcessGone, InstanceChanged):
            return []  # the container left during the collection
        except PartialFacts as partial:
            self._error(source.stage, f"{partial} (container {container.short_id})")
            samples = partial.samples
        except (CtrlensError, OSError, ValueError) as exc:
            self._error(source.stage, f"{exc} (container {container.short_id})")
            return []
        except Exception as exc:  # noqa: BLE001 - one feature's bug on one container must not stop the exporter
            self._error(source.stage, f"internal error {type(exc).__name__} (container {container.short_id})")
            return []
        if source.ttl != 0:
            self._cache[(source.stage, key)] = (now, processes, samples)
        return samples

    def _error(self, stage: str, message: str) -> None:
        """Count it; say the first one of each stage once (the metric carries the rest)."""
        self.errors[stage] += 1
        if self._warn is not None and stage not in self._warned:
            self._warned.add(stage)
            self._warn(f"{stage}: {message}; further errors are counted in ctrlens_exporter_errors_total")

    def _forget(self, live: set[InstanceKey], ids: set[str]) -> None:
        for cache_key in [k for k in self._cache if k[1] not in live]:
            del self._cache[cache_key]
        for source in self.sources:
            forget = getattr(source, "forget", None)
            if forget is not None:
                forget(ids)


def _fresh(source: Source, measured: float, then: int, now_processes: int, now: float) -> bool:
    age = now - measured
    if source.ttl is None or age < source.ttl:
        return True
    same = getattr(source, "follows_processes", False) and then == now_processes
    max_age = getattr(source, "max_age", None)
    return same and (max_age is None or age < max_age)


def _instance(container: Container, snapshot: Snapshot) -> InstanceKey:
    init = snapshot.processes.get(container.init_pid) if container.init_pid is not None else None
    return (container.id, container.init_pid, init.start_ticks if init else None)
