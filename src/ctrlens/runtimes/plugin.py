"""What a runtime is to ctrlens: one plugin per runtime, everything runtime-specific in one place.

A runtime module (docker.py, podman.py, …) defines its cgroup rules, its metadata enrichment (through
`MetaContext`, which reads like hostile input), its restart forecast, the diff convention its engine uses and
the dialect of its fix texts, and exports them as `PLUGINS`. `runtimes/__init__.py` lists the modules.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from .base import CgroupMatch, RuntimeName

if TYPE_CHECKING:
    from ..host import Host
    from ..model import Container, Snapshot
    from .context import MetaContext
    from .restart_rules import RestartForecast

CgroupRule = Callable[[list[str], int], CgroupMatch | None]
Enricher = Callable[["Container", "MetaContext"], None]
Forecaster = Callable[["Container", "Snapshot", "int | None", "Host"], "RestartForecast"]


class DiffConvention(StrEnum):
    """Which engine's A/C/D rules `ctrlens diff` follows by default for the runtime's containers."""

    DOCKER = "docker"  # docker diff (also containerd: nerdctl diff)
    PODMAN = "podman"  # podman diff (containers/storage: Podman, CRI-O)
    HEURISTIC = "heuristic"  # no image layer to compare with (LXC, nspawn): mtime since start


class FixDialect(StrEnum):
    """In whose terms an audit fix is written for the runtime's containers."""

    DOCKER = "docker"  # docker run flags (nerdctl takes the same)
    PODMAN = "podman"
    KUBERNETES = "kubernetes"  # a pod spec / securityContext field
    LXC = "lxc"  # an LXC config key
    NONE = "none"


class Runtime(Protocol):
    """One runtime: how to recognise its containers, describe them, and predict what it does on exit."""

    @property
    def name(self) -> RuntimeName: ...

    @property
    def rules(self) -> tuple[CgroupRule, ...]: ...

    @property
    def diff_convention(self) -> DiffConvention: ...

    @property
    def fix_dialect(self) -> FixDialect: ...

    def enrich(self, container: Container, meta: MetaContext) -> None: ...

    def forecast_restart(
        self, container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
    ) -> RestartForecast: ...


@dataclass(frozen=True, slots=True)
class RuntimePlugin:
    """The usual way to build a `Runtime` from a module's functions."""

    name: RuntimeName
    rules: tuple[CgroupRule, ...] = ()
    enricher: Enricher | None = None
    forecaster: Forecaster | None = None
    diff_convention: DiffConvention = DiffConvention.DOCKER
    fix_dialect: FixDialect = FixDialect.DOCKER

    def enrich(self, container: Container, meta: MetaContext) -> None:
        if self.enricher is not None:
            self.enricher(container, meta)

    def forecast_restart(
        self, container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
    ) -> RestartForecast:
        if self.forecaster is not None:
            return self.forecaster(container, snapshot, exit_code, host)
        from .restart_rules import UNKNOWN, RestartForecast

        return RestartForecast(UNKNOWN, f"no restart knowledge for runtime {str(self.name)!r}")
