"""REF resolution: what `ctrlens inspect REF`, `kill REF`, `audit REF`… name. One rule, in this order:

1. `pid:N`: the host process N (and the container it is in, if any).
2. An exact container ID.
3. An exact name: the runtime's name (`web`, an LXC or nspawn name), `pod/container` or a Kubernetes
   container name.
4. A unique prefix of a hex container ID (Docker, Podman, CRI-O, containerd CRI: 32+ hex digits). Names and
   other IDs (LXC's ID is its name, `ctr run` IDs are free text) are never matched by prefix.
5. A bare number is also a host PID: if that process exists and a container matched too, the REF is
   ambiguous (write `pid:N`); if only the process exists, it is the process.

More than one candidate at any step is an error (exit 2) listing them; nothing is an error (exit 3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .errors import AmbiguousRef, NotFound, UsageError
from .model import Container, Process, Snapshot

PID_PREFIX = "pid:"
HEX_ID = re.compile(r"[0-9a-f]{32,}")  # the IDs that can be abbreviated
SHOWN_CANDIDATES = 6


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
    """The container or process `ref` names (rules in the module docstring). Raises AmbiguousRef (exit 2) or
    NotFound (exit 3)."""
    ref = ref.strip()
    if not ref:
        raise NotFound("empty REF: give a container ID, name, unique ID prefix, or pid:N")
    if ref.lower().startswith(PID_PREFIX):
        return _pid_target(snapshot, ref[len(PID_PREFIX) :], ref)
    containers = list(snapshot.containers.values())
    found, what = _containers_named(containers, ref)
    pid = int(ref) if ref.isdigit() else None
    proc = snapshot.processes.get(pid) if pid is not None else None
    if proc is not None and found:
        raise AmbiguousRef(
            f"REF {ref!r} is both host PID {pid} and {_list(found)}: write pid:{pid} for the process, or the "
            "container's name or more of its ID"
        )
    if found:
        return _one(snapshot, ref, found, what)
    if proc is not None:
        return Target(snapshot.container_of(proc.pid), proc, True)
    if pid is not None:
        raise NotFound(
            f"no process with PID {pid} (it may have exited) and no container ID, name or ID prefix {ref!r}"
        )
    raise NotFound(
        f"no container matches {ref!r} (looked for an exact ID, a name, a hex ID prefix among {len(containers)} "
        "running containers; `ctrlens containers` lists them; pid:N names a process)"
    )


def _containers_named(containers: list[Container], ref: str) -> tuple[list[Container], str]:
    """The containers of the first step that matches: exact ID, exact name, hex-ID prefix."""
    by_id = [c for c in containers if c.id == ref]
    if by_id:
        return by_id, "have that exact ID"
    by_name = [c for c in containers if ref in names_of(c)]
    if by_name:
        return by_name, "are named that"
    lowered = ref.lower()
    return [
        c for c in containers if HEX_ID.fullmatch(c.id) and c.id.startswith(lowered)
    ], "have IDs starting with it"


def names_of(container: Container) -> set[str]:
    """Every name a REF may give for this container: the runtime's, `pod/container`, the Kubernetes one."""
    found = {container.name} if container.name else set()
    if container.kube_container:
        found.add(container.kube_container)
        if container.pod and container.pod.name:
            found.add(f"{container.pod.name}/{container.kube_container}")
    return found


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


def _pid_target(snapshot: Snapshot, number: str, ref: str) -> Target:
    if not number.isdigit():
        raise UsageError(f"REF {ref!r}: pid: takes a number (pid:4242)")
    proc = snapshot.processes.get(int(number))
    if proc is None:
        raise NotFound(f"no process with PID {number} (it may have exited)")
    return Target(snapshot.container_of(proc.pid), proc, True)


def _one(snapshot: Snapshot, ref: str, found: list[Container], what: str) -> Target:
    if len(found) > 1:
        raise AmbiguousRef(f"REF {ref!r} is ambiguous: {len(found)} containers {what}: {_list(found)}")
    container = found[0]
    proc = snapshot.processes.get(container.init_pid) if container.init_pid else None
    return Target(container, proc, False)


def _list(containers: list[Container]) -> str:
    chosen = sorted(containers, key=lambda c: (c.runtime, c.id))
    shown = ", ".join(f"{c.runtime} {c.short_id} ({c.display_name})" for c in chosen[:SHOWN_CANDIDATES])
    return shown + (", …" if len(containers) > SHOWN_CANDIDATES else "")
