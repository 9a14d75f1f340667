"""Is this process really running a runtime's binary? Decided from the host side, never from its name.

A container sets its own comm and argv; it cannot make `/proc/PID/exe` be a host file. The link's text is the
path in the process's own mount namespace, so the text alone proves nothing (a container can hold a
`/usr/bin/conmon` of its own): the file the link points to must be the very inode at that path on the host
(same device and inode), owned by root and writable by no one else. With `--host-root` the path is looked up
under that root. A fixture tree (not a live procfs) has plain symlinks: there the host-side file is checked alone.
"""

from __future__ import annotations

import os
import stat

from ..host import Host
from ..model import Process

# The binaries each runtime process runs, by basename of the executable.
SHIM_KINDS = ("containerd-shim", "conmon", "lxc-monitor", "nspawn")
ENGINE_DAEMONS = frozenset({"dockerd", "containerd", "crio", "podman"})
_LXC_MONITOR_EXES = frozenset({"lxc-start", "lxc-autostart", "lxc-execute", "lxd", "incusd"})


def exe_matches_kind(exe_path: str, kind: str) -> bool:
    """Does a verified executable path fit a shim kind (containerd-shim, conmon, lxc-monitor, nspawn)?"""
    base = os.path.basename(exe_path)
    if kind == "containerd-shim":
        return base.startswith("containerd-shim")
    if kind == "conmon":
        return base == "conmon"
    if kind == "lxc-monitor":
        return base in _LXC_MONITOR_EXES
    if kind == "nspawn":
        return base == "systemd-nspawn"
    return False


def is_candidate(comm: str, argv: list[str]) -> bool:
    """Could this process be a runtime shim, monitor or engine daemon? (Cheap name test; proof comes after.)"""
    first = argv[0] if argv else ""
    if first.startswith("[lxc monitor]"):
        return True
    for name in (comm, os.path.basename(first)):
        if name.startswith("containerd-shim") or name in ENGINE_DAEMONS:
            return True
        if name in ("conmon", "systemd-nspawn") or name in _LXC_MONITOR_EXES:
            return True
    return False


def verified_exe(dirfd: int, host: Host, live: bool) -> str | None:
    """The host path of the process's executable when it is a root-owned host file, else None.

    `dirfd` is the process's /proc/PID directory. A binary replaced on disk since it started (a package upgrade:
    the link reads `PATH (deleted)`) still counts when its inode is root's and lies on the filesystem of PATH's
    directory on the host.
    """
    try:
        link = os.readlink("exe", dir_fd=dirfd)
    except OSError:
        return None  # kernel thread, zombie, or no privilege to see it: unproven
    deleted = link.endswith(" (deleted)")
    path = link[: -len(" (deleted)")] if deleted else link
    if not path.startswith("/") or "\n" in path:
        return None
    try:
        if not live:
            return path if not deleted and _trusted_file(os.stat(host.path(path))) else None
        running = os.stat("exe", dir_fd=dirfd)  # follows the magic link to the inode really executed
        if not _trusted_file(running):
            return None
        if deleted:
            directory = os.stat(host.path(os.path.dirname(path)))
            return path if running.st_dev == directory.st_dev else None
        on_host = os.stat(host.path(path))
    except OSError:
        return None
    same = (running.st_dev, running.st_ino) == (on_host.st_dev, on_host.st_ino)
    return path if same else None


def exe_hidden(dirfd: int) -> bool:
    """The exe link exists but we may not read it: no ptrace access (not root, or a DaemonSet without SYS_PTRACE)."""
    try:
        os.readlink("exe", dir_fd=dirfd)
    except PermissionError:
        return True
    except OSError:
        return False
    return False


def root_on_host_unproven(proc: Process) -> bool:
    """Without ptrace access the exe cannot be checked: then only root's process in the host pid namespace (NSpid,
    readable without privilege, has one entry) is taken at its word; a user's or a container's process never is."""
    return proc.exe_hidden and proc.uid == 0 and proc.nspid is not None and len(proc.nspid) == 1


def _trusted_file(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and st.st_uid == 0 and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def is_engine_daemon(proc: Process, name: str) -> bool:
    """Root's `name` daemon (dockerd, containerd, crio, podman) on the host, proven by its executable."""
    if proc.uid != 0 or proc.container_id is not None or proc.role is not None:
        return False
    if proc.runtime_exe is not None:
        return os.path.basename(proc.runtime_exe) == name
    return root_on_host_unproven(proc) and bool(proc.cmdline) and os.path.basename(proc.cmdline[0]) == name
