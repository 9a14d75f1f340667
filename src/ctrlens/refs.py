"""REF resolution: a container ID or unique prefix, a container name, or a host PID."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .errors import AmbiguousRef, NotFound
from .model import Container, Process, Snapshot


@dataclass(slots=True)
class Target:
    """What a REF named: a container (then `process` is its init) or one process (then `container` may be None)."""

    container: Container | None
    process: Process | None
    by_pid: bool  # the REF was a PID

    @property
    def pid(self) -> int | None:
        if self.process is not None:
            return self.process.pid
        return self.container.init_pid if self.container else None


def resolve_ref(snapshot: Snapshot, ref: str) -> Target:
    ref = ref.strip()
    if not ref:
        raise NotFound("empty REF: give a container ID, name or PID")
    if ref.isdigit():
        pid = int(ref)
        proc = snapshot.processes.get(pid)
        if proc is not None:
            return Target(snapshot.container_of(pid), proc, True)
        # A number may also be a container name or ID prefix; fall through before giving up.
    containers = list(snapshot.containers.values())
    exact = [c for c in containers if c.id == ref or c.name == ref]
    if len(exact) == 1:
        return _container_target(snapshot, exact[0])
    if len(exact) > 1:
        raise AmbiguousRef(f"REF {ref!r} names {len(exact)} containers: {_list(exact)}")
    by_prefix = [c for c in containers if c.id.startswith(ref)]
    if len(by_prefix) == 1:
        return _container_target(snapshot, by_prefix[0])
    if len(by_prefix) > 1:
        raise AmbiguousRef(f"REF {ref!r} is a prefix of {len(by_prefix)} container IDs: {_list(by_prefix)}")
    by_kube = [
        c for c in containers if c.pod and ref in (c.kube_container, f"{c.pod.name}/{c.kube_container}")
    ]
    if len(by_kube) == 1:
        return _container_target(snapshot, by_kube[0])
    if ref.isdigit():
        raise NotFound(f"no process with PID {ref} (it may have exited) and no container named {ref!r}")
    raise NotFound(
        f"no container matches {ref!r} (looked for an ID, ID prefix, name or PID among "
        f"{len(containers)} running containers; `ctrlens containers` lists them)"
    )


def require_container(ref: str, resolve: Callable[[str], Target]) -> Container:
    """The container a REF names (or the container of the PID it names); a host process is not found.
    `resolve` is the command's own (`ctx.resolve`), so every command resolves REFs one way."""
    target = resolve(ref)
    if target.container is None:
        raise NotFound(f"{ref}: process {target.pid} is not in a container")
    return target.container


def require_containers(refs: list[str], resolve: Callable[[str], Target]) -> list[Container]:
    """Each REF's container once, in the order given."""
    found: list[Container] = []
    for ref in refs:
        container = require_container(ref, resolve)
        if container not in found:
            found.append(container)
    return found


def _container_target(snapshot: Snapshot, container: Container) -> Target:
    proc = snapshot.processes.get(container.init_pid) if container.init_pid else None
    return Target(container, proc, False)


def _list(containers: list[Container]) -> str:
    shown = ", ".join(f"{c.short_id} ({c.name or c.runtime})" for c in containers[:6])
    return shown + (", …" if len(containers) > 6 else "")
