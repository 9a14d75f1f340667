"""Docker (moby): cgroupfs `/docker/<id>`, systemd `docker-<id>.scope`; metadata from `<data-root>/containers/<id>/`."""

from __future__ import annotations

from ..model import Container, RestartPolicy
from .base import DOCKER, CgroupMatch, is_hex64, strip_suffix
from .context import MetaContext, normalize_time

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
    for root in meta.dirs.docker_roots:
        cdir = f"{root}/containers/{container.id}"
        config = meta.read_json(f"{cdir}/config.v2.json")
        if not isinstance(config, dict):
            continue
        container.metadata_files.append(f"{cdir}/config.v2.json")
        # Only named fields are taken: Config.Env holds the container's secrets and is never copied.
        container.name = (config.get("Name") or "").lstrip("/") or container.name
        cfg = config.get("Config") or {}
        container.image = cfg.get("Image") or container.image
        container.labels.update(cfg.get("Labels") or {})
        container.created = normalize_time(config.get("Created")) or container.created
        state = config.get("State") or {}
        container.started = normalize_time(state.get("StartedAt")) or container.started
        restart_count = config.get("RestartCount")
        host_config = meta.read_json(f"{cdir}/hostconfig.json")
        if isinstance(host_config, dict):
            container.metadata_files.append(f"{cdir}/hostconfig.json")
            policy = host_config.get("RestartPolicy") or {}
            container.restart_policy = RestartPolicy(
                name=policy.get("Name") or "no",
                max_retries=policy.get("MaximumRetryCount"),
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
