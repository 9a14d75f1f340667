"""Run a HOST program inside chosen namespaces of a container: tcpdump, ss, strace, ls against an image with no shell.

How (all from the host, nothing copied into the container):
1. The program is found on the host's PATH and opened BEFORE anything is entered; for the mount namespace its
   ELF header decides how it will run (below).
2. A child process calls setns(pidfd, CLONE_NEW…) once: with a pidfd, the kernel (5.8+) enters every chosen
   namespace at once, or none, and the pidfd guarantees they are the container's and not a reused PID's.
3. That child forks: the grandchild is in the container's PID namespace (setns on a pid namespace only applies
   to children) and execs the program; the child waits and passes the exit status up.

Without `mnt` (the default) the program keeps the host's files: host binaries and libraries work as usual, and the
container's root filesystem is reachable at /proc/<pid>/root ($CTRLENS_ROOT).
With `mnt` the program sees the container's files as `/`. A static binary (busybox-static) runs as is (exec from
the fd opened on the host). A dynamically linked one is started through the HOST's dynamic loader, also opened on
the host, with `--library-path /proc/self/fd/<host root fd>/usr/lib/…`: the host's libraries through a descriptor,
which needs the container's /proc to show our process, i.e. `pid` entered too. Scripts are refused (their
interpreter would be looked up in the container).
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from ..errors import CtrlensError, PermissionDenied, UsageError
from ..host import NAMESPACE_TYPES
from ..linux.process import CLONE_NEWPID, CLONE_NEWTIME, NS_FLAGS, setns
from ..procfs import ProcHandle
from . import elf

SignalHandler = Callable[[int, FrameType | None], Any] | int | None  # what signal.signal() returns

DEFAULT_NAMESPACES = ("net", "pid", "uts", "ipc")
# `--ns all`: everything but user (entering a user namespace drops the host privileges the tools need).
ALL_NAMESPACES = ("mnt", "uts", "ipc", "net", "pid", "cgroup", "time")
ROOT_ENV = "CTRLENS_ROOT"


class CommandNotFound(CtrlensError):
    exit_code = 127  # what shells return for a command that is not there


class CannotRun(CtrlensError):
    exit_code = 126  # found but cannot be run (not executable, a script in mnt mode, no loader)


class EnterFailed(CtrlensError):
    """setns failed: the container exited, or the kernel refused."""


@dataclass(slots=True)
class ExecPlan:
    """What `run` will do: which program, how, in which namespaces of which process."""

    pid: int
    argv: list[str]
    executable: str  # the host path
    kind: str  # elf.STATIC, DYNAMIC, SCRIPT, OTHER
    loader: str | None  # PT_INTERP of a dynamic ELF, or the #! interpreter
    requested: list[str]
    entering: list[str]  # requested minus those the target shares with us
    root_path: str  # where the container's root is, as the program sees it
    notes: list[str] = field(default_factory=list)
    library_dirs: list[str] = field(default_factory=list)

    @property
    def in_mount_namespace(self) -> bool:
        return "mnt" in self.entering


def parse_namespaces(text: str | None) -> list[str]:
    """`net,pid,mnt` -> ["net", "pid", "mnt"]; `all`; None -> the default set. UsageError for unknown names."""
    if text is None:
        return list(DEFAULT_NAMESPACES)
    names: list[str] = []
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        if part == "all":
            names.extend(n for n in ALL_NAMESPACES if n not in names)
            continue
        alias = {"mount": "mnt", "network": "net", "uts": "uts", "cgroups": "cgroup"}.get(part, part)
        if alias not in NS_FLAGS:
            raise UsageError(f"unknown namespace {part!r}: choose from {', '.join(NAMESPACE_TYPES)} or all")
        if alias not in names:
            names.append(alias)
    if not names:
        raise UsageError(
            "--ns is empty: name at least one namespace (net, pid, uts, ipc, mnt, cgroup, time, user)"
        )
    return names


def find_program(name: str) -> str:
    """The host path of `name` (PATH lookup unless it has a slash). CommandNotFound / CannotRun."""
    if "/" in name:
        path = os.path.abspath(name)
        if not os.path.exists(path):
            raise CommandNotFound(f"{name}: no such file on the host")
    else:
        found = shutil.which(name)
        if found is None:
            raise CommandNotFound(
                f"{name}: command not found on the host's PATH (exec runs host programs; "
                "the container's own files are under $CTRLENS_ROOT)"
            )
        path = found
    if os.path.isdir(path) or not os.access(path, os.X_OK):
        raise CannotRun(f"{path}: not an executable file")
    return path


def plan_exec(handle: ProcHandle, argv: list[str], namespaces: list[str]) -> ExecPlan:
    """Resolve the program on the host and decide how to run it; nothing is entered yet."""
    if not argv:
        raise UsageError("no command given: ctrlens exec REF -- COMMAND [ARG…]")
    executable = find_program(argv[0])
    fd = os.open(executable, os.O_RDONLY | os.O_CLOEXEC)
    try:
        kind, loader = elf.program_kind(fd)
    finally:
        os.close(fd)
    entering = []
    notes = []
    for ns in namespaces:
        theirs = handle.namespace(ns)
        ours = _own_namespace(ns)
        if theirs is None:
            # Never fall back to the host's namespace: the program would run on the host, looking like success.
            raise PermissionDenied(
                f"cannot read the {ns} namespace of pid {handle.pid} (permission denied): refusing to run "
                f"{argv[0]} at all rather than in the host's {ns} namespace; run as root"
            )
        elif theirs == ours:
            notes.append(f"it shares the host's {ns} namespace (nothing to enter)")
        else:
            entering.append(ns)
    mnt = "mnt" in entering
    plan = ExecPlan(
        handle.pid,
        list(argv),
        executable,
        kind,
        loader,
        list(namespaces),
        entering,
        "/" if mnt else f"/proc/{handle.pid}/root",
        notes,
    )
    if mnt:
        _plan_mount_mode(plan)
    elif "pid" in entering:
        plan.notes.append(
            "/proc is still the host's: ps and top list host processes (add mnt to --ns to see the "
            "container's /proc)"
        )
    return plan


def _plan_mount_mode(plan: ExecPlan) -> None:
    if plan.kind == elf.SCRIPT:
        raise CannotRun(
            f"{plan.executable} is a script (#!{plan.loader}): inside the container's mount namespace "
            "its interpreter would be looked up in the container; drop mnt from --ns, or run a static "
            "binary such as busybox"
        )
    if plan.kind == elf.OTHER:
        raise CannotRun(
            f"{plan.executable}: not an ELF program; cannot run it inside the container's mount namespace"
        )
    if plan.kind == elf.DYNAMIC:
        if "pid" not in plan.entering:
            raise CannotRun(
                f"{plan.executable} is dynamically linked: inside the container's mount namespace it "
                "reaches the host's libraries through /proc/self, which needs pid entered too (add pid "
                "to --ns) or a static binary such as busybox"
            )
        plan.library_dirs = elf.host_library_dirs(plan.loader)
        plan.notes.append(
            f"{os.path.basename(plan.executable)} is dynamically linked: it runs through the host's "
            f"loader {plan.loader} with the host's libraries; files it opens by absolute path "
            "(locales, plugins, configs) come from the container"
        )


def _own_namespace(ns: str) -> int | None:
    try:
        link = os.readlink(f"/proc/self/ns/{ns}")
    except OSError:
        return None
    return int(link[link.index("[") + 1 : -1])


def run(plan: ExecPlan, handle: ProcHandle, *, env: dict[str, str] | None = None) -> int:
    """Enter, run, wait; the program's exit status (128+N when killed by signal N).
    EnterFailed / CannotRun when entering or exec failed (the message comes from the child)."""
    if handle.pidfd is None:
        raise EnterFailed(f"process {handle.pid}: no pidfd (exec needs the host's own /proc)")
    env = dict(os.environ if env is None else env)
    env[ROOT_ENV] = plan.root_path
    flags = 0
    for ns in plan.entering:
        flags |= NS_FLAGS[ns]
    fds = _open_for_exec(plan)
    read_end, write_end = os.pipe2(os.O_CLOEXEC)
    # Ctrl-C goes to the whole foreground group: the program handles it; we only wait for it.
    # (Handlers can only be changed from the main thread; elsewhere the waiting side keeps its own.)
    main = threading.current_thread() is threading.main_thread()
    old: dict[int, SignalHandler] = (
        {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGINT, signal.SIGQUIT)} if main else {}
    )
    try:
        child = os.fork()
        if child == 0:
            _child(plan, handle.pidfd, flags, fds, env, write_end, old)  # never returns
        os.close(write_end)
        write_end = -1
        _, status = os.waitpid(child, 0)
        message = _read_all(read_end)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for fd in (read_end, write_end, *fds.values()):
            if fd >= 0:
                os.close(fd)
    if message:
        code, _, text = message.partition(" ")
        error = {"127": CommandNotFound, "126": CannotRun, "5": PermissionDenied}.get(code, EnterFailed)
        raise error(text)
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _open_for_exec(plan: ExecPlan) -> dict[str, int]:
    """Host files the program needs, opened before entering (inheritable where the loader reopens them)."""
    fds = {"exe": os.open(plan.executable, os.O_RDONLY | os.O_CLOEXEC)}
    if plan.in_mount_namespace and plan.kind == elf.DYNAMIC and plan.loader:
        try:
            fds["loader"] = os.open(plan.loader, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            os.close(fds["exe"])
            raise CannotRun(f"host loader {plan.loader}: {exc.strerror}") from None
        fds["root"] = os.open("/", os.O_PATH | os.O_DIRECTORY)  # the loader reads libraries through it
        os.set_inheritable(fds["root"], True)  # Python opens everything close-on-exec (PEP 446)
        os.set_inheritable(fds["exe"], True)
    return fds


def _child(
    plan: ExecPlan,
    pidfd: int,
    flags: int,
    fds: dict[str, int],
    env: dict[str, str],
    errfd: int,
    handlers: dict[int, SignalHandler],
) -> None:
    """In the first child: enter, fork, exec in the grandchild, pass its status up. Never returns."""
    try:
        for s, h in handlers.items():
            signal.signal(s, h)
        if flags:
            try:
                setns(pidfd, flags)
            except OSError as exc:
                denied = exc.errno in (errno.EPERM, errno.EACCES)
                _fail(
                    errfd,
                    "5" if denied else "4",
                    f"entering the {','.join(plan.entering)} namespaces of pid {plan.pid} failed: "
                    + (
                        f"{exc.strerror}: run as root"
                        if denied
                        else f"{exc.strerror} (did the container exit?)"
                    ),
                )
        if flags & (CLONE_NEWPID | CLONE_NEWTIME):
            grandchild = os.fork()
            if grandchild != 0:
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                signal.signal(signal.SIGQUIT, signal.SIG_IGN)
                _, status = os.waitpid(grandchild, 0)
                os._exit(
                    os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
                )
        _exec(plan, fds, env, errfd)
    except BaseException as exc:  # noqa: BLE001  a forked child must never unwind into the parent's code
        try:
            _fail(errfd, "4", f"exec: {exc}")
        finally:
            os._exit(126)


def _exec(plan: ExecPlan, fds: dict[str, int], env: dict[str, str], errfd: int) -> None:
    argv = plan.argv
    try:
        if not plan.in_mount_namespace:
            os.execve(plan.executable, argv, env)  # noqa: S606 - the host program, by design
        elif plan.kind == elf.STATIC:
            os.execve(fds["exe"], argv, env)  # noqa: S606
        else:
            root = f"/proc/self/fd/{fds['root']}"
            if not os.path.isdir(root):
                _fail(
                    errfd,
                    "126",
                    "the container's /proc does not show this process, so the host's libraries "
                    f"cannot be reached for {plan.executable}; use a static binary such as busybox",
                )
            libpath = ":".join(root + d for d in plan.library_dirs)
            loader_argv = [
                argv[0],
                "--library-path",
                libpath,
                "--argv0",
                argv[0],
                f"/proc/self/fd/{fds['exe']}",
                *argv[1:],
            ]
            os.execve(fds["loader"], loader_argv, env)  # noqa: S606
    except OSError as exc:
        code = "127" if exc.errno == 2 else "126"
        _fail(errfd, code, f"{plan.executable}: {exc.strerror}")


def _fail(errfd: int, code: str, message: str) -> None:
    try:
        os.write(errfd, f"{code} {message}".encode(errors="replace"))
    finally:
        os._exit(int(code) if code in ("126", "127", "5") else 4)


def _read_all(fd: int) -> str:
    chunks = []
    while chunk := os.read(fd, 4096):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")
