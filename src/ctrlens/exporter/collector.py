"""The prometheus-client custom collector: each scrape turns the engine's current collection into families."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .catalog import ALL_METRICS, COUNTER
from .catalog import Metric as MetricSpec
from .engine import Collection, Engine


class CtrlensCollector(Collector):
    """`budget` None: every scrape collects in the caller's thread (`--print`, tests); a number: the server's
    background collection, waited for at most that long (or `scrape_budget.seconds` set for this request)."""

    def __init__(self, engine: Engine, budget: float | None = None) -> None:
        self.engine = engine
        self.budget = budget

    def describe(self) -> Iterator[Metric]:
        # Declared up front so registering never triggers a collection (a scan at import time).
        for spec in ALL_METRICS:
            yield _family(spec)

    def collect(self) -> Iterator[Metric]:
        if self.budget is None:
            collection: Collection | None = self.engine.collect()
            stale = False
        else:
            budget = getattr(scrape_budget, "seconds", None)
            collection, stale = self.engine.current(self.budget if budget is None else budget)
        for spec in ALL_METRICS:
            family = _family(spec)
            if spec.name == "ctrlens_exporter_scrape_stale":
                family.add_metric([], float(stale or collection is None))
            elif collection is not None:
                for labels, value in _values(spec, collection, self.engine):
                    family.add_metric(list(labels), value)
            else:
                for labels, value in _engine_values(spec, self.engine):
                    family.add_metric(list(labels), value)
            yield family


# The HTTP handler sets `seconds` for the request it serves (from Prometheus' scrape-timeout header).
scrape_budget = threading.local()


def _engine_values(spec: MetricSpec, engine: Engine) -> list[tuple[tuple[str, ...], float]]:
    """Before the first collection: the exporter's own figures only."""
    name = spec.name
    if name == "ctrlens_exporter_collections_total":
        return [((), float(engine.collections))]
    if name == "ctrlens_exporter_errors_total":
        return [((stage,), float(count)) for stage, count in sorted(engine.errors.items())]
    if name == "ctrlens_exporter_connections_dropped_total":
        stats = engine.connection_stats
        return [((), float(stats.dropped if stats is not None else 0))]
    if name == "ctrlens_exporter_build_info":
        return [((engine.version,), 1.0)]
    return []


def _family(spec: MetricSpec) -> GaugeMetricFamily | CounterMetricFamily:
    if spec.kind == COUNTER:
        return CounterMetricFamily(spec.family_name, spec.help, labels=list(spec.labels))
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


def _values(spec: MetricSpec, collection: Collection, engine: Engine) -> list[tuple[tuple[str, ...], float]]:
    """Samples of one metric: the exporter's own figures come from the engine, the rest from the collection."""
    name = spec.name
    if name == "ctrlens_exporter_collection_duration_seconds":
        return [((), collection.duration)]
    if name == "ctrlens_exporter_collection_age_seconds":
        return [((), max(time.monotonic() - collection.collected_at, 0.0))]
    if name.startswith(("ctrlens_exporter_collections", "ctrlens_exporter_errors", "ctrlens_exporter_conn")):
        return _engine_values(spec, engine)
    if name == "ctrlens_exporter_containers_omitted":
        return [((), float(collection.omitted))]
    if name == "ctrlens_exporter_pending":
        return [((), float(collection.pending))]
    if name == "ctrlens_exporter_build_info":
        return [((engine.version,), 1.0)]
    return collection.values(name)
