"""`ctrlens --host-root DIR ps` names a real container's user from DIR/etc/passwd, as the DaemonSet (`/host`)
needs: the passwd of the machine ctrlens runs on does not know the uid, the host root's does."""

from __future__ import annotations

import json
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

import testbed as tb

pytestmark = pytest.mark.integration

UID = 4321


def _ps(*args: str) -> dict[int, dict[str, object]]:
    exe = shutil.which("ctrlens") or "ctrlens"
    done = subprocess.run(
        [exe, *args, "ps", "-o", "json"], capture_output=True, text=True, timeout=60, check=True
    )
    return {r["pid"]: r for r in json.loads(done.stdout)}


def test_host_root_passwd_names_a_container_user(testbed, tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        pwd.getpwuid(UID)  # the premise: this machine has no name for the uid
    started = testbed.run_docker(tb.unique_name("acct"), "--user", f"{UID}:{UID}")
    try:
        root = tmp_path / "host"
        (root / "etc").mkdir(parents=True)
        (root / "proc").symlink_to("/proc")  # the node's /proc, as a DaemonSet's hostPath mount shows it
        (root / "etc/passwd").write_text(f"root:x:0:0::/root:/bin/sh\nnode-app:x:{UID}:{UID}::/:/bin/sh\n")
        here = _ps()[started.pid]
        there = _ps("--host-root", str(root))[started.pid]
        assert here["uid"] == there["uid"] == UID
        assert here["user"] == str(UID)
        assert there["user"] == "node-app"
        assert there["container"] is not None  # attributed from the cgroup, as without --host-root
    finally:
        testbed.remove(started)
