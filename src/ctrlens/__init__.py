"""ctrlens: see and handle the containers on a Linux host from /proc alone.

Library API:
    snapshot = ctrlens.scan()                   # every process and container, one pass over /proc
    snapshot.containers["<id>"].name            # names, images, pods from the runtimes' own files
    ctrlens.container_of(pid)                   # the container a host PID belongs to, or None
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .host import Host
    from .model import Container, Snapshot


def scan(host: Host | str | None = None) -> Snapshot:
    """One pass over the host's /proc: every process, which container (runtime, pod) each belongs to."""
    from .host import Host
    from .scanner import scan as _scan

    if host is None or isinstance(host, str):
        host = Host.from_option(host)
    return _scan(host)


def container_of(pid: int, host: Host | str | None = None) -> Container | None:
    """The container that host process `pid` belongs to, or None for a host process."""
    return scan(host).container_of(pid)


__all__ = ["__version__", "container_of", "scan"]
