"""What brings a container back after its init dies: per runtime, from the runtime's own files.

- Docker: hostconfig.json RestartPolicy with config.v2.json RestartCount (moby restartmanager.ShouldRestart):
  `always` restarts; `unless-stopped` restarts too, because only `docker stop` marks a container as stopped by
  the user, and a kill from the host does not; `on-failure[:N]` restarts on a non-zero exit (137 after SIGKILL,
  143 after SIGTERM) while RestartCount < N (N = 0: no limit).
- Podman: the same names and rules, applied by `podman container cleanup`, which conmon runs on exit
  (its --exit-command); the policy and count come from the libpod database (runtimes/podman_db.py).
- Kubernetes (any container with a pod): the kubelet restarts it per the pod's restartPolicy, which the host's
  files do not show (Always is the default); a killed sandbox (pause) makes it recreate the whole pod sandbox.
- containerd alone (ctr, nerdctl): its restart monitor restarts containers labelled
  `containerd.io/restart.status=running`, per `containerd.io/restart.policy` (default always), every 10 s.
- LXC: nothing restarts a container whose init exits; `lxc.start.auto = 1` only starts it when the host boots.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..host import Host
from ..model import Container, RestartPolicy, Snapshot
from ..runtimes.base import CONTAINERD, CRIO, DOCKER, LXC, NSPAWN, PODMAN

# Verdicts.
YES = "yes"
NO = "no"
MAYBE = "maybe"  # depends on what the program does with the signal, or on settings the host does not show
UNKNOWN = "unknown"

RESTART_MONITOR_STATUS = "containerd.io/restart.status"
RESTART_MONITOR_POLICY = "containerd.io/restart.policy"
KUBELET_COMMS = {"kubelet", "k3s-server", "k3s-agent", "k0s", "kubelite"}
KUBE_RESTART_COUNT = "io.kubernetes.container.restartCount"


@dataclass(slots=True)
class RestartForecast:
    """Will the container come back, who does it, and why we think so."""

    verdict: str  # yes, no, maybe, unknown
    reason: str  # one sentence for the user
    by: str | None = None  # dockerd, conmon, kubelet, containerd restart monitor
    policy: RestartPolicy | None = None
    sources: list[str] = field(default_factory=list)  # files read

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "by": self.by,
            "policy": self.policy.to_dict() if self.policy else None,
            "sources": list(self.sources),
        }


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host | None = None
) -> RestartForecast:
    """What follows once `container`'s init exits with `exit_code` (None: the program chooses its own code)."""
    if container.pod is not None or container.sandbox:
        return _kubernetes(container, snapshot)
    if container.runtime == DOCKER:
        return _policy_rules(
            container.restart_policy,
            exit_code,
            daemon=_daemon(snapshot, "dockerd"),
            by="dockerd",
            what="Docker",
        )
    if container.runtime == PODMAN:
        return _policy_rules(
            container.restart_policy,
            exit_code,
            daemon=_conmon_exit_command(container, snapshot),
            by="conmon (podman container cleanup)",
            what="Podman",
        )
    if container.runtime == CONTAINERD:
        return _containerd(container, snapshot, exit_code, host or Host())
    if container.runtime == LXC:
        return _lxc(container, exit_code)
    if container.runtime == CRIO:
        return RestartForecast(
            UNKNOWN, "a CRI-O container outside a pod: only a kubelet restarts CRI-O containers"
        )
    if container.runtime == NSPAWN:
        return RestartForecast(
            UNKNOWN,
            "systemd-nspawn restarts nothing itself; a machine run from systemd-nspawn@NAME.service follows that "
            "unit's Restart= setting (systemctl show -p Restart systemd-nspawn@NAME)",
        )
    return RestartForecast(UNKNOWN, f"no restart knowledge for runtime {container.runtime!r}")


def _daemon(snapshot: Snapshot, comm: str) -> int | None:
    for proc in snapshot.processes.values():
        if proc.comm == comm:
            return proc.pid
    return None


def _conmon_exit_command(container: Container, snapshot: Snapshot) -> int | None:
    """conmon runs `podman container cleanup` (which applies the policy) only when given --exit-command."""
    shim = snapshot.processes.get(container.shim_pid) if container.shim_pid else None
    if shim is not None and "--exit-command" in shim.cmdline:
        return shim.pid
    return None


