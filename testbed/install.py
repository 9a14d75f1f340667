"""`python -m testbed install`: the Debian packages the testbed needs, installed only when missing.

Never add `kubernetes-client`: it conflicts with the /usr/bin/kubectl these machines already have.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import TestbedError

PACKAGES: tuple[str, ...] = (
    # engines
    "docker.io",
    "containerd",
    "runc",
    "podman",
    "crun",
    "conmon",
    "golang-github-containers-common",
    "lxc",
    "lxc-templates",
    # containerd's CRI plugin: the CNI plugins its pods' network uses (bridge, host-local, loopback)
    "containernetworking-plugins",
    # the image (busybox rootfs, the static nginx stand-in) and what the scripts use
    "busybox-static",
    "gcc",
    "libc6-dev",
    "tar",
    "procps",
    "util-linux",
    "iproute2",
    "uidmap",
    # tools the project's tests, benchmarks and demo use
    "prometheus",
    "hyperfine",
    "tmux",
    "strace",
    # the ctrlens image test builds wheels offline with Debian's python
    "python3-pip",
    "python3-setuptools",
    "python3-wheel",
)

POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
APT_LISTS = Path("/var/lib/apt/lists")
APT_OPTS = ("-o", "DPkg::Lock::Timeout=300", "-o", "Acquire::Retries=3")


def missing(packages: Sequence[str] = PACKAGES) -> list[str]:
    """The packages of `packages` that dpkg does not report as installed."""
    res = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${db:Status-Status}\n", *packages],
        capture_output=True,
        text=True,
        check=False,
    )
    installed = {
        line.split()[0].split(":")[0] for line in res.stdout.splitlines() if line.split()[1:] == ["installed"]
    }
    return [p for p in packages if p not in installed]


@contextmanager
def _no_service_start():
    """Keep package scripts from starting the system's dockerd, containerd or lxc-net: the testbed runs its
    own. Uses the standard policy-rc.d hook, only if none is there already, and removes it afterwards."""
    created = False
    if not POLICY_RC_D.exists():
        POLICY_RC_D.write_text("#!/bin/sh\n# temporary, written by `python -m testbed install`\nexit 101\n")
        POLICY_RC_D.chmod(0o755)
        created = True
    try:
        yield
    finally:
        if created:
            POLICY_RC_D.unlink(missing_ok=True)


def _apt(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(["apt-get", *APT_OPTS, *args], env=env, capture_output=True, text=True, check=False)


def _lists_present() -> bool:
    return any(APT_LISTS.glob("*_Packages*"))


def install(packages: Sequence[str] = PACKAGES, *, log: Callable[[str], None] = print) -> list[str]:
    """Install what is missing of `packages` with apt-get (running `apt-get update` only when needed).
    Returns the packages it installed; raises TestbedError with apt's output if that fails."""
    todo = missing(packages)
    if not todo:
        log(f"testbed install: all {len(packages)} packages already installed")
        return []
    if os.geteuid() != 0:
        raise TestbedError(f"testbed install: needs root to install {' '.join(todo)}")
    log(f"testbed install: installing {' '.join(todo)}")
    with _no_service_start():
        if not _lists_present():
            log("testbed install: apt-get update (no package lists yet)")
            _apt("update")
        res = _apt("install", "-y", "--no-install-recommends", *todo)
        if res.returncode != 0:  # stale lists (404) or unknown package: refresh once and retry
            log("testbed install: apt-get install failed; apt-get update and retry")
            upd = _apt("update")
            res = _apt("install", "-y", "--no-install-recommends", *todo)
            if res.returncode != 0:
                tail = "\n".join((upd.stderr + res.stdout + res.stderr).strip().splitlines()[-25:])
                raise TestbedError(f"testbed install: apt-get install {' '.join(todo)} failed:\n{tail}")
    still = missing(packages)
    if still:
        raise TestbedError(f"testbed install: still missing after apt-get: {' '.join(still)}")
    return todo
