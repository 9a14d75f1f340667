"""Every metric `ctrlens serve` can emit: the documented interface (docs/operators.md lists the same table).

Cardinality is bounded by construction: per-container series carry `id` plus at most one label drawn from a
fixed set (`type`: 7 namespace types, `severity`: 3 levels); names, images and pods appear once per container,
on `ctrlens_container_info`, to be joined with `* on(id) group_left(name) ctrlens_container_info`. Host-level
series carry only `runtime` or `stage`, both from fixed sets. `--max-containers` caps the number of containers.
"""

from __future__ import annotations

from dataclasses import dataclass

GAUGE = "gauge"
COUNTER = "counter"

INFO_LABELS = ("id", "name", "runtime", "image", "pod", "namespace")
MAX_LABEL_LENGTH = (
    200  # longer names and image references are cut (with '…'): one series, not a new one per byte
)

# Namespace types reported by ctrlens_container_host_namespace (the time namespace is never unshared by runtimes).
NAMESPACE_TYPES = ("pid", "net", "ipc", "uts", "mnt", "user", "cgroup")
SEVERITIES = ("high", "medium", "low")  # ctrlens audit's, less info and good
# Stages of a collection, the label of ctrlens_exporter_errors_total.
STAGES = ("scan", "cgroup", "posture", "audit", "secrets", "drift")


@dataclass(frozen=True, slots=True)
class Metric:
    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ("id",)
    source: str = "scan"  # the stage that fills it, shown in the docs

    @property
    def family_name(self) -> str:
        """The name prometheus-client's families take: counters without their `_total` suffix."""
        return (
            self.name[: -len("_total")]
            if self.kind == COUNTER and self.name.endswith("_total")
            else self.name
        )


def _c(name: str, kind: str, help: str, labels: tuple[str, ...] = ("id",), source: str = "scan") -> Metric:
    return Metric("ctrlens_" + name, kind, help, labels, source)


CONTAINER_METRICS = (
    _c("container_info", GAUGE, "A running container (always 1): its identity as labels.", INFO_LABELS),
    _c("container_processes", GAUGE, "Processes the scan attributed to the container."),
    _c("container_cpu_seconds_total", COUNTER, "CPU time used by the container's cgroup.", source="cgroup"),
    _c(
        "container_memory_bytes",
        GAUGE,
        "Memory charged to the container's cgroup, less inactive page cache (as docker stats).",
        source="cgroup",
    ),
    _c(
        "container_memory_limit_bytes",
        GAUGE,
        "The cgroup memory limit; absent when there is none.",
        source="cgroup",
    ),
    _c("container_memory_unlimited", GAUGE, "1 when the container has no memory limit.", source="cgroup"),
    _c(
        "container_pids_unlimited",
        GAUGE,
        "1 when the container has no process-count (pids) limit.",
        source="cgroup",
    ),
    _c(
        "container_host_namespace",
        GAUGE,
        "1 when the container shares this namespace with the host (user=1: no user namespace remapping).",
        ("id", "type"),
        source="posture",
    ),
    _c("container_runs_as_root", GAUGE, "1 when the container's init runs as host uid 0.", source="posture"),
    _c(
        "container_rootfs_writable",
        GAUGE,
        "1 when the container's root filesystem is mounted read-write.",
        source="posture",
    ),
    _c(
        "container_privileged",
        GAUGE,
        "1 when the container looks privileged (host capabilities, no masks).",
        source="audit",
    ),
    _c(
        "container_seccomp_disabled",
        GAUGE,
        "1 when the container's init runs without a seccomp filter.",
        source="audit",
    ),
    _c(
        "container_added_capabilities",
        GAUGE,
        "Effective capabilities beyond the runtime's default set.",
        source="audit",
    ),
    _c(
        "container_sensitive_mounts",
        GAUGE,
        "Sensitive host paths mounted in (runtime sockets, /, /etc…).",
        source="audit",
    ),
    _c(
        "container_findings",
        GAUGE,
        "Posture findings of `ctrlens audit`, by severity.",
        ("id", "severity"),
        source="audit",
    ),
    _c(
        "container_secrets_exposed",
        GAUGE,
        "Secrets readable in the container's environment or command lines (a count; values never leave).",
        source="secrets",
    ),
    _c(
        "container_drift_files",
        GAUGE,
        "Files added or changed in the container's writable layer.",
        source="drift",
    ),
    _c(
        "container_drift_executables",
        GAUGE,
        "New executables in the container's writable layer.",
        source="drift",
    ),
)

HOST_METRICS = (
    _c("containers", GAUGE, "Running containers by runtime.", ("runtime",)),
    _c(
        "exporter_collection_duration_seconds",
        GAUGE,
        "Seconds the collection behind this scrape took (scan and every source).",
        (),
    ),
    _c(
        "exporter_collection_age_seconds",
        GAUGE,
        "Age of the cached collection this scrape was served from.",
        (),
    ),
    _c(
        "exporter_collections_total",
        COUNTER,
        "Collections run since start (scrapes within --cache-ttl share one).",
        (),
    ),
    _c(
        "exporter_errors_total",
        COUNTER,
        "Errors by collection stage since start (a container that exits mid-scrape is not an error).",
        ("stage",),
    ),
    _c(
        "exporter_containers_omitted",
        GAUGE,
        "Containers left out of per-container series by --max-containers.",
        (),
    ),
    _c(
        "exporter_pending",
        GAUGE,
        "Containers whose slow facts (audit, secrets, drift) wait for the next "
        "collection because --slow-budget ran out.",
        (),
    ),
    _c(
        "exporter_scrape_stale",
        GAUGE,
        "1 when this scrape got the last collection because a new one did not finish within the scrape "
        "budget (or none has finished yet): see ctrlens_exporter_collection_age_seconds.",
        (),
    ),
    _c(
        "exporter_connections_dropped_total",
        COUNTER,
        "HTTP connections closed without an answer: the client hung up or timed out, stayed idle, "
        "or found the server full.",
        (),
    ),
    _c("exporter_build_info", GAUGE, "ctrlens build (always 1).", ("version",)),
)

ALL_METRICS = CONTAINER_METRICS + HOST_METRICS
BY_NAME = {m.name: m for m in ALL_METRICS}
