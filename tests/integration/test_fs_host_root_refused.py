"""`fs` never treats the host's root as a container's: a private pid namespace without its own root (what a
local user's `unshare -p` makes, listed as runtime unknown) and a host process are refused, exit 4."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest


def ctrlens(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def unshared_pid() -> int:
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "sleep", "1000"])
    child = None
    try:
        deadline = time.time() + 5
        while time.time() < deadline and child is None:
            kids = subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
            child = int(kids[0]) if kids else None
            time.sleep(0.05)
        assert child is not None
        yield child
    finally:
        proc.kill()
        proc.wait()


def test_a_namespace_with_the_host_root_is_not_reachable_through_fs(unshared_pid: int) -> None:
    marker = Path("/") / f"ctrlens-host-root-{uuid.uuid4().hex[:8]}"
    ls = ctrlens("fs", "ls", f"pid:{unshared_pid}", "/")
    assert ls.returncode == 4 and "host's root filesystem" in ls.stderr, ls.stderr
    assert ls.stdout == ""
    touch = ctrlens("fs", "touch", f"pid:{unshared_pid}", str(marker))
    assert touch.returncode == 4, touch.stderr
    assert not marker.exists()


def test_a_host_process_is_refused_too() -> None:
    sleeper = subprocess.Popen([shutil.which("sleep") or "sleep", "1000"])
    try:
        r = ctrlens("fs", "cat", f"pid:{sleeper.pid}", "/etc/hostname")
        assert r.returncode == 4 and "host's root filesystem" in r.stderr, r.stderr
        assert r.stdout == "" and os.uname().nodename not in r.stdout
    finally:
        sleeper.kill()
        sleeper.wait()
