"""One module per runtime family; each turns cgroup paths (and on-disk state) into a container identity.

A runtime is a plugin (`plugin.Runtime`): cgroup rules, metadata enrichment, restart forecast, diff convention
and fix dialect, exported by its module as `PLUGINS`. Adding a runtime is adding a module and listing it in
`MODULES` (order matters for the rules: more specific first); docs/architecture.md has the steps.
"""

from __future__ import annotations

from types import ModuleType

from ..model import Container
from . import containerd, crio, docker, kubernetes, lxc, nspawn, other, podman
from .base import CgroupMatch, RuntimeName, delegated_owner
from .context import MetaContext
from .plugin import DiffConvention, FixDialect, Runtime

MODULES: tuple[ModuleType, ...] = (docker, containerd, crio, podman, lxc, nspawn, kubernetes, other)
PLUGINS: tuple[Runtime, ...] = tuple(plugin for module in MODULES for plugin in module.PLUGINS)
_BY_NAME: dict[str, Runtime] = {plugin.name: plugin for plugin in PLUGINS}
_RULES = tuple(rule for plugin in PLUGINS for rule in plugin.rules)

_cache: dict[str, list[CgroupMatch]] = {}


def runtime_plugin(name: str) -> Runtime | None:
    """The plugin of a runtime name as `Container.runtime` holds it (None: `unknown`, no runtime knowledge)."""
    return _BY_NAME.get(name)


def diff_convention(container: Container) -> DiffConvention:
    plugin = runtime_plugin(container.runtime)
    return plugin.diff_convention if plugin is not None else DiffConvention.HEURISTIC


def fix_dialect(container: Container) -> FixDialect:
    if container.pod is not None:
        return FixDialect.KUBERNETES
    plugin = runtime_plugin(container.runtime)
    return plugin.fix_dialect if plugin is not None else FixDialect.NONE


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
                m.owner_uid = delegated_owner(parts, i)
                uid, qos = kubernetes.pod_of(parts, i)
                if uid or qos:
                    m.pod_uid, m.qos = uid, qos
                matches.append(m)
                break
    if len(_cache) < 100_000:
        _cache[path] = matches
    return matches


def enrich(container: Container, meta: MetaContext) -> None:
    plugin = runtime_plugin(container.runtime)
    if plugin is not None:
        plugin.enrich(container, meta)


__all__ = [
    "PLUGINS",
    "CgroupMatch",
    "DiffConvention",
    "FixDialect",
    "MetaContext",
    "Runtime",
    "RuntimeName",
    "diff_convention",
    "enrich",
    "fix_dialect",
    "match_cgroup_path",
    "runtime_plugin",
]
