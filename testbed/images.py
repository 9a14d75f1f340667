"""The one image every engine runs: a busybox-static rootfs plus the static `nginx` stand-in (nginx.c).

No image can be pulled here, so the rootfs is built from the host's busybox-static and imported into each
engine: `docker import` and `podman import` take the tarball, containerd takes `docker save` (see
core.Testbed._start).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from .errors import TestbedError

NGINX_SOURCE = Path(__file__).with_name("nginx.c")
PAUSE_SOURCE = Path(__file__).with_name("pause.c")
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\n"


def busybox_path() -> Path:
    """The host's static busybox (dynamic builds would not run in a rootfs without a libc)."""
    for candidate in BUSYBOX_CANDIDATES:
        path = Path(candidate)
        if path.is_file() and not _has_interpreter(path):
            return path
    raise TestbedError(
        "no static busybox found (apt-get install busybox-static, or: python -m testbed install)"
    )


def _has_interpreter(path: Path) -> bool:
    """True if the 64-bit little-endian ELF `path` has a PT_INTERP header, i.e. is dynamically linked."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return True  # not an ELF64 we understand: do not trust it
        phoff = int.from_bytes(head[0x20:0x28], "little")
        phentsize = int.from_bytes(head[0x36:0x38], "little")
        phnum = int.from_bytes(head[0x38:0x3A], "little")
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(int.from_bytes(table[i : i + 4], "little") == 3 for i in range(0, len(table), phentsize))


def compile_nginx(out: Path) -> Path:
    """gcc -static -O2 testbed/nginx.c -> `out` (a binary called nginx, so ps shows `nginx`)."""
    return _compile_static(NGINX_SOURCE, out)


def compile_pause(out: Path) -> Path:
    """gcc -static -O2 testbed/pause.c -> `out`: the pod sandbox's process."""
    return _compile_static(PAUSE_SOURCE, out)


def pause_tar(pause: Path, out: Path) -> Path:
    """The sandbox image's rootfs: /pause alone, owned by root (for `docker import`)."""
    subprocess.run(
        [
            "tar",
            "-C",
            str(pause.parent),
            "--numeric-owner",
            "--owner=0",
            "--group=0",
            "--transform",
            f"s|^{pause.name}$|pause|",
            "-cf",
            str(out),
            pause.name,
        ],
        check=True,
        capture_output=True,
    )
    return out


def _compile_static(source: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = ["gcc", "-static", "-O2", "-s", "-o", str(out), str(source)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise TestbedError("gcc not found: python -m testbed install (installs gcc and libc6-dev)") from None
    if res.returncode != 0:
        raise TestbedError(f"compiling {source.name} failed ({' '.join(cmd)}):\n{res.stderr.strip()}")
    return out


def build_rootfs(rootfs: Path, nginx: Path) -> Path:
    """A minimal rootfs: /bin/busybox and a link for every applet, /usr/sbin/nginx, /etc/passwd with root and
    nobody, a sticky /tmp. Returns `rootfs`."""
    busybox = busybox_path()
    if rootfs.exists():
        shutil.rmtree(rootfs)
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "root",
        "tmp",
        "var/log",
        "run",
        "proc",
        "sys",
        "dev",
    ):
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox, rootfs / "bin/busybox")
    applets = subprocess.run([str(busybox), "--list-full"], capture_output=True, text=True, check=True).stdout
    for rel in applets.split():
        link = rootfs / rel.lstrip("/")
        if link.name == "busybox" or os.path.lexists(link):
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")
    shutil.copy2(nginx, rootfs / "usr/sbin/nginx")
    (rootfs / "etc/passwd").write_text(PASSWD)
    (rootfs / "etc/group").write_text(GROUP)
    (rootfs / "tmp").chmod(0o1777)
    (rootfs / "root").chmod(0o700)
    return rootfs


def rootfs_tar(rootfs: Path, out: Path) -> Path:
    """Tar the rootfs owned by root, as `docker import` and `podman import` want it."""
    subprocess.run(
        ["tar", "-C", str(rootfs), "--numeric-owner", "--owner=0", "--group=0", "-cf", str(out), "."],
        check=True,
        capture_output=True,
    )
    return out
