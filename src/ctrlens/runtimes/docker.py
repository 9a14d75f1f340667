"""Docker (moby): cgroupfs `/docker/<id>`, systemd `docker-<id>.scope`; metadata from `<data-root>/containers/<id>/`."""

from __future__ import annotations

from typing import Any

from ..host import Host
from ..model import Container, RestartPolicy, Snapshot
from .base import DOCKER, CgroupMatch, is_hex64, strip_suffix
from .context import MetaContext, normalize_time, owners_of
from .metafile import str_dict, text_or_none
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .restart_rules import RestartForecast, engine_daemon, policy_rules

NAME = DOCKER
# Parents of a bare 64-hex cgroup that mean Docker with the cgroupfs driver (GitHub Actions uses actions_job).
_CGROUPFS_PARENTS = ("docker", "actions_job")


def match_systemd_scope(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    if comp.startswith("docker-"):
        cid = strip_suffix(comp[len("docker-") :], ".scope")
        if cid and is_hex64(cid):
            return CgroupMatch(DOCKER, cid, "", "docker-<id>.scope")
    return None


def match_cgroupfs(parts: list[str], i: int) -> CgroupMatch | None:
    if i > 0 and parts[i - 1] in _CGROUPFS_PARENTS and is_hex64(parts[i]):
        return CgroupMatch(DOCKER, parts[i], "", f"/{parts[i - 1]}/<id>")
    return None


RULES = (match_systemd_scope, match_cgroupfs)


def enrich(container: Container, meta: MetaContext) -> None:
    owners = owners_of(container)
    for root in meta.dirs.docker_roots:
        cdir = f"{root}/containers/{container.id}"
        config = meta.read_json(f"{cdir}/config.v2.json", owners)
        if not isinstance(config, dict):
            continue
        container.metadata_files.append(f"{cdir}/config.v2.json")
        # Only named fields are taken: Config.Env holds the container's secrets and is never copied.
        container.name = (text_or_none(config.get("Name")) or "").lstrip("/") or container.name
        cfg = _dict(config.get("Config"))
        container.image = text_or_none(cfg.get("Image")) or container.image
        container.labels.update(str_dict(cfg.get("Labels")))
        container.created = normalize_time(text_or_none(config.get("Created"))) or container.created
        state = _dict(config.get("State"))
        container.started = normalize_time(text_or_none(state.get("StartedAt"))) or container.started
        restart_count = _int(config.get("RestartCount"))
        host_config = meta.read_json(f"{cdir}/hostconfig.json", owners)
        if isinstance(host_config, dict):
            container.metadata_files.append(f"{cdir}/hostconfig.json")
            policy = _dict(host_config.get("RestartPolicy"))
            container.restart_policy = RestartPolicy(
                name=text_or_none(policy.get("Name")) or "no",
                max_retries=_int(policy.get("MaximumRetryCount")),
                restart_count=restart_count,
                source=f"{cdir}/hostconfig.json",
            )
        _kube_labels(container)
        return


def _kube_labels(container: Container) -> None:
    """cri-dockerd (dockershim) puts the pod identity in Docker labels."""
    labels = container.labels
    pod_name = labels.get("io.kubernetes.pod.name")
    if pod_name and container.pod is not None:
        container.pod.name = pod_name
        container.pod.namespace = labels.get("io.kubernetes.pod.namespace")
        container.kube_container = labels.get("io.kubernetes.container.name")
        container.sandbox = labels.get("io.kubernetes.docker.type") == "podsandbox"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    """moby restartmanager: hostconfig.json's policy with config.v2.json's RestartCount, applied by dockerd."""
    return policy_rules(
        container.restart_policy,
        exit_code,
        daemon=engine_daemon(snapshot, "dockerd"),
        by="dockerd",
        what="Docker",
    )


PLUGINS = (RuntimePlugin(DOCKER, RULES, enrich, forecast_restart, DiffConvention.DOCKER, FixDialect.DOCKER),)
