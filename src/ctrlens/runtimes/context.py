"""What metadata enrichment needs: the host, the engines' directories found from their command lines, file readers."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..host import Host
from ..model import Container, Process
from ..procfs.hostwide import boot_time
from . import metafile
from .executables import is_engine_daemon


@dataclass(slots=True)
class EngineDirs:
    """Data roots and state dirs of the engines running on the host (defaults plus any seen on a command line)."""

    docker_roots: list[str] = field(default_factory=lambda: ["/var/lib/docker"])
    containerd_states: list[str] = field(default_factory=lambda: ["/run/containerd", "/run/k3s/containerd"])
    containers_storage: list[str] = field(
        default_factory=lambda: ["/var/lib/containers/storage", "/run/containers/storage"]
    )
    lxc_paths: list[str] = field(default_factory=lambda: ["/var/lib/lxc"])

    def add(self, attr: str, path: str | None) -> None:
        if path:
            values = getattr(self, attr)
            if path not in values:
                values.insert(0, path)  # a path a running daemon named wins over the default


def option_value(argv: list[str], *names: str) -> str | None:
    """The value of `--name VALUE` or `--name=VALUE` (or `-n VALUE`) in argv."""
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "=") and name.startswith("--"):
                return arg[len(name) + 1 :]
    return None


def discover_engine_dirs(processes: dict[int, Process], host: Host | None = None) -> EngineDirs:
    """Non-default data roots from the daemons' own command lines (dockerd --data-root, containerd --state…).

    Only root's daemons that provably run the engine's binary on the host count (`is_engine_daemon`): a local
    user's script named `dockerd --data-root ~/fake` points nowhere.
    """
    dirs = EngineDirs()
    for proc in processes.values():
        argv = proc.cmdline
        if not argv or (proc.runtime_exe is None and not proc.exe_hidden):
            continue  # not a proven (or, without ptrace access, unprovable) runtime binary
        if is_engine_daemon(proc, "dockerd"):
            dirs.add("docker_roots", option_value(argv, "--data-root", "-g", "--graph"))
        elif is_engine_daemon(proc, "containerd"):
            dirs.add(
                "containerd_states",
                option_value(argv, "--state") or _toml_state(option_value(argv, "--config", "-c"), host),
            )
        elif is_engine_daemon(proc, "crio") or is_engine_daemon(proc, "podman"):
            dirs.add("containers_storage", option_value(argv, "--root"))
            dirs.add("containers_storage", option_value(argv, "--runroot"))
    return dirs


def _toml_state(config_path: str | None, host: Host | None) -> str | None:
    """containerd's `state = "…"` from its --config file, when the command line does not say."""
    return toml_string(config_path, "state", host)


def toml_string(config_path: str | None, key: str, host: Host | None) -> str | None:
    """A top-level string of a root-owned TOML config (containerd's --config), or None."""
    if not config_path:
        return None
    try:
        data = metafile.read_bytes(host.path(config_path) if host else config_path, cap=metafile.TEXT_CAP)
        value = tomllib.loads(data.decode("utf-8", "replace")).get(key) if data else None
    except (metafile.MetadataError, ValueError, RecursionError):
        return None
    return value if isinstance(value, str) else None


def owners_of(container: Container) -> frozenset[int]:
    """Who may have written a container's metadata: root, plus the user of a rootless runtime's container."""
    return frozenset({0, container.owner_uid})


class MetaContext:
    """Shared by the runtime enrichers during one scan: host paths, engine dirs, a JSON cache, boot time.

    Every runtime file goes through `metafile` (owner, type, size and depth checks); a file that fails is one
    line in `warnings`, and reads as missing.
    """

    def __init__(self, host: Host, processes: dict[int, Process]) -> None:
        self.host = host
        self.processes = processes
        self.dirs = discover_engine_dirs(processes, host)
        self.warnings: list[str] = []
        self._json: dict[tuple[str, frozenset[int]], Any] = {}
        self._warned: set[str] = set()
        self._boot_time: float | None = None

    def warn(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warnings.append(f"runtime metadata skipped: {message}")

    def read_json(self, host_path: str, owners: frozenset[int] = metafile.ROOT_ONLY) -> Any:
        """A JSON file on the host, or None when missing, untrusted or malformed (metadata is best effort)."""
        key = (host_path, owners)
        if key not in self._json:
            try:
                self._json[key] = metafile.read_json(self.host.path(host_path), owners)
            except metafile.MetadataError as exc:
                self.warn(str(exc))
                self._json[key] = None
        return self._json[key]

    def read_text(self, host_path: str, owners: frozenset[int] = metafile.ROOT_ONLY) -> str | None:
        try:
            return metafile.read_text(self.host.path(host_path), owners)
        except metafile.MetadataError as exc:
            self.warn(str(exc))
            return None

    def exists(self, host_path: str) -> bool:
        return os.path.exists(self.host.path(host_path))

    @property
    def boot_time(self) -> float:
        if self._boot_time is None:
            self._boot_time = boot_time(self.host.proc) or 0.0
        return self._boot_time

    def process_start_iso(self, proc: Process) -> str | None:
        if not self.boot_time:
            return None
        seconds = self.boot_time + proc.start_ticks / CLOCK_TICKS
        return iso_utc(seconds)


CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def iso_utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def normalize_time(value: str | None) -> str | None:
    """Docker's "2026-11-24T20:31:02.123456789Z" -> "2026-11-24T20:31:02Z"; zero times -> None."""
    if not value or value.startswith("0001-01-01"):
        return None
    head = value[:19]
    return head + "Z" if len(head) == 19 else value
