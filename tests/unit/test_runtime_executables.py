"""runtimes/executables.py on live processes: the executable is proven by its inode on the host, not its name."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest

from ctrlens.host import Host
from ctrlens.runtimes.executables import exe_matches_kind, is_candidate, verified_exe

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="reads other processes' exe links and chowns files")

SLEEP = shutil.which("sleep") or "/bin/sleep"


def exe_of(proc: subprocess.Popen[bytes]) -> str | None:
    dirfd = os.open(f"/proc/{proc.pid}", os.O_RDONLY | os.O_DIRECTORY)
    try:
        return verified_exe(dirfd, Host(), live=True)
    finally:
        os.close(dirfd)


@pytest.fixture
def run():
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str]) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(argv)
        started.append(proc)
        time.sleep(0.1)  # let it exec
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def test_root_owned_host_binary_is_proven(run):
    assert exe_of(run([SLEEP, "30"])) == os.path.realpath(SLEEP)


def test_a_users_copy_of_a_binary_is_not_proven(run, tmp_path):
    copy = tmp_path / "conmon"
    shutil.copy(SLEEP, copy)
    os.chown(copy, 65534, 65534)
    assert exe_of(run([str(copy), "30"])) is None


def test_root_owned_but_group_writable_binary_is_not_proven(run, tmp_path):
    copy = tmp_path / "conmon"
    shutil.copy(SLEEP, copy)
    copy.chmod(0o775)
    assert exe_of(run([str(copy), "30"])) is None


def test_binary_replaced_since_start_still_proven_when_roots_and_on_the_same_filesystem(run, tmp_path):
    copy = tmp_path / "containerd-shim-runc-v2"
    shutil.copy(SLEEP, copy)
    copy.chmod(0o755)
    proc = run([str(copy), "30"])
    copy.unlink()  # as a package upgrade does
    assert exe_of(proc) == str(copy)


def test_same_path_in_another_mount_namespace_is_not_proven(run, tmp_path):
    # What a container's own /usr/bin/conmon looks like from the host: the link text names a host path, and a
    # root-owned file is there, but the process runs another inode (its own mount namespace's file).
    shadowed = tmp_path / "bin"
    shadowed.mkdir()
    shutil.copy(SLEEP, shadowed / "conmon")
    (shadowed / "conmon").chmod(0o755)
    script = f"mount -t tmpfs none {shadowed} && cp {SLEEP} {shadowed}/conmon && exec {shadowed}/conmon 30"
    proc = run(["unshare", "-m", "--propagation", "private", "sh", "-c", script])
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not os.readlink(f"/proc/{proc.pid}/exe").endswith("/conmon"):
        time.sleep(0.05)
    assert os.readlink(f"/proc/{proc.pid}/exe") == f"{shadowed}/conmon"  # the text alone would pass
    assert exe_of(proc) is None


def test_names_only_make_candidates_and_kinds_need_the_right_binary():
    assert is_candidate("containerd-shim", ["whatever"]) and is_candidate(
        "x", ["[lxc monitor] /var/lib/lxc a"]
    )
    assert is_candidate("dockerd", []) and not is_candidate("nginx", ["nginx"])
    assert exe_matches_kind("/usr/bin/containerd-shim-runc-v2", "containerd-shim")
    assert not exe_matches_kind("/usr/bin/sleep", "conmon")
    assert exe_matches_kind("/usr/bin/lxc-start", "lxc-monitor")