def _policy_rules(
    policy: RestartPolicy | None, exit_code: int | None, *, daemon: int | None, by: str, what: str
) -> RestartForecast:
    """Docker's and Podman's shared policy names: no, always, unless-stopped, on-failure[:N]."""
    sources = [policy.source] if policy and policy.source else []
    if policy is None:
        return RestartForecast(
            UNKNOWN, f"{what}'s restart policy could not be read (not root, or its files moved)"
        )
    name = policy.name or "no"
    if name == "no":
        return RestartForecast(NO, f"restart policy 'no': {what} leaves it stopped", by, policy, sources)
    if daemon is None:
        missing = "dockerd is not running" if by == "dockerd" else "its conmon has no exit command"
        return RestartForecast(
            NO, f"restart policy '{name}', but {missing}: nothing will restart it now", by, policy, sources
        )
    if name == "always":
        return RestartForecast(YES, f"restart policy 'always': {by} starts it again", by, policy, sources)
    if name == "unless-stopped":
        return RestartForecast(
            YES,
            f"restart policy 'unless-stopped': {by} starts it again (a kill from the host is not a "
            f"`{what.lower()} stop`)",
            by,
            policy,
            sources,
        )
    if name == "on-failure":
        limit = policy.max_retries or 0
        count = policy.restart_count or 0
        shown = f"on-failure:{limit}" if limit else "on-failure"
        so_far = f"restarted {count} of {limit} times so far" if limit else f"restarted {count} times so far"
        if limit and count >= limit:
            return RestartForecast(
                NO, f"restart policy '{shown}' and {so_far}: the limit is reached", by, policy, sources
            )
        if exit_code is None:
            return RestartForecast(
                MAYBE,
                f"restart policy '{shown}' ({so_far}): it restarts only if the program exits with a "
                "non-zero code, and it handles this signal itself",
                by,
                policy,
                sources,
            )
        if exit_code == 0:
            return RestartForecast(NO, f"restart policy '{shown}' and exit code 0", by, policy, sources)
        return RestartForecast(
            YES,
            f"restart policy '{shown}' ({so_far}): exit code {exit_code} counts as a failure",
            by,
            policy,
            sources,
        )
    return RestartForecast(UNKNOWN, f"unrecognised restart policy {name!r}", by, policy, sources)


def _kubelet(snapshot: Snapshot) -> int | None:
    for proc in snapshot.processes.values():
        if proc.comm in KUBELET_COMMS or (proc.cmdline and os.path.basename(proc.cmdline[0]) == "kubelet"):
            return proc.pid
    return None


def _kubernetes(container: Container, snapshot: Snapshot) -> RestartForecast:
    pod = container.pod
    where = f"pod {pod.namespace}/{pod.name}" if pod and pod.name else "its pod"
    count = container.annotations.get(KUBE_RESTART_COUNT)
    policy = RestartPolicy("kubelet", restart_count=int(count) if count and count.isdigit() else None)
    kubelet = _kubelet(snapshot)
    if kubelet is None:
        return RestartForecast(
            MAYBE,
            f"a container of {where}, but no kubelet runs on this host: nothing restarts it until one does",
            "kubelet",
            policy,
        )
    if container.sandbox:
        return RestartForecast(
            YES,
            f"the sandbox (pause) of {where}: the kubelet (pid {kubelet}) recreates the sandbox and restarts "
            "every container of the pod",
            "kubelet",
            policy,
        )
    return RestartForecast(
        YES,
        f"a container of {where}: the kubelet (pid {kubelet}) restarts it per the pod's restartPolicy "
        "(Always by default; OnFailure only after a non-zero exit; Never leaves it down)",
        "kubelet",
        policy,
    )


def _containerd(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    from ..runtimes.containerd_db import container_labels, containerd_roots

    found = container_labels(
        host,
        containerd_roots(snapshot.processes, host),
        container.engine_namespace or "default",
        container.id,
    )
    if found is None:
        return RestartForecast(
            UNKNOWN,
            "containerd's metadata database does not list it; containerd restarts only containers labelled "
            f"{RESTART_MONITOR_STATUS}=running",
        )
    labels, source = found
    if labels.get(RESTART_MONITOR_STATUS) != "running":
        return RestartForecast(
            NO,
            f"containerd restarts nothing by itself, and it has no {RESTART_MONITOR_STATUS}=running label",
            None,
            RestartPolicy("no", source=source),
            [source],
        )
    raw = labels.get(RESTART_MONITOR_POLICY) or "always"
    name, _, limit = raw.partition(":")
    count = labels.get("containerd.io/restart.count")
    policy = RestartPolicy(
        name,
        max_retries=int(limit) if limit.isdigit() else None,
        restart_count=int(count) if count and count.isdigit() else None,
        source=source,
    )
    forecast = _policy_rules(
        policy,
        exit_code,
        daemon=_daemon(snapshot, "containerd"),
        by="containerd's restart monitor",
        what="containerd",
    )
    if forecast.verdict == YES:
        forecast.reason += " (it checks every 10 s by default)"
    return forecast


def _lxc(container: Container, exit_code: int | None) -> RestartForecast:
    policy = container.restart_policy
    sources = [policy.source] if policy and policy.source else []
    autostart = policy is not None and policy.name == "lxc-autostart"
    boot = (
        "lxc.start.auto = 1: it will be started again when the host boots (lxc-autostart), not before"
        if autostart
        else "lxc.start.auto is not set"
    )
    if exit_code is None:
        # reboot(2) inside a PID namespace ends its init with SIGHUP, which liblxc takes as "restart me".
        return RestartForecast(
            MAYBE,
            "LXC starts the container again only if its init reboots (busybox init reboots on SIGTERM, "
            f"systemd on SIGINT); if it halts or exits, it stays stopped; {boot}",
            "lxc monitor",
            policy,
            sources,
        )
    return RestartForecast(
        NO, f"LXC does not restart a container whose init exits; {boot}", None, policy, sources
    )


def describe(forecast: RestartForecast) -> str:
    head = {
        YES: "it will be restarted",
        NO: "it will not be restarted",
        MAYBE: "it may be restarted",
        UNKNOWN: "restart unknown",
    }[forecast.verdict]
    return f"{head}: {forecast.reason}"
