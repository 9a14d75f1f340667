"""`python -m testbed demo`: the article's scene on top of the testbed.

A docker container `web` runs /usr/sbin/nginx -p 80 with TOP_SECRET=API_KEY in its environment, and a HOST
process called nginx (the same static binary, copied to DIR/demo/nginx) listens on port 8081. `ps -fC nginx`
shows both; only one of them is a container. `demo-down` removes both and leaves the engines running.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import _host
from .core import Paths, Testbed, _log, default_state_dir
from .errors import TestbedError

WEB = "web"
WEB_CMD = ("/usr/sbin/nginx", "-p", "80")
WEB_ENV = "TOP_SECRET=API_KEY"
HOST_PORT = 8081


def _answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.0 200")


def demo_up(state_dir: Path | str | None = None, *, log: Callable[[str], None] = _log) -> dict[str, Any]:
    """Start the testbed if needed, then `web` and the host nginx (both reused when already running)."""
    tb = Testbed.up(state_dir, log=log)
    demo = tb.paths.demo
    demo.mkdir(exist_ok=True)

    state = tb.docker("ps", "-a", "--filter", f"name=^{WEB}$", "--format", "{{.State}}").stdout.split()
    if state and state[0] != "running":
        tb.docker("rm", "-f", WEB)
    if state and state[0] == "running":
        pid = int(tb.docker("inspect", "-f", "{{.State.Pid}}", WEB).stdout)
        cid = tb.docker("inspect", "-f", "{{.Id}}", WEB).stdout.strip()
    else:
        started = tb.run_docker(WEB, "-e", WEB_ENV, cmd=WEB_CMD)
        pid, cid = started.pid, started.id
    log(f"docker container {WEB} ({cid[:12]}): nginx master pid {pid}, env {WEB_ENV}")

    pidfile, binary, logfile = demo / "host-nginx.pid", demo / "nginx", demo / "host-nginx.log"
    host_pid = int(pidfile.read_text().split()[0]) if pidfile.exists() else 0
    if not _host.belongs_to(host_pid, str(tb.state_dir)):
        shutil.copy2(tb.paths.nginx, binary)
        with open(logfile, "ab") as out:
            proc = subprocess.Popen(
                [str(binary), "-p", str(HOST_PORT)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd="/",
            )
        host_pid = proc.pid
        pidfile.write_text(f"{host_pid}\n")
        if not _host.wait_for(lambda: proc.poll() is None and _answers(HOST_PORT), 10):
            raise TestbedError(
                f"host nginx on port {HOST_PORT} did not answer; {logfile}:\n{_host.log_tail(logfile)}"
            )
    log(f"host process nginx: pid {host_pid}, {binary} -p {HOST_PORT} (not a container)")
    info = {
        "web": {"id": cid, "pid": pid, "cmd": list(WEB_CMD), "env": WEB_ENV},
        "host_nginx": {"pid": host_pid, "binary": str(binary), "port": HOST_PORT, "log": str(logfile)},
    }
    (demo / "demo.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def demo_down(state_dir: Path | str | None = None, *, log: Callable[[str], None] = _log) -> None:
    """Remove `web` and stop the host nginx; the engines stay up."""
    paths = Paths(state_dir or default_state_dir())
    try:
        Testbed.load(paths.dir).docker("rm", "-f", WEB, check=False)
    except TestbedError as e:
        log(f"demo-down: no running testbed ({e})")
    pidfile = paths.demo / "host-nginx.pid"
    if pidfile.exists():
        pid = int(pidfile.read_text().split()[0])
        if _host.belongs_to(pid, str(paths.dir)):
            _host.signal_all([pid], signal.SIGTERM)
            if not _host.wait_for(lambda: not _host.pid_alive(pid), 5):
                _host.signal_all([pid], signal.SIGKILL)
    shutil.rmtree(paths.demo, ignore_errors=True)
    log("demo removed (web container and host nginx); the engines are still up")
