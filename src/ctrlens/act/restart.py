"""What brings a container back after its init dies: asked of the container's runtime plugin.

Each runtime module holds its own forecast (runtimes/docker.py, podman.py, containerd.py, lxc.py, …) from the
runtime's own files; every container of a Kubernetes pod goes to runtimes/kubernetes.py, whatever runs it,
because the kubelet decides. The shared policy rules (moby's no/always/unless-stopped/on-failure[:N]) live in
runtimes/restart_rules.py.
"""

from __future__ import annotations

from ..host import Host
from ..model import Container, Snapshot
from ..runtimes import kubernetes, runtime_plugin
from ..runtimes.containerd import RESTART_MONITOR_POLICY, RESTART_MONITOR_STATUS
from ..runtimes.kubernetes import KUBE_RESTART_COUNT, KUBELET_COMMS
from ..runtimes.restart_rules import MAYBE, NO, UNKNOWN, YES, RestartForecast, Verdict

__all__ = [
    "KUBELET_COMMS",
    "KUBE_RESTART_COUNT",
    "MAYBE",
    "NO",
    "RESTART_MONITOR_POLICY",
    "RESTART_MONITOR_STATUS",
    "UNKNOWN",
    "YES",
    "RestartForecast",
    "Verdict",
    "describe",
    "forecast_restart",
]


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host | None = None
) -> RestartForecast:
    """What follows once `container`'s init exits with `exit_code` (None: the program chooses its own code)."""
    host = host or Host()
    if container.pod is not None or container.sandbox:
        return kubernetes.forecast_restart(container, snapshot, exit_code, host)
    plugin = runtime_plugin(container.runtime)
    if plugin is None:
        return RestartForecast(UNKNOWN, f"no restart knowledge for runtime {str(container.runtime)!r}")
    return plugin.forecast_restart(container, snapshot, exit_code, host)


def describe(forecast: RestartForecast) -> str:
    head = {
        YES: "it will be restarted",
        NO: "it will not be restarted",
        MAYBE: "it may be restarted",
        UNKNOWN: "restart unknown",
    }[forecast.verdict]
    return f"{head}: {forecast.reason}"
