"""Where a container's cgroup lives on the host, per controller: `/sys/fs/cgroup/<controller>/<path>` on v1,
the unified mount (`/sys/fs/cgroup` or, on hybrid hosts, `/sys/fs/cgroup/unified`) on v2; under --host-root.

On hybrid hosts a controller is in exactly one of them: the v1 line naming it wins, v2 is used only when the
controller's files exist there.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from ..procfs.files import read_small
from .context import AuditContext
from .facts import ContainerFacts


@dataclass(slots=True, frozen=True)
class CgroupDir:
    path: str  # host path of the container's directory, e.g. /sys/fs/cgroup/memory/docker/<id>
    root: str  # host path of the hierarchy's mount
    version: int  # 1 or 2

    def ancestors(self) -> list[str]:
        """The directory, then its parents up to (and including) the hierarchy root."""
        found, path = [self.path], self.path
        while path != self.root and path.startswith(self.root + "/"):
            path = posixpath.dirname(path)
            found.append(path)
        return found


def controller_dir(facts: ContainerFacts, ctx: AuditContext, controller: str, probe: str) -> CgroupDir | None:
    """The container's directory for `controller`; `probe` is a file the controller puts there (memory.max…)."""
    for line in facts.cgroups:
        if line.hierarchy != 0 and controller in line.controllers.split(","):
            mount = ctx.cgroup.v1.get(controller) or ctx.cgroup.v1.get(line.controllers)
            if mount is None:
                return None
            return CgroupDir(_join(mount, line.path), mount, 1)
    v2 = ctx.cgroup.v2
    for line in facts.cgroups:
        if line.hierarchy == 0 and v2 is not None:
            found = CgroupDir(_join(v2, line.path), v2, 2)
            return found if ctx.host_has(f"{found.path}/{probe}") else None
    return None


def read_value(ctx: AuditContext, host_path: str, *, shared: bool = False) -> str | None:
    """A cgroupfs file's text. `shared`: the file of a parent many containers share (/docker, /kubepods),
    read once per run."""
    if shared and host_path in ctx.cgroup_cache:
        return ctx.cgroup_cache[host_path]
    try:
        data = read_small(ctx.host.path(host_path), cap=4096)  # never blocks on a crafted tree's FIFO
        value: str | None = data.decode("utf-8", "replace").strip()
    except OSError:
        value = None
    if shared:
        ctx.cgroup_cache[host_path] = value
    return value


def _join(mount: str, path: str) -> str:
    path = posixpath.normpath("/" + path.lstrip("/"))
    return mount if path == "/" else mount.rstrip("/") + path
