"""One pass over /proc: read every process, attribute each to a container, enrich containers from runtime files.

Processes vanish and PIDs are reused mid-scan: every file of a process is read through one /proc/PID dirfd,
so a read after exit fails (ESRCH) instead of reading a newcomer's file, and a vanished process is skipped.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from .accounts import HostAccounts
from .host import Host
from .model import ROLE_KERNEL, ROLE_RUNTIME, ROLE_SHIM, Container, Pod, Process, Snapshot
from .procfs.files import CAP_CMDLINE, CAP_SMALL, read_capped
from .procfs.parse import (
    cgroup_paths,
    ns_inode,
    parse_cgroup,
    parse_cmdline,
    parse_stat,
    parse_status,
    status_ids,
)
from .runtimes import CgroupMatch, MetaContext, enrich, match_cgroup_path
from .runtimes.base import KUBERNETES, UNKNOWN
from .runtimes.executables import (
    exe_hidden,
    exe_matches_kind,
    is_candidate,
    root_on_host_unproven,
    verified_exe,
)
from .runtimes.shims import ShimSignal, shim_signal

_O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_MAX_ANCESTRY = 64


def _read_at(dirfd: int, name: str, cap: int = CAP_SMALL) -> tuple[bytes, bool]:
    """Bounded and non-blocking (procfs.files): a crafted tree's FIFO or 100 MB file neither hangs nor floods."""
    return read_capped(name, dirfd, cap)


_cgroup_cache: dict[bytes, list[str]] = {}


def _cgroup_paths(raw: bytes) -> list[str]:
    """Most processes share one cgroup file's bytes (every host daemon, every process of a container): parse once."""
    paths = _cgroup_cache.get(raw)
    if paths is None:
        paths = cgroup_paths(parse_cgroup(raw))
        if len(_cgroup_cache) < 50_000:
            _cgroup_cache[raw] = paths
    return list(paths)


def read_process(
    proc_dir: str, pid: int, host: Host | None = None, live: bool = True, problems: list[str] | None = None
) -> Process | None:
    """One process, or None when it exited (or was never readable) during the read. Why an existing process
    could not be read (a crafted tree's FIFO, garbage) goes to `problems`, one line per process.

    A process named like a runtime binary gets `runtime_exe` when its executable proves it (never from its name).
    """
    try:
        dirfd = os.open(f"{proc_dir}/{pid}", _O_DIR)
    except OSError:
        return None
    try:
        stat = parse_stat(_read_at(dirfd, "stat")[0])
        uid = os.fstat(dirfd).st_uid
        raw_cmdline, cut = _read_at(dirfd, "cmdline", CAP_CMDLINE)
        cmdline = parse_cmdline(raw_cmdline)
        if cut and problems is not None:
            problems.append(f"process {pid}: command line longer than {CAP_CMDLINE >> 20} MiB, cut")
        try:
            cgroups = _cgroup_paths(_read_at(dirfd, "cgroup")[0])
        except PermissionError:
            cgroups = []
        pid_ns = mnt_ns = None
        try:
            pid_ns = ns_inode(os.readlink("ns/pid", dir_fd=dirfd))
            mnt_ns = ns_inode(os.readlink("ns/mnt", dir_fd=dirfd))
        except (PermissionError, FileNotFoundError):
            pass  # other users' namespaces need privilege; fixture trees may not have them
        runtime_exe, hidden, nspid = None, False, None
        if not stat.kernel_thread and is_candidate(stat.comm, cmdline):
            runtime_exe = verified_exe(dirfd, host or Host(), live)
            hidden = runtime_exe is None and exe_hidden(dirfd)
            if hidden:  # NSpid tells the pid namespace without ptrace access
                value = parse_status(_read_at(dirfd, "status")[0]).get("NSpid")
                nspid = list(status_ids(value)) if value else None
    except (ProcessLookupError, FileNotFoundError):
        return None
    except (OSError, ValueError, IndexError, UnicodeDecodeError) as exc:
        if problems is not None and not isinstance(exc, PermissionError):
            problems.append(f"process {pid}: unreadable ({_why(exc)}); skipped")
        return None  # unreadable or torn: treat like a process that left
    finally:
        os.close(dirfd)
    proc = Process(
        pid=pid,
        ppid=stat.ppid,
        uid=uid,
        comm=stat.comm,
        cmdline=cmdline,
        state=stat.state,
        start_ticks=stat.start_ticks,
        cpu_ticks=stat.cpu_ticks,
        rss_pages=stat.rss_pages,
        cgroup=cgroups[0] if cgroups else "/",
        cgroups=cgroups,
        pid_ns=pid_ns,
        mnt_ns=mnt_ns,
        runtime_exe=runtime_exe,
        exe_hidden=hidden,
        nspid=nspid,
    )
    if stat.kernel_thread:
        proc.role = ROLE_KERNEL
    return proc


