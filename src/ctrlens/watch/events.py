"""The events `ctrlens watch` writes, one JSON object a line. Types and keys are stable (docs/operators.md).

Every event has `ts` (when the poll saw it, RFC 3339 UTC), `type`, `host` and `container` (id, name, runtime,
image, pod, namespace, pod_uid, kube_container); the rest depends on the type.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any

from ..model import Container

CONTAINER_RUNNING = "container.running"  # present when watch started (only with --initial)
CONTAINER_STARTED = "container.started"
CONTAINER_STOPPED = "container.stopped"
PROCESS_STARTED = "process.started"  # a new process in a container seen by an earlier poll
FINDING_NEW = "finding.new"  # an audit finding the container did not have at the previous check
DRIFT_EXECUTABLE = "drift.executable"  # a new executable file in the container's writable layer

TYPES = (
    CONTAINER_RUNNING,
    CONTAINER_STARTED,
    CONTAINER_STOPPED,
    PROCESS_STARTED,
    FINDING_NEW,
    DRIFT_EXECUTABLE,
)

_HOSTNAME = os.uname().nodename  # os is already loaded; socket is not


def timestamp(epoch: float) -> str:
    """RFC 3339 UTC with microseconds: sortable, and what Vector and Fluent Bit parse by default."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"


def identity(container: Container) -> dict[str, Any]:
    """brief() plus what a consumer joins a pod's container on (the uid outlives a pod name's reuse)."""
    pod = container.pod
    return {
        **container.brief(),
        "pod_uid": pod.uid if pod else None,
        "kube_container": container.kube_container,
    }


@dataclass(slots=True)
class Event:
    type: str
    at: float  # epoch seconds of the poll that saw it
    container: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)
    source: str = "scan"  # "kernel": told by a process event; "scan": found by a scan of /proc
    instance: tuple[str, int | None] | None = field(
        default=None, compare=False
    )  # (id, init start) of starts/stops

    def to_dict(self, host: str | None = None) -> dict[str, Any]:
        return {
            "ts": timestamp(self.at),
            "type": self.type,
            "host": host or _HOSTNAME,
            "container": self.container,
            "source": self.source,
            **self.detail,
        }
