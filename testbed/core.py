"""The testbed: private containerd, dockerd, Podman and LXC under one state dir; helpers to run containers.

Everything an engine writes lives under the state dir (default /tmp/ctrlens-testbed, or $CTRLENS_TESTBED_DIR):

    state.json            what is running: pids, sockets, data roots, logs (read by `load`, `status`, `down`)
    bin/, env             wrappers (docker, podman, ctr, lxc-*) bound to this testbed; `. DIR/env` for PATH
    image/                nginx (from nginx.c), the busybox rootfs and its tarball
    containerd/           config.toml, root/, state/, runc/, containerd.sock, containerd.log
    docker/               daemon.json, data/, exec/, docker.sock, docker.pid, dockerd.log, client/
    podman/               containers.conf, storage.conf, root/, run/, tmp/, networks/, volumes/
    lxc/                  default.conf and one directory per container (lxc-create -P)
    kube/                 one record per kube-style container and per pod (its pod cgroup, removed with it)
    cri/                  containerd's CRI plugin: CNI config (net.d/), host-local IPAM data, pod logs

Nothing is shared with a system docker/containerd/podman/lxc except the host's cgroup tree,
/etc/docker/key.json (dockerd 20.10 always writes it) and containerd's shim sockets in /run/containerd/s
(hashed by our socket path).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _host, images
from .errors import CommandError, TestbedError

if TYPE_CHECKING:
    from .cri.client import CriClient
    from .cri.pods import CriPod

DEFAULT_STATE_DIR = "/tmp/ctrlens-testbed"
STATE_VERSION = 1

DOCKER_IMAGE = "ctrlens-bb:1"
PODMAN_IMAGE = "localhost/ctrlens-bb:1"
CTR_IMAGE = "docker.io/library/ctrlens-bb:1"  # what `docker save ctrlens-bb:1 | ctr images import -` names it
CTR_NAMESPACE = "ctrlens-test"
KUBE_NAMESPACE = "k8s.io"
DEFAULT_CMD: tuple[str, ...] = ("sleep", "1000000")

DOCKER_CLIENT = "/usr/bin/docker"  # Debian's 20.10 client; /usr/local/bin/docker is another (28.x) client
LXC_TOOLS = (
    "attach",
    "console",
    "copy",
    "create",
    "destroy",
    "execute",
    "freeze",
    "info",
    "ls",
    "monitor",
    "start",
    "stop",
    "top",
    "unfreeze",
    "wait",
)

# What the CRI plugin's kubelet-created containers get besides the annotations (kubelet service env, CRI
# hostname).
KUBE_QOS_PARENT = {
    "besteffort": "/kubepods/besteffort",
    "burstable": "/kubepods/burstable",
    "guaranteed": "/kubepods",
}
KUBELET_ENV = (
    "KUBERNETES_SERVICE_HOST=10.96.0.1",
    "KUBERNETES_SERVICE_PORT=443",
    "KUBERNETES_SERVICE_PORT_HTTPS=443",
    "KUBERNETES_PORT=tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP=tcp://10.96.0.1:443",
    "KUBERNETES_PORT_443_TCP_PROTO=tcp",
    "KUBERNETES_PORT_443_TCP_PORT=443",
    "KUBERNETES_PORT_443_TCP_ADDR=10.96.0.1",
)

# containerd's CRI plugin: the sandbox image it runs (testbed/pause.c, imported, never pulled) and Debian's
# CNI plugins (containernetworking-plugins).
SANDBOX_IMAGE = "localhost/ctrlens-pause:1"
CNI_BIN_DIR = "/usr/lib/cni"

ENGINE_START_TIMEOUT = 60.0
COMMAND_TIMEOUT = 120.0


_SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def default_state_dir() -> Path:
    return Path(os.environ.get("CTRLENS_TESTBED_DIR") or DEFAULT_STATE_DIR)


def unique_name(prefix: str = "t") -> str:
    """A container name no other test uses: `prefix-<8 hex>`."""
    return f"{prefix}-{secrets.token_hex(4)}"


def _log(msg: str) -> None:
    print(f"testbed: {msg}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Pod:
    """The Kubernetes pod a kube-style container pretends to belong to."""

    name: str
    namespace: str
    uid: str
    qos: str
    sandbox_id: str
    cgroup: str  # the container's cgroup path, /kubepods/<qos>/pod<uid>/<id>


@dataclass(frozen=True)
class Started:
    """A container a starter ran: which engine, its ids, and the HOST pid of its init process."""

    runtime: str  # "docker" | "podman" | "containerd" | "lxc"
    id: str  # full id (docker/podman: 64 hex; ctr: the name given; kube-style: 64 hex; lxc: the name)
    name: str
    pid: int
    namespace: str | None = None  # containerd namespace, for ctr and kube-style containers
    pod: Pod | None = None  # kube-style containers only


class Paths:
    """Every path of one testbed, derived from its state dir."""

    def __init__(self, state_dir: Path | str) -> None:
        d = Path(os.path.abspath(state_dir))
        self.dir = d
        self.state = d / "state.json"
        self.lock = d.parent / f".{d.name}.lock"  # beside the dir: `down` removes the dir itself
        self.bin = d / "bin"
        self.env = d / "env"
        self.image = d / "image"
        self.nginx = self.image / "nginx"
        self.rootfs = self.image / "rootfs"
        self.rootfs_tar = self.image / "rootfs.tar"
        c = d / "containerd"
        self.containerd = c
        self.containerd_config = c / "config.toml"
        self.containerd_root = c / "root"
        self.containerd_state = c / "state"
        self.containerd_socket = c / "containerd.sock"
        self.containerd_log = c / "containerd.log"
        self.runc_root = c / "runc"  # runc state of ctr-started containers (docker keeps its own under exec/)
        self.ctr_logs = c / "logs"
        k = d / "docker"
        self.docker = k
        self.docker_config = k / "daemon.json"
        self.docker_data = k / "data"
        self.docker_exec = k / "exec"
        self.docker_socket = k / "docker.sock"
        self.docker_pidfile = k / "docker.pid"
        self.docker_log = k / "dockerd.log"
        self.docker_client_config = k / "client"
        p = d / "podman"
        self.podman = p
        self.podman_conf = p / "containers.conf"
        self.podman_storage_conf = p / "storage.conf"
        self.podman_root = p / "root"
        self.podman_runroot = p / "run"
        self.podman_tmp = p / "tmp"
        self.podman_networks = p / "networks"
        self.podman_volumes = p / "volumes"
        self.lxc = d / "lxc"
        self.lxc_conf = self.lxc / "default.conf"
        self.kube = d / "kube"
        self.pause = self.image / "pause"
        self.pause_tar = self.image / "pause.tar"
        self.cri = d / "cri"
        self.cri_cni_conf = self.cri / "net.d"
        self.cri_cni_data = self.cri / "cni-data"
        self.cri_logs = self.cri / "logs"
        self.demo = d / "demo"

    def task_dirs(self) -> list[Path]:
        """containerd's bundle dirs, <state>/io.containerd.runtime.v2.task/<namespace>/<id>."""
        return sorted(self.containerd_state.glob("io.containerd.runtime.v2.task/*/*"))


