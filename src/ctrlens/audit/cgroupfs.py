"""Where a container's cgroup lives on the host, per controller, for the audit's checks: `ctrlens.cgroupfs`
(the one cgroupfs reader) bound to the container's facts and the run's context (layout found once, files
shared by many containers read once)."""

from __future__ import annotations

from .. import cgroupfs
from ..cgroupfs import CgroupDir
from .context import AuditContext
from .facts import ContainerFacts

__all__ = ["CgroupDir", "controller_dir", "read_value"]


def controller_dir(facts: ContainerFacts, ctx: AuditContext, controller: str, probe: str) -> CgroupDir | None:
    """The container's directory for `controller`; `probe` is a file the controller puts there (memory.max…)."""
    return cgroupfs.controller_dir(ctx.cgroup, facts.cgroups, controller, probe, ctx.host_has)


def read_value(ctx: AuditContext, host_path: str, *, shared: bool = False) -> str | None:
    """A cgroupfs file's text. `shared`: the file of a parent many containers share (/docker, /kubepods),
    read once per run."""
    if shared and host_path in ctx.cgroup_cache:
        return ctx.cgroup_cache[host_path]
    value = cgroupfs.read_value(ctx.host, host_path)
    if shared:
        ctx.cgroup_cache[host_path] = value
    return value
