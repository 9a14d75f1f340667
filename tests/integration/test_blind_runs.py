"""Never blind and green (issue 13): as an unprivileged host user (uid 65534 through setpriv) on real testbed
containers, `secrets --fail-on` and `audit --fail-on low` cannot read what they need and must exit 5 with a
one-line reason, never 0; `exec` that cannot enter the container's namespaces exits 5 and never runs the program
(on the host or anywhere): a marker file the program would write stays absent. Root runs are the controls."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from nobody import nobody_argv

from testbed import unique_name

pytestmark = pytest.mark.integration

EXE = shutil.which("ctrlens") or "ctrlens"
SECRET = "ghp_" + "Zq8x" * 9  # a GitHub token format: found by `secrets` when it can read the environment
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--"]  # for shell probes


def ctrlens(*args: str, as_nobody: bool = False, warm: list[list[str]] | None = None):
    cmd = nobody_argv(*args, warm=warm) if as_nobody else [EXE, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False, cwd="/")


def reason(res: subprocess.CompletedProcess[str]) -> str:
    lines = res.stderr.strip().splitlines()
    assert lines and "Traceback" not in res.stderr, res.stderr
    return lines[-1]


@pytest.fixture(scope="module")
def target(testbed):
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to run as uid 65534")
    started = testbed.run_docker(unique_name("blind"), "-e", f"API_TOKEN={SECRET}")
    try:
        yield started
    finally:
        testbed.remove(started)


@pytest.fixture
def marker_dir():
    """A directory uid 65534 can write to (pytest's tmp_path sits under a 0700 dir), checked to be so."""
    path = Path(tempfile.mkdtemp(prefix="ctrlens-blind-", dir="/tmp"))
    path.chmod(0o1777)
    probe = path / "probe"
    subprocess.run([*NOBODY, "sh", "-c", f"echo ok > {probe}"], check=True, timeout=30)
    assert probe.read_text() == "ok\n"  # so an absent marker means the program did not run
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_secrets_fail_on_as_root_finds_the_secret(target):
    res = ctrlens("secrets", target.name, "--fail-on", "-o", "json")
    assert res.returncode == 1, res.stderr  # the control: readable, found, gate fails with 1


@pytest.mark.parametrize("level", [None, "error"])
def test_secrets_fail_on_as_nobody_exits_5_not_0(target, level):
    args = ["secrets", "--fail-on"] + ([level] if level else [])
    res = ctrlens(*args, as_nobody=True)
    assert res.returncode == 5, (res.returncode, res.stderr)
    assert "permission denied" in reason(res) and "container processes" in reason(res)


def test_secrets_without_fail_on_as_nobody_still_says_it_read_nothing(target):
    res = ctrlens("secrets", "-o", "json", as_nobody=True)
    assert res.returncode == 5 and "could read none" in reason(res)


def test_audit_fail_on_low_as_nobody_exits_5_whatever_it_found(target):
    res = ctrlens("audit", "--fail-on", "low", "-o", "json", as_nobody=True)
    assert res.returncode == 5, (res.returncode, res.stderr)
    assert "permission denied" in reason(res)


def test_audit_as_root_is_not_blind(target):
    res = ctrlens("audit", target.name, "--fail-on", "high")
    assert res.returncode in (0, 1), res.stderr


def test_exec_as_nobody_refuses_and_never_runs_the_program(target, marker_dir):
    marker = marker_dir / "ran"
    program = f"readlink /proc/self/ns/net /proc/self/ns/mnt > {marker}"
    warm = [["exec", target.id[:12], "-q", "--", "true"]]
    res = ctrlens("exec", target.id[:12], "--", "sh", "-c", program, as_nobody=True, warm=warm)
    assert res.returncode == 5, (res.returncode, res.stderr)
    assert "refusing" in reason(res) or "permission" in reason(res).lower()
    assert not marker.exists(), f"the program ran: {marker.read_text()!r}"


def test_exec_as_nobody_with_every_namespace_refuses_too(target, marker_dir):
    marker = marker_dir / "ran"
    warm = [["exec", target.id[:12], "--ns", "all", "-q", "--", "true"]]
    res = ctrlens(
        "exec",
        target.id[:12],
        "--ns",
        "all",
        "--",
        "/bin/sh",
        "-c",
        f"echo x > {marker}",
        as_nobody=True,
        warm=warm,
    )
    assert res.returncode == 5 and not marker.exists(), res.stderr


def test_exec_as_root_runs_in_the_containers_namespace(target, marker_dir):
    """The control for the marker: as root the program runs, in the container's net namespace, not the host's."""
    marker = marker_dir / "ran"
    res = ctrlens("exec", target.name, "-q", "--", "sh", "-c", f"readlink /proc/self/ns/net > {marker}")
    assert res.returncode == 0, res.stderr
    assert marker.read_text().strip() != os.readlink("/proc/self/ns/net")


def test_the_reason_is_one_line_without_traceback(target):
    res = ctrlens("audit", "--fail-on", "high", as_nobody=True)
    assert res.returncode == 5
    assert len(reason(res)) < 300 and sys.getdefaultencoding()