@contextmanager
def _locked(paths: Paths) -> Iterator[None]:
    """One `up`/`down` at a time per state dir (two pytest sessions, or a CLI call racing a test run)."""
    paths.lock.parent.mkdir(parents=True, exist_ok=True)
    with open(paths.lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    input: str | None = None,
    timeout: float = COMMAND_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    try:
        res = subprocess.run(
            list(cmd),
            env=dict(env) if env is not None else None,
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise TestbedError(f"`{' '.join(cmd)}` did not finish within {timeout:.0f}s") from e
    except FileNotFoundError as e:
        raise TestbedError(f"`{cmd[0]}` not found: python -m testbed install") from e
    if check and res.returncode != 0:
        raise CommandError(res)
    return res


def _engine_env() -> dict[str, str]:
    """The environment engines and clients run with: ours minus anything pointing at another engine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "CONTAINERD_", "CONTAINERS_"))}
    env.pop("NOTIFY_SOCKET", None)
    env["PATH"] = "/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin:" + env.get("PATH", "")
    return env


def _http_ping(sock: Path, path: str = "/_ping") -> bool:
    """True if an HTTP server answers 200 on the unix socket `sock` (dockerd's API)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(str(sock))
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        return s.recv(64).split(b" ", 2)[1:2] == [b"200"]


def _socket_accepts(sock: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        s.connect(str(sock))
        return True


def _toml(data: Mapping[str, Any], prefix: str = "") -> str:
    """A TOML writer for the plain tables containers.conf needs (strings, numbers, bools, lists, tables)."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(value(x) for x in v) + "]"
        raise TypeError(f"cannot write {v!r} as TOML")

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)

    lines = [f"{key(k)} = {value(v)}" for k, v in data.items() if not isinstance(v, Mapping)]
    for k, v in data.items():
        if isinstance(v, Mapping):
            name = f"{prefix}.{key(k)}" if prefix else key(k)
            lines.append(f"\n[{name}]")
            lines.append(_toml(v, name))
    return "\n".join(lines)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    for k, v in extra.items():
        if isinstance(v, Mapping) and isinstance(base.get(k), dict):
            _merge(base[k], v)
        else:
            base[k] = v
    return base


class Testbed:
    """A running testbed. Make one with `Testbed.up()` or attach to a running one with `Testbed.load()`."""

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, state_dir: Path | str, state: dict[str, Any], *, reused: bool = False) -> None:
        self.paths = Paths(state_dir)
        self.state_dir = self.paths.dir
        self.state = state
        self.reused = reused  # True when `up` found this testbed already running
        self._ctr_images: set[str] = set(state.get("ctr_namespaces_with_image", []))
        self._ctr_lock = threading.Lock()
        self._procs: list[subprocess.Popen[bytes]] = []  # engines we started, kept so Python reaps them

    # ---- life cycle ----------------------------------------------------------------------------------------

    @classmethod
    def up(cls, state_dir: Path | str | None = None, *, log: Callable[[str], None] = _log) -> Testbed:
        """Start every engine under `state_dir` and import the image; returns at once if it is already up. A
        half-dead testbed found there (a crash) is torn down first. Raises TestbedError naming the engine that
        failed, with the tail of its log; on failure nothing is left running."""
        if os.geteuid() != 0:
            raise TestbedError("the testbed needs root (it starts dockerd, containerd, podman and lxc)")
        paths = Paths(state_dir or default_state_dir())
        longest = f"{paths.containerd_socket}.ttrpc"
        if len(longest) > 104:  # the limit containerd enforces on unix socket paths
            raise TestbedError(
                f"state dir path too long for unix sockets ({longest} > 104 chars): use a shorter one"
            )
        with _locked(paths):
            if paths.state.exists():
                try:
                    tb = cls.load(paths.dir)
                except TestbedError as e:
                    log(f"stale testbed at {paths.dir} ({e}); tearing it down first")
                else:
                    tb.reused = True
                    log(f"already up at {paths.dir}")
                    return tb
            if paths.dir.exists():
                _down(paths, log)
            t0 = time.monotonic()
            tb = cls(paths.dir, {})
            try:
                tb._start(log)
            except BaseException as e:
                detail = str(e) if isinstance(e, TestbedError) else f"{type(e).__name__}: {e}"
                log(f"up failed, cleaning up: {detail.splitlines()[0] if detail else ''}")
                try:
                    _down(paths, lambda _m: None)
                except TestbedError as cleanup:
                    detail += f"\n(and cleaning up failed too: {cleanup})"
                if isinstance(e, Exception):
                    raise TestbedError(detail) from e
                raise
            tb.state["timings"]["up"] = round(time.monotonic() - t0, 3)
            tb._save()
            log(f"up in {tb.state['timings']['up']:.1f}s at {paths.dir} (use: . {paths.env})")
            return tb

    @classmethod
    def load(cls, state_dir: Path | str | None = None) -> Testbed:
        """Attach to the testbed running at `state_dir`; raises TestbedError if it is not (fully) up."""
        paths = Paths(state_dir or default_state_dir())
        try:
            state = json.loads(paths.state.read_text())
        except FileNotFoundError:
            raise TestbedError(f"no testbed at {paths.dir} (no state.json): python -m testbed up") from None
        except (OSError, ValueError) as e:
            raise TestbedError(f"unreadable {paths.state}: {e}") from None
        if state.get("version") != STATE_VERSION:
            raise TestbedError(f"{paths.state} is from another testbed version ({state.get('version')})")
        tb = cls(paths.dir, state)
        problems = tb.problems()
        if problems:
            raise TestbedError(f"testbed at {paths.dir} is not up: " + "; ".join(problems))
        return tb

    def problems(self) -> list[str]:
        """What is wrong with this testbed (empty if every engine runs and answers)."""
        out = []
        p = self.paths
        for name, pid in (
            ("containerd", self.state["containerd"]["pid"]),
            ("dockerd", self.state["docker"]["pid"]),
        ):
            if not _host.pid_alive(pid):
                out.append(f"{name} (pid {pid}) is not running")
        checks: tuple[tuple[str, Callable[[], bool]], ...] = (
            ("containerd", lambda: _socket_accepts(p.containerd_socket)),
            ("dockerd", lambda: _http_ping(p.docker_socket)),
        )
        for name, check in checks:
            try:
                if not check():
                    out.append(f"{name} does not answer")
            except OSError as e:
                out.append(f"{name} does not answer on its socket ({e.strerror or e})")
        for name, path in (("podman", p.podman_root), ("lxc", p.lxc)):
            if not path.is_dir():
                out.append(f"{name} dir {path} is missing")
        return out

    def down(self) -> None:
        """Stop every container and engine, unmount, remove the state dir. Raises if something survived."""
        down(self.state_dir)

    @property
    def nginx_binary(self) -> Path:
        """The static nginx stand-in (the image's /usr/sbin/nginx), to run a HOST process called nginx."""
        return self.paths.nginx

    def running_ids(self) -> set[str]:
        """Ids of every running container of THIS testbed's engines: docker and podman full ids, ctr task ids
        (every containerd namespace but docker's), LXC names. Containers of other engines on the host are not
        included."""
        ids = set(self.docker("ps", "-q", "--no-trunc").stdout.split())
        ids |= set(self.podman("ps", "-q", "--no-trunc").stdout.split())
        for ns in self.ctr("namespaces", "ls", "-q").stdout.split():
            if ns in ("moby", "plugins.moby"):
                continue
            for line in self.ctr("task", "ls", namespace=ns).stdout.splitlines()[1:]:
                fields = line.split()
                if len(fields) >= 3 and fields[2] == "RUNNING":
                    ids.add(fields[0])
        ids |= set(self.lxc("lxc-ls", "--running", "-1").stdout.split())
        return ids

    # ---- engine commands -----------------------------------------------------------------------------------

    def docker(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run Debian's docker client against this testbed's dockerd."""
        return _run(
            self._docker_cmd(*args), env=self._docker_env(), check=check, input=input, timeout=timeout
        )

    def podman(
        self, *args: str, check: bool = True, input: str | None = None, timeout: float = COMMAND_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        """Run podman with this testbed's storage, runroot, runc and containers.conf."""
        return _run(
            self._podman_cmd(*args), env=self._podman_env(), check=check, input=input, timeout=timeout
        )

    def ctr(
        self,
        *args: str,
        namespace: str = CTR_NAMESPACE,
        check: bool = True,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run ctr against this testbed's containerd, in containerd namespace `namespace`."""
        cmd = ["ctr", "--address", str(self.paths.containerd_socket), "--namespace", namespace, *args]
        return _run(cmd, env=_engine_env(), check=check, input=input, timeout=timeout)

    def lxc(
        self,
        cmd: str,
        *args: str,
        check: bool = True,
        input: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> subprocess.CompletedProcess[str]:
        """Run an LXC tool with this testbed's lxcpath, e.g. `lxc("lxc-start", "-n", name, "-d")`."""
        if not cmd.startswith("lxc-"):
            cmd = f"lxc-{cmd}"
        return _run(
            [cmd, "-P", str(self.paths.lxc), *args],
            env=_engine_env(),
            check=check,
            input=input,
            timeout=timeout,
        )

    def _docker_cmd(self, *args: str) -> list[str]:
        return [DOCKER_CLIENT, "--host", f"unix://{self.paths.docker_socket}", *args]

    def _docker_env(self) -> dict[str, str]:
        return {**_engine_env(), "DOCKER_CONFIG": str(self.paths.docker_client_config)}

    def _podman_cmd(self, *args: str) -> list[str]:
        p = self.paths
        return [
            "podman",
            "--root",
            str(p.podman_root),
            "--runroot",
            str(p.podman_runroot),
            "--tmpdir",
            str(p.podman_tmp),
            "--runtime",
            "runc",
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
            "--storage-driver",
            "overlay",
            "--network-config-dir",
            str(p.podman_networks),
            "--volumepath",
            str(p.podman_volumes),
            *args,
        ]

    def _podman_env(self) -> dict[str, str]:
        p = self.paths
        return {
            **_engine_env(),
            "CONTAINERS_CONF": str(p.podman_conf),
            "CONTAINERS_STORAGE_CONF": str(p.podman_storage_conf),
            "TMPDIR": str(p.podman_tmp),
        }

    # ---- starters ------------------------------------------------------------------------------------------

    def run_docker(
        self, name: str, *opts: str, cmd: Sequence[str] = DEFAULT_CMD, image: str = DOCKER_IMAGE
    ) -> Started:
        """`docker run -d --name NAME [--network none] OPTS IMAGE CMD`; waits for the init process."""
        return self._run_detached("docker", self.docker, name, opts, cmd, image)

    def run_podman(
        self, name: str, *opts: str, cmd: Sequence[str] = DEFAULT_CMD, image: str = PODMAN_IMAGE
    ) -> Started:
        """`podman run -d --name NAME [--network none] OPTS IMAGE CMD` (runc, cgroupfs); waits for init."""
        return self._run_detached("podman", self.podman, name, opts, cmd, image)

    def _run_detached(
        self,
        engine: str,
        cli: Callable[..., subprocess.CompletedProcess[str]],
        name: str,
        opts: Sequence[str],
        cmd: Sequence[str],
        image: str,
    ) -> Started:
        """Docker and Podman share a CLI: run detached, then wait until inspect names the init's pid."""
        net = () if _has_network_opt(opts) else ("--network", "none")
        cid = cli("run", "-d", "--name", name, *net, *opts, image, *cmd).stdout.strip().splitlines()[-1]
        pid = self._wait_pid(
            engine,
            name,
            lambda: _pid_or_exit(cli("inspect", "-f", "{{.State.Status}} {{.State.Pid}}", cid)),
            lambda: cli("logs", "--tail", "20", cid, check=False).stderr,
        )
        return Started(engine, cid, name, pid)

    def run_ctr(
        self,
        name: str,
        *opts: str,
        namespace: str = CTR_NAMESPACE,
        cmd: Sequence[str] = DEFAULT_CMD,
        image: str = CTR_IMAGE,
    ) -> Started:
        """`ctr -n NAMESPACE run -d OPTS IMAGE NAME CMD` (the container id is `name`); waits for the task."""
        self._ensure_ctr_image(namespace, image)
        self.paths.ctr_logs.mkdir(parents=True, exist_ok=True)
        log_uri = f"file://{self.paths.ctr_logs}/{namespace}-{name}.log"
        self.ctr(
            "run",
            "-d",
            "--log-uri",
            log_uri,
            "--runc-root",
            str(self.paths.runc_root),
            *opts,
            image,
            name,
            *cmd,
            namespace=namespace,
        )
        pid = self._wait_pid(
            "ctr",
            name,
            lambda: self._ctr_task_pid(namespace, name),
            lambda: _host.log_tail(self.paths.ctr_logs / f"{namespace}-{name}.log"),
        )
        return Started("containerd", name, name, pid, namespace=namespace)

    def run_kube_style(
        self,
        pod_name: str,
        pod_namespace: str,
        container_name: str,
        qos: str = "besteffort",
        *,
        cmd: Sequence[str] = DEFAULT_CMD,
        pod_uid: str | None = None,
        image: str = CTR_IMAGE,
    ) -> Started:
        """A container as the kubelet's CRI plugin would make it: containerd namespace k8s.io, cgroup
        /kubepods/<qos>/pod<uid>/<id> (cgroupfs layout; guaranteed pods sit right under /kubepods), the
        io.kubernetes.cri.* annotations in its OCI config.json, the kubelet's service env, HOSTNAME=<pod>."""
        if qos not in KUBE_QOS_PARENT:
            raise TestbedError(f"qos must be one of {', '.join(KUBE_QOS_PARENT)}, not {qos!r}")
        self._ensure_ctr_image(KUBE_NAMESPACE, image)
        cid, sandbox_id, uid = secrets.token_hex(32), secrets.token_hex(32), pod_uid or str(uuid.uuid4())
        pod = Pod(pod_name, pod_namespace, uid, qos, sandbox_id, f"{KUBE_QOS_PARENT[qos]}/pod{uid}/{cid}")
        annotations = {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": container_name,
            "io.kubernetes.cri.sandbox-id": sandbox_id,
            "io.kubernetes.cri.sandbox-name": pod_name,
            "io.kubernetes.cri.sandbox-namespace": pod_namespace,
            "io.kubernetes.cri.sandbox-uid": uid,
            "io.kubernetes.cri.image-name": image,
        }
        self.paths.kube.mkdir(parents=True, exist_ok=True)
        (self.paths.kube / f"{cid}.json").write_text(
            json.dumps(asdict(pod))
        )  # so `down` finds the pod cgroup
        opts = [
            "--cgroup",
            pod.cgroup,
            *(f"--annotation={k}={v}" for k, v in annotations.items()),
            *(f"--env={e}" for e in (*KUBELET_ENV, f"HOSTNAME={pod_name}")),
        ]
        started = self.run_ctr(cid, *opts, namespace=KUBE_NAMESPACE, cmd=cmd, image=image)
        return Started("containerd", cid, container_name, started.pid, namespace=KUBE_NAMESPACE, pod=pod)

    def run_lxc(self, name: str, cmd: Sequence[str] | None = None) -> Started:
        """`lxc-create -t busybox` (no network, unconfined) then `lxc-start -d [-- CMD]`; busybox init by
        default."""
        self.lxc("lxc-create", "-n", name, "-t", "busybox", "-f", str(self.paths.lxc_conf))
        log = self.paths.lxc / f"{name}.log"
        self.lxc("lxc-start", "-n", name, "-d", "-o", str(log), "-l", "INFO", *(("--", *cmd) if cmd else ()))

        def lxc_pid() -> int:
            out = self.lxc("lxc-info", "-n", name, "-s", "-p").stdout  # "State: RUNNING\nPID: 123\n"
            info = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
            if info.get("State", "").strip() == "STOPPED":
                raise _Exited("STOPPED")
            return int(info.get("PID", "0").strip() or 0)

        pid = self._wait_pid("lxc", name, lxc_pid, lambda: _host.log_tail(log))
        return Started("lxc", name, name, pid)

    def remove(self, started: Started, timeout: float = 20.0) -> None:
        """Remove a container a starter made (idempotent: an already-gone container is fine); raises if its
        init process is still alive afterwards."""
        if started.runtime == "docker":
            self.docker("rm", "-f", "-v", started.id, check=False)
        elif started.runtime == "podman":
            self.podman("rm", "-f", "-t", "0", started.id, check=False)
        elif started.runtime == "containerd":
            self._ctr_remove(started.namespace or CTR_NAMESPACE, started.id)
        elif started.runtime == "lxc":
            self.lxc("lxc-stop", "-n", started.id, "-k", check=False)
            self.lxc("lxc-destroy", "-n", started.id, "-f", check=False)
        else:
            raise TestbedError(f"unknown runtime {started.runtime!r}")
        if not _host.wait_for(lambda: not _host.pid_alive(started.pid), timeout):
            raise TestbedError(
                f"{started.runtime} container {started.name} (pid {started.pid}) survived removal"
            )
        if started.pod is not None:
            _host.remove_cgroup(started.pod.cgroup, parents=_kube_parents(started.pod.cgroup))
            (self.paths.kube / f"{started.id}.json").unlink(missing_ok=True)

    def run_cri_pod(
        self, name: str, namespace: str = "default", qos: str = "besteffort", **kw: Any
    ) -> CriPod:
        """A real pod from containerd's CRI plugin, driven as a kubelet does (see testbed/cri/pods.py)."""
        from .cri.pods import run_cri_pod

        return run_cri_pod(self, name, namespace, qos, **kw)

    def run_dockershim_pod(
        self, name: str, namespace: str = "default", qos: str = "besteffort", **kw: Any
    ) -> CriPod:
        """A pod as cri-dockerd makes it on this testbed's Docker (see testbed/cri/pods.py)."""
        from .cri.pods import run_dockershim_pod

        return run_dockershim_pod(self, name, namespace, qos, **kw)

    def remove_pod(self, pod: CriPod) -> None:
        """Stop and remove a pod either pod starter made, and its pod cgroup."""
        from .cri.pods import remove_pod

        remove_pod(self, pod)

    def cri_client(self) -> CriClient:
        """A CRI client of this testbed's containerd (close it, or use it in a `with`)."""
        from .cri.client import CriClient

        return CriClient(self.paths.containerd_socket)

    def _ctr_remove(self, namespace: str, cid: str) -> None:
        self.ctr("task", "kill", "--signal", "SIGKILL", cid, namespace=namespace, check=False)
        self.ctr("task", "delete", "--force", cid, namespace=namespace, check=False)
        self.ctr("container", "delete", cid, namespace=namespace, check=False)

    def _ctr_task_pid(self, namespace: str, cid: str) -> int:
        for line in self.ctr("task", "ls", namespace=namespace).stdout.splitlines()[1:]:
            fields = line.split()
            if len(fields) >= 3 and fields[0] == cid:
                if fields[2] == "STOPPED":
                    raise _Exited("STOPPED")
                return int(fields[1]) if fields[2] == "RUNNING" else 0
        return 0

    def _ensure_ctr_image(self, namespace: str, image: str) -> None:
        """Import the image into a containerd namespace the first time it is used there."""
        key = f"{namespace}/{image}"
        with self._ctr_lock:
            if key in self._ctr_images:
                return
            have = self.ctr("images", "ls", "-q", namespace=namespace).stdout.split()
            if image not in have:
                if image != CTR_IMAGE:
                    raise TestbedError(f"image {image} is not in containerd namespace {namespace}")
                self._ctr_import(namespace)
            self._ctr_images.add(key)

    def _import_pause(self) -> None:
        """The pod sandbox image under the name the CRI config gives (docker for cri-dockerd-style pods,
        containerd's k8s.io namespace for the CRI plugin): nothing is pulled."""
        self.docker("import", "--change", 'ENTRYPOINT ["/pause"]', str(self.paths.pause_tar), SANDBOX_IMAGE)
        self._ctr_import(KUBE_NAMESPACE, SANDBOX_IMAGE)

    def _ctr_import(self, namespace: str, image: str = DOCKER_IMAGE) -> None:
        """docker save IMAGE | ctr -n NAMESPACE images import -"""
        save = subprocess.Popen(
            self._docker_cmd("save", image),
            env=self._docker_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        cmd = [
            "ctr",
            "--address",
            str(self.paths.containerd_socket),
            "--namespace",
            namespace,
            "images",
            "import",
            "-",
        ]
        try:
            imp = subprocess.run(
                cmd,
                stdin=save.stdout,
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                env=_engine_env(),
                check=False,
            )
        finally:
            assert save.stdout is not None
            save.stdout.close()
            save_err = save.communicate(timeout=COMMAND_TIMEOUT)[1].decode(errors="replace")
        if save.returncode != 0 or imp.returncode != 0:
            raise TestbedError(
                f"containerd: importing {image} into namespace {namespace} failed: "
                f"docker save: {save_err.strip()} ctr import: {imp.stderr.strip()}"
            )

    def _wait_pid(
        self, engine: str, name: str, get: Callable[[], int], diag: Callable[[], str], timeout: float = 15.0
    ) -> int:
        pid = 0

        def ready() -> bool:
            nonlocal pid
            pid = get()
            return pid > 0 and _host.pid_alive(pid)

        try:
            if _host.wait_for(ready, timeout, interval=0.05):
                return pid
            what = f"has no running init process after {timeout:.0f}s (pid {pid})"
        except _Exited as e:
            what = f"exited at once (state {e})"
        try:
            detail = diag()
        except TestbedError as e:
            detail = str(e)
        raise TestbedError(f"{engine} container {name} {what}; its output:\n{detail.strip()}")

    # ---- starting ------------------------------------------------------------------------------------------

    def _start(self, log: Callable[[str], None]) -> None:
        p = self.paths
        for d in (
            p.dir,
            p.bin,
            p.image,
            p.containerd,
            p.docker,
            p.docker_client_config,
            p.podman,
            p.podman_tmp,
            p.podman_networks,
            p.lxc,
            p.kube,
        ):
            d.mkdir(parents=True, exist_ok=True)
        p.dir.chmod(0o711)
        timings: dict[str, float] = {}
        self.state = {
            "version": STATE_VERSION,
            "state_dir": str(p.dir),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "timings": timings,
        }

        def timed(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
            def run() -> Any:
                t0 = time.monotonic()
                result = fn()
                timings[name] = round(time.monotonic() - t0, 3)
                return result

            return run

        with ThreadPoolExecutor(max_workers=6) as pool:
            image = pool.submit(timed("image", self._build_image))
            engines = pool.submit(timed("containerd+dockerd", self._start_containerd_and_dockerd))
            podman = pool.submit(timed("podman", self._setup_podman))
            lxc = pool.submit(timed("lxc", self._setup_lxc))
            _first_error([image, engines, podman, lxc])  # raise the first failure after all finished
            imports = [
                pool.submit(
                    timed(
                        "import-docker",
                        lambda: self.docker(
                            "import", "--change", 'CMD ["/bin/sh"]', str(p.rootfs_tar), DOCKER_IMAGE
                        ),
                    )
                ),
                pool.submit(
                    timed(
                        "import-podman",
                        lambda: self.podman(
                            "import",
                            "--quiet",
                            "--change",
                            'CMD=["/bin/sh"]',
                            str(p.rootfs_tar),
                            PODMAN_IMAGE,
                        ),
                    )
                ),
            ]
            _first_error(imports[:1])
            imports.append(pool.submit(timed("import-pause", self._import_pause)))
            imports += [
                pool.submit(
                    timed(f"import-ctr-{ns}", functools.partial(self._ensure_ctr_image, ns, CTR_IMAGE))
                )
                for ns in (CTR_NAMESPACE, KUBE_NAMESPACE)
            ]
            _first_error(imports)
        self.state["ctr_namespaces_with_image"] = sorted(self._ctr_images)
        self._write_wrappers()
        self._save()
        log("timings: " + ", ".join(f"{k} {v:.2f}s" for k, v in timings.items()))

    def _save(self) -> None:
        tmp = self.paths.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2) + "\n")
        tmp.replace(self.paths.state)

    def _build_image(self) -> None:
        p = self.paths
        images.compile_nginx(p.nginx)
        images.build_rootfs(p.rootfs, p.nginx)
        images.rootfs_tar(p.rootfs, p.rootfs_tar)
        images.compile_pause(p.pause)
        images.pause_tar(p.pause, p.pause_tar)
        self.state["image"] = {
            "docker": DOCKER_IMAGE,
            "podman": PODMAN_IMAGE,
            "containerd": CTR_IMAGE,
            "nginx": str(p.nginx),
            "rootfs": str(p.rootfs),
            "rootfs_tar": str(p.rootfs_tar),
            "sandbox": SANDBOX_IMAGE,
            "pause": str(p.pause),
        }

    def _spawn(self, engine: str, cmd: list[str], logfile: Path) -> subprocess.Popen[bytes]:
        """Start a daemon in its own session (Ctrl-C on pytest does not reach it), output to its log."""
        with open(logfile, "ab") as out:
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env=_engine_env(),
                    cwd="/",
                )
            except FileNotFoundError:
                raise TestbedError(f"{engine}: {cmd[0]} not found: python -m testbed install") from None
        self._procs.append(proc)
        return proc

    def _await(
        self, engine: str, proc: subprocess.Popen[bytes], ready: Callable[[], bool], logfile: Path
    ) -> None:
        def check() -> bool:
            if proc.poll() is not None:
                raise _EngineDied()
            return ready()

        try:
            ok = _host.wait_for(check, ENGINE_START_TIMEOUT)
        except _EngineDied:
            raise TestbedError(
                f"{engine} exited with status {proc.returncode} while starting; "
                f"{logfile}:\n{_host.log_tail(logfile)}"
            ) from None
        if not ok:
            raise TestbedError(
                f"{engine} did not answer within {ENGINE_START_TIMEOUT:.0f}s; "
                f"{logfile}:\n{_host.log_tail(logfile)}"
            )

    def _cri_config(self) -> dict[str, Any]:
        """The CRI plugin as a kubelet node with the cgroupfs driver has it: runc, no systemd cgroups, CNI
        from our conf dir; no AppArmor/SELinux, and oom_score_adj clamped (the testbed lacks
        CAP_SYS_RESOURCE to lower it)."""
        p = self.paths
        return {
            "sandbox_image": SANDBOX_IMAGE,
            "stream_server_address": "127.0.0.1",
            "stream_server_port": "0",
            "enable_selinux": False,
            "disable_apparmor": True,
            "restrict_oom_score_adj": True,
            "containerd": {
                "snapshotter": "overlayfs",
                "default_runtime_name": "runc",
                "runtimes": {
                    "runc": {
                        "runtime_type": "io.containerd.runc.v2",
                        "options": {
                            "SystemdCgroup": False,
                            "BinaryName": shutil.which("runc", path=_SYSTEM_PATH) or "runc",
                            "Root": str(p.runc_root),
                        },
                    }
                },
            },
            "cni": {"bin_dir": CNI_BIN_DIR, "conf_dir": str(p.cri_cni_conf), "max_conf_num": 1},
        }

    def _cni_bridge(self) -> str:
        """This testbed's CNI bridge: a name of its own (<= 15 chars), so two testbeds never share one."""
        return "ctl" + hashlib.sha1(str(self.paths.dir).encode()).hexdigest()[:8]

    def _write_cni_config(self) -> None:
        """One bridge network for pods without hostNetwork: no gateway, no masquerading, no iptables; the
        host-local IP allocations are kept under the testbed dir."""
        p = self.paths
        p.cri_cni_conf.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(str(p.dir).encode()).digest()
        subnet = f"10.{200 + digest[0] % 50}.{digest[1]}.0/24"
        conflist = {
            "cniVersion": "0.4.0",
            "name": "ctrlens-pods",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": self._cni_bridge(),
                    "isGateway": False,
                    "ipMasq": False,
                    "hairpinMode": False,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": subnet}]],
                        "dataDir": str(p.cri_cni_data),
                    },
                },
                {"type": "loopback"},
            ],
        }
        (p.cri_cni_conf / "10-ctrlens-pods.conflist").write_text(json.dumps(conflist, indent=2) + "\n")

    def _start_containerd_and_dockerd(self) -> None:
        p = self.paths
        # The CRI plugin on (pods: testbed/cri), no snapshotters that cannot work here, nothing under /opt.
        self._write_cni_config()
        config = {
            "version": 2,
            "root": str(p.containerd_root),
            "state": str(p.containerd_state),
            "disabled_plugins": [
                "io.containerd.internal.v1.opt",
                "io.containerd.tracing.processor.v1.otlp",
                "io.containerd.snapshotter.v1.aufs",
                "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.devmapper",
                "io.containerd.snapshotter.v1.zfs",
            ],
            "grpc": {"address": str(p.containerd_socket)},
            "ttrpc": {"address": f"{p.containerd_socket}.ttrpc"},
            "debug": {"address": ""},
            "metrics": {"address": ""},
            "plugins": {"io.containerd.grpc.v1.cri": self._cri_config()},
        }
        p.containerd_config.write_text(_toml(config) + "\n")
        cmd = [
            "containerd",
            "--config",
            str(p.containerd_config),
            "--root",
            str(p.containerd_root),
            "--state",
            str(p.containerd_state),
            "--address",
            str(p.containerd_socket),
        ]
        proc = self._spawn("containerd", cmd, p.containerd_log)
        self.state["containerd"] = {
            "pid": proc.pid,
            "socket": str(p.containerd_socket),
            "root": str(p.containerd_root),
            "state": str(p.containerd_state),
            "config": str(p.containerd_config),
            "log": str(p.containerd_log),
            "runc_root": str(p.runc_root),
            "cmdline": cmd,
            "namespaces": {"docker": "moby", "ctr": CTR_NAMESPACE, "kube": KUBE_NAMESPACE},
            "cri": {
                "sandbox_image": SANDBOX_IMAGE,
                "cni_conf_dir": str(p.cri_cni_conf),
                "cni_bin_dir": CNI_BIN_DIR,
                "bridge": self._cni_bridge(),
                "cgroup_driver": "cgroupfs",
            },
        }
        self._await("containerd", proc, lambda: _socket_accepts(p.containerd_socket), p.containerd_log)
        _run(["ctr", "--address", str(p.containerd_socket), "version"], env=_engine_env(), timeout=30)

        # A second dockerd coexists with any other: its own config file, data/exec roots, pidfile and socket,
        # no bridge, no iptables, no userland proxy. It talks to our containerd, so its shims are ours too.
        p.docker_config.write_text("{}\n")
        cmd = [
            "dockerd",
            "--config-file",
            str(p.docker_config),
            "--containerd",
            str(p.containerd_socket),
            "--data-root",
            str(p.docker_data),
            "--exec-root",
            str(p.docker_exec),
            "--pidfile",
            str(p.docker_pidfile),
            "--host",
            f"unix://{p.docker_socket}",
            "--bridge",
            "none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            "--storage-driver",
            "overlay2",
        ]
        proc = self._spawn("dockerd", cmd, p.docker_log)
        self.state["docker"] = {
            "pid": proc.pid,
            "socket": str(p.docker_socket),
            "host": f"unix://{p.docker_socket}",
            "data_root": str(p.docker_data),
            "exec_root": str(p.docker_exec),
            "pidfile": str(p.docker_pidfile),
            "config_file": str(p.docker_config),
            "log": str(p.docker_log),
            "client": DOCKER_CLIENT,
            "client_config": str(p.docker_client_config),
            "cmdline": cmd,
        }
        self._await("dockerd", proc, lambda: _http_ping(p.docker_socket), p.docker_log)

    def _setup_podman(self) -> None:
        """Podman has no daemon: write its config, and check it answers with runc and our storage."""
        p = self.paths
        conf: dict[str, Any] = {}
        for system in ("/usr/share/containers/containers.conf", "/etc/containers/containers.conf"):
            # keep the packaged defaults (capabilities, sysctls): CONTAINERS_CONF replaces those files
            with contextlib.suppress(OSError, tomllib.TOMLDecodeError):
                _merge(conf, tomllib.loads(Path(system).read_text()))
        try:
            _toml(conf)
        except TypeError:  # something our small writer cannot express: use podman's built-in defaults
            conf = {}
        # Podman (as root) asks runc for nofile=1048576 and nproc=4194304 and lowers its own nproc hard limit
        # to 32768: without CAP_SYS_RESOURCE (missing here) runc fails: "error setting rlimit type 6" (or 7).
        nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 1048576)
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
        _merge(
            conf,
            {
                "containers": {
                    "default_ulimits": [f"nofile={nofile}:{nofile}", f"nproc={nproc}:{nproc}"],
                    "netns": "none",
                },
                "engine": {
                    "runtime": "runc",
                    "cgroup_manager": "cgroupfs",
                    "events_logger": "file",
                    "tmp_dir": str(p.podman_tmp),
                    "volume_path": str(p.podman_volumes),
                },
                "network": {"network_config_dir": str(p.podman_networks)},
            },
        )
        p.podman_conf.write_text(_toml(conf) + "\n")
        storage = {
            "storage": {
                "driver": "overlay",
                "graphroot": str(p.podman_root),
                "runroot": str(p.podman_runroot),
            }
        }
        p.podman_storage_conf.write_text(_toml(storage) + "\n")
        try:
            runtime = self.podman("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60).stdout.strip()
        except TestbedError as e:
            raise TestbedError(f"podman does not answer: {e}") from None
        if runtime != "runc":
            raise TestbedError(f"podman uses runtime {runtime!r}, not runc")
        self.state["podman"] = {
            "root": str(p.podman_root),
            "runroot": str(p.podman_runroot),
            "tmpdir": str(p.podman_tmp),
            "containers_conf": str(p.podman_conf),
            "storage_conf": str(p.podman_storage_conf),
            "runtime": "runc",
            "argv": self._podman_cmd(),
            "env": {
                k: v for k, v in self._podman_env().items() if k.startswith("CONTAINERS_") or k == "TMPDIR"
            },
        }

    def _setup_lxc(self) -> None:
        p = self.paths
        p.lxc_conf.write_text("lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")
        try:
            self.lxc("lxc-ls", timeout=30)
        except TestbedError as e:
            raise TestbedError(f"lxc does not answer: {e}") from None
        if not Path("/usr/share/lxc/templates/lxc-busybox").exists():
            raise TestbedError("lxc: the busybox template is missing (apt-get install lxc lxc-templates)")
        self.state["lxc"] = {"lxcpath": str(p.lxc), "config": str(p.lxc_conf), "template": "busybox"}

    def _write_wrappers(self) -> None:
        """DIR/bin/{docker,podman,ctr,lxc-*} bound to this testbed, and DIR/env that puts them on PATH."""
        p = self.paths

        def write(name: str, argv: list[str], env: Mapping[str, str] = {}) -> None:
            # An absolute program path: DIR/bin comes first on PATH, so a bare name would call this wrapper again.
            argv = [shutil.which(argv[0], path=_SYSTEM_PATH) or argv[0], *argv[1:]]
            sets = "".join(f"{k}={_sh(v)} " for k, v in env.items())
            line = f'exec {"env " + sets if sets else ""}{" ".join(_sh(a) for a in argv)} "$@"\n'
            path = p.bin / name
            path.write_text(f"#!/bin/sh\n# ctrlens testbed at {p.dir}\n{line}")
            path.chmod(0o755)

        write("docker", self._docker_cmd(), {"DOCKER_CONFIG": str(p.docker_client_config)})
        write(
            "podman",
            self._podman_cmd(),
            {k: v for k, v in self._podman_env().items() if k.startswith("CONTAINERS_") or k == "TMPDIR"},
        )
        ctr_line = (
            f"exec {shutil.which('ctr', path=_SYSTEM_PATH) or '/usr/bin/ctr'} --address {_sh(str(p.containerd_socket))} "
            f'--namespace "${{CONTAINERD_NAMESPACE:-{CTR_NAMESPACE}}}" "$@"\n'
        )
        (p.bin / "ctr").write_text(f"#!/bin/sh\n# ctrlens testbed at {p.dir}\n{ctr_line}")
        (p.bin / "ctr").chmod(0o755)
        for tool in LXC_TOOLS:
            write(f"lxc-{tool}", [f"/usr/bin/lxc-{tool}", "-P", str(p.lxc)])
        p.env.write_text(
            f"# . {p.env}   -- use this testbed's engines from a shell\n"
            f'export PATH={_sh(str(p.bin))}:"$PATH"\n'
            f"export DOCKER_HOST=unix://{p.docker_socket}\n"
            f"export CONTAINERD_ADDRESS={p.containerd_socket}\n"
        )
        self.state["wrappers"] = str(p.bin)


class _EngineDied(Exception):
    pass


class _Exited(Exception):
    """A container's init exited before we saw it running."""


def _pid_or_exit(res: subprocess.CompletedProcess[str]) -> int:
    """Parse `inspect -f '{{.State.Status}} {{.State.Pid}}'`: the pid, 0 while starting, _Exited once it
    stopped."""
    status, _, pid = res.stdout.strip().partition(" ")
    if status in ("exited", "dead", "stopped"):
        raise _Exited(status)
    return int(pid or 0)


def _first_error(futures: Sequence[Any]) -> None:
    """Wait for every future, then raise the first exception among them (nothing runs on behind our back)."""
    errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def _sh(s: str) -> str:
    return s if re.fullmatch(r"[\w@%+=:,./-]+", s) else "'" + s.replace("'", "'\"'\"'") + "'"


def _has_network_opt(opts: Sequence[str]) -> bool:
    return any(o in ("--network", "--net") or o.startswith(("--network=", "--net=")) for o in opts)


def _kube_parents(cgroup: str) -> int:
    """How many parents of a kube-style cgroup to try to remove: the pod dir, and the QoS and /kubepods dirs
    (rmdir fails on anything still in use, e.g. another pod)."""
    return cgroup.strip("/").count("/")


# ---- down --------------------------------------------------------------------------------------------------


def down(state_dir: Path | str | None = None, *, log: Callable[[str], None] = _log) -> None:
    """Tear down the testbed at `state_dir`, also after a crash (reads state.json if any, then kills whatever
    still refers to the dir). Raises TestbedError listing what survived."""
    paths = Paths(state_dir or default_state_dir())
    with _locked(paths):
        _down(paths, log)


def _down(paths: Paths, log: Callable[[str], None]) -> None:
    if os.geteuid() != 0:
        raise TestbedError("tearing down the testbed needs root")
    t0 = time.monotonic()
    d = paths.dir
    state: dict[str, Any] = {}
    with suppress(OSError, ValueError):
        state = json.loads(paths.state.read_text())
    cgroups = _cgroups_of(paths)  # before the engines remove the configs that name them
    shim_sockets = _shim_sockets(paths)
    if state:
        tb = Testbed(d, state)
        _remove_containers(tb, log)
        for key, name, timeout in (("docker", "dockerd", 20.0), ("containerd", "containerd", 10.0)):
            pid = state.get(key, {}).get("pid")
            if _host.belongs_to(pid, str(d)) and not _host.stop_process(pid, timeout):
                log(f"{name} (pid {pid}) did not stop")
    survivors = _host.kill_processes_of(str(d))
    for path in cgroups:
        _host.remove_cgroup(path, parents=_kube_parents(path) if path.startswith("/kubepods/") else 0)
    for sock in shim_sockets:
        Path(sock).unlink(missing_ok=True)
    _remove_pod_networks(paths, state)
    mounts = _host.unmount_under(str(d))
    if d.exists() and not mounts:
        shutil.rmtree(d, ignore_errors=True)
    problems = []
    if survivors or _host.processes_of(str(d)):
        problems.append(f"processes still alive: {sorted(set(survivors + _host.processes_of(str(d))))}")
    if mounts:
        problems.append(f"still mounted: {mounts[:5]}")
    if d.exists():
        problems.append(f"{d} could not be removed")
    if problems:
        raise TestbedError(f"down at {d} left things behind: " + "; ".join(problems))
    log(f"down in {time.monotonic() - t0:.1f}s: {d} removed, no process or mount left")


def _remove_containers(tb: Testbed, log: Callable[[str], None]) -> None:
    """Remove containers through their engines while those still answer, so runc tidies its cgroups and
    mounts. Every step is best effort and time-boxed: the sweep after it kills whatever is left."""

    def attempt(what: str, fn: Callable[[], Any]) -> None:
        try:
            fn()
        except (TestbedError, OSError, ValueError) as e:
            log(f"down: {what}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")

    def docker() -> None:
        if not _host.pid_alive(tb.state.get("docker", {}).get("pid")):
            return
        ids = tb.docker("ps", "-aq", timeout=15).stdout.split()
        if ids:
            tb.docker("rm", "-f", "-v", *ids, check=False, timeout=60)

    def podman() -> None:
        if tb.paths.podman_root.is_dir() and tb.state.get("podman"):
            tb.podman("rm", "--all", "--force", "--time", "0", check=False, timeout=60)

    def ctr() -> None:
        if not _host.pid_alive(tb.state.get("containerd", {}).get("pid")):
            return
        if "cri" in tb.state.get("containerd", {}):
            from .cri.pods import remove_all_cri_pods

            attempt("cri pods", lambda: remove_all_cri_pods(tb))  # before ctr: unpins their netns
        for ns in tb.ctr("namespaces", "ls", "-q", timeout=15).stdout.split():
            if ns in ("moby", "plugins.moby"):  # docker's own, removed through docker
                continue
            for cid in tb.ctr("containers", "ls", "-q", namespace=ns, timeout=15).stdout.split():
                tb._ctr_remove(ns, cid)

    def lxc() -> None:
        if not tb.paths.lxc.is_dir():
            return
        for name in tb.lxc("lxc-ls", "--running", "-1", timeout=15).stdout.split():
            tb.lxc("lxc-stop", "-n", name, "-k", check=False, timeout=30)

    def demo_nginx() -> None:
        pidfile = tb.paths.demo / "host-nginx.pid"
        if pidfile.exists():
            _host.stop_process(int(pidfile.read_text().split()[0]), 5)

    with ThreadPoolExecutor(max_workers=5) as pool:
        for what, fn in (
            ("docker", docker),
            ("podman", podman),
            ("ctr", ctr),
            ("lxc", lxc),
            ("demo", demo_nginx),
        ):
            pool.submit(attempt, what, fn)


def _remove_pod_networks(paths: Paths, state: Mapping[str, Any]) -> None:
    """What StopPodSandbox would have removed if the CRI could not: the pods' pinned network namespaces
    (/var/run/netns/cni-*, named in the pod records) and this testbed's CNI bridge."""
    for record in paths.kube.glob("pod-*.json"):
        with suppress(OSError, ValueError):
            netns = json.loads(record.read_text()).get("netns")
            if netns and netns.startswith("/var/run/netns/cni-") and os.path.exists(netns):
                subprocess.run(["umount", netns], capture_output=True, check=False)
                with suppress(OSError):
                    os.unlink(netns)
    bridge = state.get("containerd", {}).get("cri", {}).get("bridge")
    if bridge and os.path.exists(f"/sys/class/net/{bridge}"):
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True, check=False)


def _cgroups_of(paths: Paths) -> list[str]:
    """The cgroup paths of every container this testbed ever ran (from the OCI configs it kept, the kube
    records and the LXC names), to rmdir what a killed runc could not."""
    found: list[str] = []
    configs = [t / "config.json" for t in paths.task_dirs()]
    configs += list(paths.podman_root.glob("overlay-containers/*/userdata/config.json"))
    for config in configs:
        try:
            cg = json.loads(config.read_text()).get("linux", {}).get("cgroupsPath")
        except (OSError, ValueError):
            continue
        if cg and cg.startswith("/"):  # cgroupfs paths only; never touch a systemd slice:scope spec
            found.append(cg)
    for record in paths.kube.glob("*.json"):
        with suppress(OSError, ValueError, KeyError):
            found.append(json.loads(record.read_text())["cgroup"])
    for name in (c.name for c in paths.lxc.glob("*") if (c / "config").is_file()):
        found += [f"/lxc.payload.{name}", f"/lxc.monitor.{name}"]
    return sorted(set(found))


def _shim_sockets(paths: Paths) -> list[str]:
    """containerd keeps its shims' sockets in /run/containerd/s/<hash>; each bundle's `address` file names its
    own."""
    found = []
    for task in paths.task_dirs():
        try:
            addr = (task / "address").read_text().strip()
        except OSError:
            continue
        path = addr.removeprefix("unix://")
        if path.startswith("/run/containerd/s/"):
            found.append(path)
    return found


def status(state_dir: Path | str | None = None) -> dict[str, Any]:
    """What `python -m testbed status` prints: whether it is up, what is wrong, the containers per engine."""
    paths = Paths(state_dir or default_state_dir())
    info: dict[str, Any] = {"state_dir": str(paths.dir), "up": False}
    try:
        tb = Testbed.load(paths.dir)
    except TestbedError as e:
        info["problem"] = str(e)
        info["leftover_processes"] = _host.processes_of(str(paths.dir)) if paths.dir.exists() else []
        info["leftover_mounts"] = _host.mounts_under(str(paths.dir))
        return info
    info["up"] = True
    info["containerd_pid"] = tb.state["containerd"]["pid"]
    info["dockerd_pid"] = tb.state["docker"]["pid"]
    info["env"] = str(paths.env)
    containers: dict[str, list[str]] = {}

    def names(*args: str, engine: Callable[..., subprocess.CompletedProcess[str]], **kw: str) -> list[str]:
        try:
            return engine(*args, **kw).stdout.split()
        except TestbedError as e:
            return [f"<error: {e}>"]

    containers["docker"] = names("ps", "--format", "{{.Names}}", engine=tb.docker)
    containers["podman"] = names("ps", "--format", "{{.Names}}", engine=tb.podman)
    for ns in names("namespaces", "ls", "-q", engine=tb.ctr):
        if ns != "moby":
            containers[f"containerd/{ns}"] = names("task", "ls", "-q", engine=tb.ctr, namespace=ns)
    containers["lxc"] = names("lxc-ls", "--running", "-1", engine=tb.lxc)
    info["running"] = containers
    info["timings"] = tb.state.get("timings", {})
    return info


def _sigterm_as_exit() -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks (teardown) run when CI cancels a job."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
