"""Shared by the `ctrlens fs` integration tests: the CLI, host marker files, a shell-less image, a hang guard."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import signal
import stat
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

NOSHELL_DOCKER = "ctrlens-noshell:fs"
NOSHELL_PODMAN = "localhost/ctrlens-noshell:fs"
BUSYBOX = "/usr/bin/busybox"


def ctrlens(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """The installed `ctrlens`, as a user runs it (bytes out: names and tar streams are not text)."""
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run(
        [exe, *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        check=False,
        stdin=None if input is not None else subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def no_hang(seconds: int) -> Iterator[None]:
    """Fail instead of hanging (a FIFO or device opened by mistake would block forever)."""

    def boom(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds}s: something blocked")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class HostMarkers:
    """Host-only files a container's links point at. `intact()` proves none was read-into, changed or added."""

    dir: Path
    baseline: dict[str, tuple] | None = None

    SECRET = b"HOST-SECRET-MARKER\n"
    VICTIM = b"HOST-VICTIM-ORIGINAL\n"
    HOSTONLY = b"HOST-ONLY-MARKER\n"
    HOSTFILE = b"HOST-DIR-FILE\n"

    @classmethod
    def make(cls) -> HostMarkers:
        d = Path(f"/tmp/ctrlens-fs-host-{secrets.token_hex(4)}")
        (d / "hostdir").mkdir(parents=True)
        (d / "secret").write_bytes(cls.SECRET)
        (d / "victim").write_bytes(cls.VICTIM)
        (d / "HOSTONLY").write_bytes(cls.HOSTONLY)
        (d / "hostdir" / "hostfile").write_bytes(cls.HOSTFILE)
        markers = cls(d)
        markers.baseline = markers.state()
        return markers

    def state(self) -> dict[str, tuple]:
        out = {}
        for dirpath, dirnames, filenames in os.walk(self.dir):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                st = os.lstat(p)
                digest = (
                    hashlib.sha256(Path(p).read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
                )
                out[os.path.relpath(p, self.dir)] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
        return out

    def intact(self) -> None:
        assert self.state() == self.baseline, "a HOST marker file was changed, added or removed"

    def leaked(self, data: bytes) -> bool:
        """Does `data` carry any host marker?"""
        return any(m.strip() in data for m in (self.SECRET, self.VICTIM, self.HOSTONLY, self.HOSTFILE))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def noshell_rootfs_tar(workdir: Path) -> Path:
    """A rootfs with NO shell: only /sleep and /ls (busybox copies: busybox runs the applet named by argv[0])."""
    root = workdir / "noshell-root"
    (root / "etc").mkdir(parents=True)
    (root / "tmp").mkdir()
    (root / "tmp").chmod(0o1777)
    shutil.copy2(BUSYBOX, root / "sleep")
    os.link(root / "sleep", root / "ls")
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/:/sleep\nwww:x:33:33::/:/sleep\n")
    (root / "etc" / "group").write_text("root:x:0:\nwww:x:33:\n")
    (root / "etc" / "app.conf").write_text("listen = 80\nworkers = 2\n")
    out = workdir / "noshell.tar"
    with tarfile.open(out, "w") as tar:

        def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info

        tar.add(root, arcname=".", filter=owned_by_root)
    return out


def has_shell(testbed, engine: str, name: str) -> bool:
    run = testbed.docker if engine == "docker" else testbed.podman
    return run("exec", name, "sh", "-c", "true", check=False).returncode == 0
