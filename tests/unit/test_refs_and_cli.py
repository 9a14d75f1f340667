"""REF resolution and the CLI's contract for bad input: one line on stderr, a documented exit code, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ctrlens.errors import AmbiguousRef, NotFound
from ctrlens.host import Host
from ctrlens.refs import resolve_ref
from ctrlens.scanner import scan
from tests.fixtures.proctree import HostTree, shim_v2, v1

A = "abc" + "1" * 61
B = "abc" + "2" * 61


@pytest.fixture
def tree(tmp_path):
    t = HostTree(tmp_path)
    t.container(
        shim=shim_v2(100, "moby", A), pid=101, comm="sleep", argv=["sleep"], cgroup=v1(f"/docker/{A}")
    )
    t.container(
        shim=shim_v2(200, "moby", B),
        pid=201,
        comm="sleep",
        argv=["sleep"],
        cgroup=v1(f"/docker/{B}"),
        pid_ns=4026532900,
    )
    t.file(f"/var/lib/docker/containers/{A}/config.v2.json", {"Name": "/alpha"})
    t.file(f"/var/lib/docker/containers/{B}/config.v2.json", {"Name": "/beta"})
    return t


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_ref_by_name_full_id_unique_prefix_and_pid(tree):
    snap = scan(Host(str(tree.root)))
    assert resolve_ref(snap, "alpha").container.id == A
    assert resolve_ref(snap, B).container.name == "beta"
    assert resolve_ref(snap, "abc2").container.id == B
    target = resolve_ref(snap, "201")
    assert target.by_pid and target.container.id == B and target.pid == 201


def test_ambiguous_prefix_lists_the_candidates(tree):
    snap = scan(Host(str(tree.root)))
    with pytest.raises(AmbiguousRef) as err:
        resolve_ref(snap, "abc")
    assert "alpha" in str(err.value) and "beta" in str(err.value)


def test_unknown_ref_says_what_was_looked_for(tree):
    snap = scan(Host(str(tree.root)))
    with pytest.raises(NotFound, match=r"exact ID, a name, a hex ID prefix.*pid:N names a process"):
        resolve_ref(snap, "gamma")


def test_cli_ambiguous_and_unknown_refs_exit_codes(tree):
    r = run_cli("--host-root", str(tree.root), "inspect", "abc")
    assert r.returncode == 2 and r.stderr.startswith("ctrlens: REF 'abc'") and r.stderr.count("\n") == 1
    r = run_cli("--host-root", str(tree.root), "inspect", "gamma")
    assert r.returncode == 3 and "Traceback" not in r.stderr


def test_host_root_that_is_not_a_host_root(tmp_path):
    r = run_cli("--host-root", str(tmp_path / "missing"), "ps")
    assert r.returncode == 2 and "no such directory" in r.stderr
    (tmp_path / "proc").mkdir()
    r = run_cli("--host-root", str(tmp_path), "ps")
    assert r.returncode == 2 and "holds no processes" in r.stderr


def test_host_root_from_environment(tree):
    env = {**os.environ, "CTRLENS_HOST_ROOT": str(tree.root)}
    out = subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", "containers", "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert sorted(c["name"] for c in json.loads(out)) == ["alpha", "beta"]


def test_no_arguments_shows_the_containers_overview(tree):
    r = run_cli("--host-root", str(tree.root))
    assert r.returncode == 0 and r.stdout.splitlines()[0].split()[:3] == ["ID", "NAME", "RUNTIME"]
    assert "alpha" in r.stdout and "beta" in r.stdout


def test_ps_host_only_and_containers_only_partition_the_processes(tree):
    base = ["--host-root", str(tree.root), "ps", "-o", "json"]
    everyone = {p["pid"] for p in json.loads(run_cli(*base).stdout)}
    host = {p["pid"] for p in json.loads(run_cli(*base, "--host-only").stdout)}
    inside = {p["pid"] for p in json.loads(run_cli(*base, "--containers-only").stdout)}
    assert inside == {101, 201} and host | inside == everyone and not host & inside


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another uid")
def test_not_root_says_once_what_it_cannot_see_and_shows_the_rest():
    # The interpreter lives under /root here, so load everything as root, then drop to nobody and run the CLI.
    script = textwrap.dedent("""
        import io, os, sys, contextlib
        from ctrlens import cli
        with contextlib.redirect_stdout(io.StringIO()):
            cli.main(["containers"]); cli.main(["ps"])
        os.setgroups([]); os.setgid(65534); os.setuid(65534)
        sys.exit(cli.main(sys.argv[1:]))
    """)
    r = subprocess.run(
        [sys.executable, "-c", script, "ps"], capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("not running as root") == 1
    assert "PID" in r.stdout.splitlines()[0] and len(r.stdout.splitlines()) > 10
