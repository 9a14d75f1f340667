"""Per-container secret reports: what each container exposes, in which processes, and who can read it.

`SecretScanner` reads each process once per run and serves every container's report from that, so a
host-wide report reads every container process once, whatever the number of containers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import PermissionDenied
from ..host import Host
from ..model import Container, Snapshot
from .collect import ProcessData, proc_hides_pids, read_process
from .findings import SOURCE_ENVIRON, Finding, Truncation, scan_argv, scan_environ, truncations
from .fingerprint import Fingerprinter
from .readers import Creds, HostUser, Reader, cmdline_readers, environ_readers, host_users

HOST_PID_NS = 0xEFFFFFFC  # fixed inode of the initial PID namespace


@dataclass(slots=True)
class SecretRecord:
    """One secret at one place (variable or argument) of a container, with every process that shows it."""

    finding: Finding
    pids: list[int]
    readers: list[Reader]

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.finding.to_dict(),
            "pids": list(self.pids),
            "readers": [r.to_dict() for r in self.readers],
        }


@dataclass(slots=True)
class ContainerSecrets:
    container: Container
    records: list[SecretRecord] = field(default_factory=list)
    processes_read: int = 0
    processes_gone: int = 0  # exited while being read: their data was discarded
    processes_denied: int = 0
    truncated: list[Truncation] = field(default_factory=list)  # values longer than the detectors read

    def to_dict(self) -> dict[str, Any]:
        return {
            "container": self.container.brief(),
            "secrets": [r.to_dict() for r in self.records],
            "processes_read": self.processes_read,
            "processes_gone": self.processes_gone,
            "processes_denied": self.processes_denied,
            "truncated": [t.to_dict() for t in self.truncated],
        }


class SecretScanner:
    """Secrets of the containers of one snapshot. Holds the fingerprint key and the host's users."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        fingerprint: Fingerprinter | None = None,
        users: list[HostUser] | None = None,
        proc: str | None = None,
        host: Host | None = None,
    ) -> None:
        self.snapshot = snapshot
        host = host or Host(snapshot.host_root or "/")
        self.proc = proc or host.proc
        if fingerprint is None:
            from .fingerprint import KEY_PATH

            fingerprint = Fingerprinter.for_host(host.path(KEY_PATH))
        self.fingerprint = fingerprint
        self.users = host_users(host) if users is None else users
        self.hidepid = proc_hides_pids(self.proc)
        self._cache: dict[int, ProcessData | None] = {}
        self._denied: set[int] = set()
        self._creds_cache: dict[int, Creds | None] = {}
        self._neighbour_cache: dict[tuple[str, int | None], list[tuple[str, str, list[Creds]]]] = {}
        self._by_pid_ns: dict[int | None, dict[str, Container]] | None = None

    def process(self, pid: int) -> ProcessData | None:
        """A process's data, read once per run; None if it exited (or /proc refused it)."""
        if pid not in self._cache:
            try:
                self._cache[pid] = read_process(pid, self.proc)
            except PermissionDenied:
                self._denied.add(pid)
                self._cache[pid] = None
        return self._cache[pid]

    def _creds(self, pid: int) -> Creds | None:
        """Credentials only: a neighbour's environment is not read unless its own container is scanned."""
        if pid in self._cache:
            data = self._cache[pid]
            return None if data is None else data.creds
        if pid not in self._creds_cache:
            try:
                data = read_process(pid, self.proc, contents=False)
            except PermissionDenied:
                data = None
            self._creds_cache[pid] = None if data is None else data.creds
        return self._creds_cache[pid]

    def scan(self, container: Container) -> ContainerSecrets:
        result = ContainerSecrets(container)
        records: dict[tuple[str, str, str, str], SecretRecord] = {}
        for pid in container.pids:
            data = self.process(pid)
            if data is None:
                if pid in self._denied:
                    result.processes_denied += 1
                else:
                    result.processes_gone += 1
                continue
            result.processes_read += 1
            for cut in truncations(data.environ, data.argv):
                if cut not in result.truncated:
                    result.truncated.append(cut)
            for finding in self._findings(data):
                record = records.get(finding.key)
                if record is None:
                    records[finding.key] = SecretRecord(
                        finding, [pid], self._readers(finding, data, container)
                    )
                else:
                    record.pids.append(pid)
                    _merge(record.readers, self._readers(finding, data, container))
        result.records = sorted(records.values(), key=lambda r: (r.finding.source, r.finding.name))
        return result

    def scan_all(self, containers: Iterable[Container] | None = None) -> list[ContainerSecrets]:
        chosen = self.snapshot.containers.values() if containers is None else containers
        return [self.scan(c) for c in sorted(chosen, key=lambda c: (c.display_name, c.id))]

    def _findings(self, data: ProcessData) -> list[Finding]:
        found = scan_environ(data.environ, self.fingerprint)
        return found + scan_argv(data.argv, self.fingerprint)

    def _readers(self, finding: Finding, data: ProcessData, container: Container) -> list[Reader]:
        if finding.source != SOURCE_ENVIRON and not self.hidepid:
            return cmdline_readers(data.creds, self.users, hidepid=False)
        # Under hidepid, reading another user's /proc/PID/* at all needs the same ptrace check as environ.
        return environ_readers(data.creds, self.users, self._neighbours(container, data.creds))

    def _neighbours(self, container: Container, target: Creds) -> list[tuple[str, str, list[Creds]]]:
        """Other containers whose processes can see the target's /proc entry: those in the host PID
        namespace (--pid=host) or in the target's own PID namespace (--pid=container:…, pods)."""
        key = (container.id, target.pid_ns)
        if key not in self._neighbour_cache:
            self._neighbour_cache[key] = self._find_neighbours(container, target)
        return self._neighbour_cache[key]

    def _candidates(self, pid_ns: int | None) -> list[Container]:
        """Containers with a process that may see a target in `pid_ns`: one in the host's pid namespace or in
        `pid_ns` itself, or one whose namespaces the scan could not read. Indexed once, so the search is linear."""
        if self._by_pid_ns is None:
            index: dict[int | None, dict[str, Container]] = {}
            for other in self.snapshot.containers.values():
                for pid in other.pids:
                    proc = self.snapshot.processes.get(pid)
                    index.setdefault(proc.pid_ns if proc else None, {})[other.id] = other
            self._by_pid_ns = index
        seen: dict[str, Container] = {}
        for key in (HOST_PID_NS, pid_ns, None):
            seen.update(self._by_pid_ns.get(key, {}))
        return list(seen.values())

    def _find_neighbours(self, container: Container, target: Creds) -> list[tuple[str, str, list[Creds]]]:
        found = []
        for other in self._candidates(target.pid_ns):
            if other.id == container.id:
                continue
            creds = []
            for pid in other.pids:
                proc = self.snapshot.processes.get(pid)
                if (
                    proc is not None
                    and proc.pid_ns is not None
                    and proc.pid_ns not in (HOST_PID_NS, target.pid_ns)
                ):
                    continue  # the scan already knows it cannot see the target: skip the read
                theirs = self._creds(pid)
                if theirs is not None and theirs.pid_ns in (HOST_PID_NS, target.pid_ns):
                    creds.append(theirs)
            if creds:
                found.append((other.id, other.display_name, creds))
        return found


def _merge(into: list[Reader], more: list[Reader]) -> None:
    for reader in more:
        if reader not in into:
            into.append(reader)