def read_processes(
    proc_dir: str, host: Host | None = None, problems: list[str] | None = None
) -> dict[int, Process]:
    processes: dict[int, Process] = {}
    host = host or Host()
    live = host.is_live
    for name in os.listdir(proc_dir):
        if name.isdigit() and name.isascii():
            proc = read_process(proc_dir, int(name), host, live, problems)
            if proc is not None:
                processes[proc.pid] = proc
    return processes


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.filename + ': ' if isinstance(exc.filename, str) else ''}{exc.strerror or exc}"
    return f"malformed ({type(exc).__name__})"


def _read_nspid(proc_dir: str, pid: int) -> list[int] | None:
    try:
        status = parse_status(read_capped(f"{proc_dir}/{pid}/status", cap=CAP_SMALL)[0])
    except OSError:
        return None
    value = status.get("NSpid")
    ids = list(status_ids(value)) if value else []
    return ids or None


class _Attributor:
    """Decides, for each process, which container it belongs to."""

    def __init__(self, processes: dict[int, Process], host_ns: dict[str, int]) -> None:
        self.processes = processes
        self.host_pid_ns = host_ns.get("pid")
        self.host_mnt_ns = host_ns.get("mnt")
        self.shims: dict[int, ShimSignal] = {}
        self.containers: dict[str, Container] = {}

    def run(self) -> dict[str, Container]:
        for proc in self.processes.values():
            if proc.role == ROLE_KERNEL:
                continue
            signal = shim_signal(proc.cmdline, proc.comm)
            if signal is not None and self._is_trusted_shim(proc, signal):
                self.shims[proc.pid] = replace(signal, owner_uid=proc.uid)
                proc.role = ROLE_SHIM
        # Root's containers first: a user may name a cgroup under its own user@UID.service after any container
        # id, and must not be first to claim it.
        delegated = []
        for proc in self.processes.values():
            if proc.role is None:
                matches = self._cgroup_matches(proc)
                if matches and matches[-1].owner_uid != 0:
                    delegated.append(proc)
                else:
                    self._attribute(proc)
        for proc in delegated:
            self._attribute(proc)
        return self.containers

    def _is_trusted_shim(self, proc: Process, signal: ShimSignal) -> bool:
        """A shim only on evidence the container cannot forge (docs/architecture.md, "What ctrlens trusts").

        In the host's pid namespace, in no container's cgroup, running the runtime's own root-owned host binary.
        Its name and argv only say which runtime and container it claims; they never make it a shim.
        """
        if proc.runtime_exe is not None:
            if not exe_matches_kind(proc.runtime_exe, signal.kind):
                return False
            if self.host_pid_ns is None or proc.pid_ns != self.host_pid_ns:
                return False
        elif not root_on_host_unproven(proc):
            return False
        matches = self._cgroup_matches(proc)
        return not matches or matches[-1].shim

    @staticmethod
    def _cgroup_matches(proc: Process) -> list[CgroupMatch]:
        for path in proc.cgroups:
            matches = match_cgroup_path(path)
            if matches:
                return matches
        return []

    def _in_host_namespaces(self, proc: Process) -> bool:
        """Shares the host's pid and mount namespaces: its root is the host's, whatever its parent claims."""
        return (
            proc.pid_ns is not None
            and proc.pid_ns == self.host_pid_ns
            and proc.mnt_ns is not None
            and proc.mnt_ns == self.host_mnt_ns
        )

    def nearest_shim(self, proc: Process) -> tuple[int, ShimSignal] | None:
        seen = 0
        ppid = proc.ppid
        while ppid > 1 and seen < _MAX_ANCESTRY:
            signal = self.shims.get(ppid)
            if signal is not None:
                return ppid, signal
            parent = self.processes.get(ppid)
            if parent is None:
                return None
            ppid = parent.ppid
            seen += 1
        return None

    def _attribute(self, proc: Process) -> None:
        matches = self._cgroup_matches(proc)
        if matches:
            inner = matches[-1]
            if inner.shim:
                if proc.pid_ns == self.host_pid_ns or proc.pid_ns is None:
                    proc.role = ROLE_SHIM  # conmon / lxc monitor / nspawn supervisor scopes
                    return
                matches = [m for m in matches if not m.shim]  # a private pid namespace is never a shim
            if not matches:
                self._private_namespace(proc)
                return
            inner = matches[-1]
            payload = [m for m in matches if not m.shim]
            container = self._container_for(inner, proc)
            if container is None:
                self._private_namespace(proc)  # a user's cgroup named after another owner's container
                return
            if len(payload) > 1:
                container.parent_id = payload[-2].id
            self._add(container, proc)
            return
        shim = self.nearest_shim(proc)
        if shim is not None and shim[1].container_id and not self._in_host_namespaces(proc):
            pid, signal = shim
            claimed = shim[1].container_id
            existing = self.containers.get(claimed)
            if existing is not None and existing.owner_uid != signal.owner_uid:
                self._private_namespace(proc)  # a rootless shim cannot claim a container of another user
                return
            if existing is None:
                existing = Container(
                    id=claimed,
                    runtime=signal.runtime,
                    cgroup=proc.cgroup,
                    name=signal.name,
                    engine_namespace=signal.engine_namespace,
                    bundle=signal.bundle,
                    evidence=[f"child of {signal.kind} (pid {pid}) for {signal.container_id}"],
                    owner_uid=signal.owner_uid,
                )
                self.containers[claimed] = existing
            self._add(existing, proc)
            return
        self._private_namespace(proc)

    def _private_namespace(self, proc: Process) -> None:
        """No rule names it: a private pid namespace still makes it a container (of unknown runtime)."""
        if proc.pid_ns is not None and self.host_pid_ns is not None and proc.pid_ns != self.host_pid_ns:
            cid = f"pidns-{proc.pid_ns}"
            found = self.containers.get(cid)
            if found is None:
                found = Container(
                    id=cid,
                    runtime=UNKNOWN,
                    cgroup=proc.cgroup,
                    evidence=[
                        f"private pid namespace {proc.pid_ns}; no runtime rule matched cgroup {proc.cgroup}"
                    ],
                )
                self.containers[cid] = found
            self._add(found, proc)

    def _container_for(self, match: CgroupMatch, proc: Process) -> Container | None:
        container = self.containers.get(match.id)
        if container is not None:
            return container if container.owner_uid == match.owner_uid else None
        container = Container(
            id=match.id,
            runtime=match.runtime,
            cgroup=match.cgroup,
            name=match.name,
            engine_namespace=match.engine_namespace,
            evidence=[f"cgroup {match.cgroup} matches {match.rule}"],
            owner_uid=match.owner_uid,
        )
        if match.pod_uid or match.qos:
            container.pod = Pod(name=None, namespace=None, uid=match.pod_uid, qos=match.qos)
        self.containers[match.id] = container
        return container

    def _add(self, container: Container, proc: Process) -> None:
        proc.container_id = container.id
        container.pids.append(proc.pid)

    def _drop_runtime_helpers(self, container: Container) -> None:
        """A container with its own pid namespace: members left in the host's are the runtime at work, not payload."""
        host_ns = self.host_pid_ns
        if host_ns is None:
            return
        namespaces = {self.processes[p].pid_ns for p in container.pids}
        if host_ns not in namespaces or not namespaces - {host_ns, None}:
            return  # all private, or all shared with the host (--pid=host): nothing to tell apart
        kept = []
        for pid in container.pids:
            proc = self.processes[pid]
            if proc.pid_ns == host_ns:
                proc.container_id = None
                proc.role = ROLE_RUNTIME
            else:
                kept.append(pid)
        container.pids = kept

    def finish(self, proc_dir: str) -> None:
        """Init process, shim, runtime by shim where the path was silent, NSpid of container processes."""
        for container in self.containers.values():
            self._drop_runtime_helpers(container)
            members = set(container.pids)
            container.pids.sort()
            tops = [self.processes[p] for p in container.pids if self.processes[p].ppid not in members]
            tops.sort(key=lambda p: (p.start_ticks, p.pid))
            container.init_pid = tops[0].pid if tops else (container.pids[0] if container.pids else None)
            init = self.processes.get(container.init_pid) if container.init_pid else None
            shim = self.nearest_shim(init) if init else None
            if shim is not None and not self._shim_serves(shim[1], container):
                container.evidence.append(
                    f"parent {shim[1].kind} (pid {shim[0]}) claims container {shim[1].container_id}: ignored"
                )
                shim = None
            if shim is not None:
                shim_pid, signal = shim
                container.shim_pid = shim_pid
                self.processes[shim_pid].shim_of.append(container.id)
                if container.runtime == KUBERNETES or container.runtime == UNKNOWN:
                    container.runtime = signal.runtime
                    container.evidence.append(f"runtime from {signal.kind} (pid {shim_pid})")
                container.engine_namespace = container.engine_namespace or signal.engine_namespace
                if signal.container_id == container.id:  # a pod's shim names the sandbox, not this one
                    container.bundle = container.bundle or signal.bundle
                    if signal.name and not container.name:
                        container.name = signal.name
            for pid in container.pids:
                self.processes[pid].nspid = _read_nspid(proc_dir, pid)

    @staticmethod
    def _shim_serves(signal: ShimSignal, container: Container) -> bool:
        """A shim's argv names the container it serves; one claiming another container's id is not its shim.

        A Kubernetes pod shares one containerd shim, named after the pod's sandbox: it serves every container
        of the pod. A rootless shim serves only its own user's containers.
        """
        if signal.owner_uid != container.owner_uid:
            return False
        if signal.container_id is None or signal.container_id == container.id:
            return True
        return signal.kind == "containerd-shim" and container.pod is not None


