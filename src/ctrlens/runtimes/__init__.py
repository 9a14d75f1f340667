"""One module per runtime family; each turns cgroup paths (and on-disk state) into a container identity.

Adding a runtime is adding a module with `RULES` (cgroup path component matchers) and optionally `enrich`
(metadata from the runtime's own files), then listing it in `MODULES` (order matters: more specific first).
"""

from __future__ import annotations

from types import ModuleType

from ..model import Container
from . import containerd, crio, docker, kubernetes, lxc, nspawn, other, podman
from .base import CgroupMatch
from .context import MetaContext

MODULES: tuple[ModuleType, ...] = (docker, containerd, crio, podman, lxc, nspawn, kubernetes, other)
_RULES = tuple(rule for module in MODULES for rule in module.RULES)
_ENRICHERS = {module.NAME: module.enrich for module in MODULES if hasattr(module, "enrich")}

_cache: dict[str, list[CgroupMatch]] = {}


def match_cgroup_path(path: str) -> list[CgroupMatch]:
    """Every container named along `path`, outermost first (docker-in-docker gives two)."""
    cached = _cache.get(path)
    if cached is not None:
        return cached
    parts = path.strip("/").split("/") if path not in ("", "/") else []
    matches: list[CgroupMatch] = []
    for i in range(len(parts)):
        for rule in _RULES:
            m = rule(parts, i)
            if m is not None:
                m.cgroup = "/" + "/".join(parts[: i + 1])
                uid, qos = kubernetes.pod_of(parts, i)
                if uid or qos:
                    m.pod_uid, m.qos = uid, qos
                matches.append(m)
                break
    if len(_cache) < 100_000:
        _cache[path] = matches
    return matches


def enrich(container: Container, meta: MetaContext) -> None:
    enricher = _ENRICHERS.get(container.runtime)
    if enricher is not None:
        enricher(container, meta)


__all__ = ["CgroupMatch", "MetaContext", "enrich", "match_cgroup_path"]
