"""A hostile fake container root on the host, with host marker files OUTSIDE it, for the rootfs unit tests.

Layout under a tmp dir T:
  T/host/             host-only markers: secret, victim, hostdir/hostfile (must never be read, listed or changed)
  T/root/             the fake container root:
    etc/passwd, etc/group, etc/shadow, etc/hostname (container data, different from any host file)
    abs_host -> T/host/secret          (absolute link to a host-only path: must be ENOENT inside)
    abs_etc -> /etc/hostname           (absolute link to a path on both sides: must give the container's file)
    rel -> ../../../../../../../../etc/hostname    ('..' beyond the root: clamped at the root)
    dirlink -> T/host/hostdir          (exists on both sides: root/T/host/hostdir has ctrfile)
    reldir -> ../../../../../host      (relative dir link climbing out)
    chain1 -> chain2 -> chain3 -> /etc/shadow; loop1 <-> loop2
    victim -> T/host/victim            (write target that a naive tool would follow onto the host)
    magic_self -> /proc/self/root/etc/hostname, magic_one -> /proc/1/root/etc/hostname (with proc mounted)
    fifo, null (c 1 3), kmsg (c 1 11), sock (unix socket)
    hard_shadow (hard link to etc/shadow)
    names/ with b"new\\nline", b"\\xff\\xfe-bin", b"tab\\there", b"-dash"
    deep/ nested past PATH_MAX
    proc/ a procfs mount (when mounting works)
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

HOST_SECRET = b"HOST-SECRET-MARKER\n"
HOST_VICTIM = b"HOST-VICTIM-ORIGINAL\n"
HOST_DIR_FILE = b"HOST-DIR-FILE\n"
CTR_HOSTNAME = b"CONTAINER-HOSTNAME\n"
CTR_SHADOW = b"ctruser:CONTAINER-SHADOW-MARKER:19000::::::\n"
CTR_DIR_FILE = b"CONTAINER-DIR-FILE\n"
ODD_NAMES = (b"new\nline", b"\xff\xfe-bin", b"tab\there", b"-dash", b" lead space")
DEEP_LEVELS = 24  # 24 x 200-byte names: a path past PATH_MAX (4096)
DEEP_NAME = b"d" * 200


@dataclass
class Tree:
    base: Path
    host: Path
    root: Path
    proc_mounted: bool

    @property
    def root_b(self) -> bytes:
        return os.fsencode(self.root)


def _sock(path: Path) -> None:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.bind(str(path))
    finally:
        s.close()


def build(base: Path, *, with_proc: bool = True) -> Tree:
    host, root = base / "host", base / "root"
    (host / "hostdir").mkdir(parents=True)
    (host / "secret").write_bytes(HOST_SECRET)
    (host / "victim").write_bytes(HOST_VICTIM)
    (host / "hostdir" / "hostfile").write_bytes(HOST_DIR_FILE)

    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_bytes(
        b"root:x:0:0:root:/root:/bin/sh\nctruser:x:1000:1001::/home:/bin/sh\n"
    )
    (root / "etc" / "group").write_bytes(b"root:x:0:\nctrgroup:x:1001:\n")
    (root / "etc" / "shadow").write_bytes(CTR_SHADOW)
    (root / "etc" / "hostname").write_bytes(CTR_HOSTNAME)
    mirror = root / str(host / "hostdir").lstrip("/")
    mirror.mkdir(parents=True)
    (mirror / "ctrfile").write_bytes(CTR_DIR_FILE)
    (root / "tmp").mkdir(exist_ok=True)

    links = {
        "abs_host": str(host / "secret"),
        "abs_etc": "/etc/hostname",
        "rel": "../../../../../../../../etc/hostname",
        "dirlink": str(host / "hostdir"),
        "reldir": "../../../../../host",
        "chain1": "chain2",
        "chain2": "/chain3",
        "chain3": "etc/../etc/shadow",
        "loop1": "loop2",
        "loop2": "loop1",
        "victim": str(host / "victim"),
        "victim_rel": "../../../../../../" + str(host / "victim").lstrip("/"),
        "magic_self": "/proc/self/root/etc/hostname",
        "magic_one": "/proc/1/root/etc/hostname",
        "magic_fd": "/proc/self/fd/0",
        "etclink": "/etc",
    }
    for name, target in links.items():
        os.symlink(target, root / name)
    os.mkfifo(root / "fifo")
    os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.mknod(root / "kmsg", stat.S_IFCHR | 0o600, os.makedev(1, 11))
    _sock(root / "sock")
    os.link(root / "etc" / "shadow", root / "hard_shadow")

    names = os.fsencode(root / "names")
    os.mkdir(names)
    for name in ODD_NAMES:
        with open(os.path.join(names, name), "wb") as f:
            f.write(b"odd:" + name)
    _make_deep(root)

    proc_mounted = False
    if with_proc:
        (root / "proc").mkdir()
        proc_mounted = mount("-t", "proc", "proc", root / "proc")
    return Tree(base, host, root, proc_mounted)


def mount(*args: object) -> bool:
    """`mount ARGS…` (we are root in the test VM); False when the kernel says no."""
    return subprocess.run(["mount", *map(str, args)], check=False, capture_output=True).returncode == 0


def umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def _make_deep(root: Path) -> None:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    os.mkdir(b"deep", dir_fd=fd)
    cur = os.open(b"deep", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    for _ in range(DEEP_LEVELS):
        os.mkdir(DEEP_NAME, dir_fd=cur)
        nxt = os.open(DEEP_NAME, os.O_RDONLY | os.O_DIRECTORY, dir_fd=cur)
        os.close(cur)
        cur = nxt
    leaf = os.open(b"bottom.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=cur)
    os.write(leaf, b"DEEP-BOTTOM\n")
    os.close(leaf)
    os.close(cur)


def fixture(tmp_path: Path):  # a pytest fixture body: `tree = pytest.fixture(rootfs_tree.fixture)`
    tree = build(tmp_path)
    try:
        yield tree
    finally:
        teardown(tree)


def teardown(tree: Tree) -> None:
    if tree.proc_mounted:
        umount(tree.root / "proc")
        tree.proc_mounted = False


def state(top: Path, *, exclude: tuple[str, ...] = ()) -> dict[bytes, tuple]:
    """Everything about a host tree that a leak or a write could change (lstat + content hash), never following,
    fd-relative (trees may be deeper than PATH_MAX)."""
    out: dict[bytes, tuple] = {}
    top_b = os.fsencode(top)
    skip = {os.fsencode(x) for x in exclude}
    for dirpath, dirnames, filenames, dirfd in os.fwalk(top_b):
        rel_dir = os.path.relpath(dirpath, top_b)
        dirnames[:] = [d for d in dirnames if os.path.normpath(os.path.join(rel_dir, d)) not in skip]
        for name in dirnames + filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel in skip:
                continue
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            digest: object = None
            if stat.S_ISREG(st.st_mode):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dirfd)
                with os.fdopen(fd, "rb") as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                digest = os.readlink(name, dir_fd=dirfd)
            out[rel] = (st.st_mode, st.st_uid, st.st_gid, st.st_size, st.st_mtime_ns, st.st_nlink, digest)
    return out


def host_intact(tree: Tree) -> None:
    """The host markers are exactly as built."""
    assert (tree.host / "secret").read_bytes() == HOST_SECRET
    assert (tree.host / "victim").read_bytes() == HOST_VICTIM
    assert sorted(os.listdir(tree.host)) == ["hostdir", "secret", "victim"]
    assert os.listdir(tree.host / "hostdir") == ["hostfile"]
    assert (tree.host / "hostdir" / "hostfile").read_bytes() == HOST_DIR_FILE
    assert not os.path.islink(tree.host / "victim")