def scan(host: Host | None = None) -> Snapshot:
    """Every process and container on the host, in one pass over its /proc."""
    host = host or Host()
    started = time.time()
    proc_dir = host.proc
    problems: list[str] = []
    processes = read_processes(proc_dir, host, problems)
    accounts = HostAccounts(
        host
    )  # user names from the host's /etc/passwd (honours --host-root), read on first use
    for proc in processes.values():
        proc.accounts = accounts
    host_ns = host.host_namespaces()
    attributor = _Attributor(processes, host_ns)
    containers = attributor.run()
    attributor.finish(proc_dir)
    meta = MetaContext(host, processes)
    for signal in attributor.shims.values():
        if signal.kind == "lxc-monitor" and signal.state_path:
            meta.dirs.add("lxc_paths", signal.state_path)
        if signal.kind == "conmon" and signal.bundle and "/overlay-containers/" in signal.bundle:
            meta.dirs.add("containers_storage", signal.bundle.split("/overlay-containers/")[0])
    for container in containers.values():
        enrich(container, meta)
        if container.started is None and container.init_pid in processes:
            container.started = meta.process_start_iso(processes[container.init_pid])
    snapshot = Snapshot(
        processes=processes,
        containers=containers,
        host_root=host.root,
        host_namespaces=host_ns,
        taken_at=started,
    )
    snapshot.warnings.extend(_visibility_warnings(host, processes))
    snapshot.warnings.extend(_summarise(problems))
    snapshot.warnings.extend(meta.warnings)
    return snapshot


def _summarise(problems: list[str], shown: int = 5) -> list[str]:
    """One line per unreadable process, at most `shown`, then a count: a crafted tree cannot flood stderr."""
    if len(problems) <= shown:
        return problems
    return [*problems[:shown], f"… and {len(problems) - shown} more processes like these"]


def _visibility_warnings(host: Host, processes: dict[int, Process]) -> list[str]:
    if os.geteuid() == 0 or not host.is_live:
        return []
    hidden_ns = sum(1 for p in processes.values() if p.pid_ns is None and p.role != ROLE_KERNEL)
    message = (
        "not running as root: "
        f"namespaces of {hidden_ns} processes, container names from the runtimes' root-only files, "
        "environments and root filesystems cannot be read, and runtime shims cannot be proven by their "
        "executables; showing what cgroup paths tell. "
        "Run with sudo for the full picture."
    )
    return [message]
