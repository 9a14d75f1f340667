"""What metadata enrichment needs: the host, the engines' directories found from their command lines, file readers."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..host import Host
from ..model import Process
from ..procfs.files import read_small
from ..procfs.hostwide import boot_time


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
    """Non-default data roots from the daemons' own command lines (dockerd --data-root, containerd --state…)."""
    dirs = EngineDirs()
    for proc in processes.values():
        argv = proc.cmdline
        if not argv:
            continue
        exe = os.path.basename(argv[0])
        if exe == "dockerd":
            dirs.add("docker_roots", option_value(argv, "--data-root", "-g", "--graph"))
        elif exe == "containerd":
            dirs.add(
                "containerd_states",
                option_value(argv, "--state") or _toml_state(option_value(argv, "--config", "-c"), host),
            )
        elif exe in ("crio", "podman"):
            dirs.add("containers_storage", option_value(argv, "--root"))
            dirs.add("containers_storage", option_value(argv, "--runroot"))
    return dirs


def _toml_state(config_path: str | None, host: Host | None) -> str | None:
    """containerd's `state = "…"` from its --config file, when the command line does not say."""
    if not config_path:
        return None
    try:
        import tomllib

        with open(host.path(config_path) if host else config_path, "rb") as f:
            state = tomllib.load(f).get("state")
        return state if isinstance(state, str) else None
    except (OSError, ValueError):
        return None


class MetaContext:
    """Shared by the runtime enrichers during one scan: host paths, engine dirs, a JSON cache, boot time."""

    def __init__(self, host: Host, processes: dict[int, Process]) -> None:
        self.host = host
        self.processes = processes
        self.dirs = discover_engine_dirs(processes, host)
        self._json: dict[str, Any] = {}
        self._boot_time: float | None = None

    def read_json(self, host_path: str) -> Any:
        """A JSON file on the host, or None when missing or unreadable (metadata is best effort)."""
        if host_path not in self._json:
            try:
                with open(self.host.path(host_path), "rb") as f:
                    self._json[host_path] = json.load(f)
            except (OSError, ValueError):
                self._json[host_path] = None
        return self._json[host_path]

    def read_text(self, host_path: str) -> str | None:
        try:  # bounded and non-blocking: a crafted host root may hold a FIFO or a huge file here
            return read_small(self.host.path(host_path)).decode("utf-8", "replace")
        except OSError:
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
