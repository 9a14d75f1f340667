"""The metric catalog is the exporter's interface: valid names, bounded labels, documented, and what the
collector actually emits."""

from __future__ import annotations

import re
from pathlib import Path

from ctrlens.exporter import catalog
from ctrlens.exporter.catalog import ALL_METRICS, CONTAINER_METRICS, COUNTER, HOST_METRICS

NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "operators.md"
# Every label any ctrlens series can carry; all but the info labels take values from fixed, small sets.
BOUNDED_LABELS = {"type", "severity", "stage", "runtime", "version"}


def test_names_are_valid_prefixed_and_unique():
    names = [m.name for m in ALL_METRICS]
    assert len(names) == len(set(names))
    for metric in ALL_METRICS:
        assert NAME.match(metric.name) and metric.name.startswith("ctrlens_")
        assert metric.name.endswith("_total") == (metric.kind == COUNTER), metric.name
        assert metric.help.endswith(".")


def test_per_container_series_carry_id_and_at_most_one_bounded_label():
    for metric in CONTAINER_METRICS:
        if metric.name == "ctrlens_container_info":
            assert metric.labels == catalog.INFO_LABELS
            continue
        assert metric.labels[0] == "id"
        assert len(metric.labels) <= 2 and set(metric.labels[1:]) <= BOUNDED_LABELS, metric.name


def test_host_series_labels_come_from_fixed_sets():
    for metric in HOST_METRICS:
        assert set(metric.labels) <= BOUNDED_LABELS, metric.name


def test_every_metric_is_documented_for_operators():
    text = DOCS.read_text()
    for metric in ALL_METRICS:
        assert metric.name in text, f"{metric.name} missing from docs/operators.md"
    for label in catalog.NAMESPACE_TYPES + catalog.SEVERITIES + catalog.STAGES:
        assert f"`{label}`" in text, label
