"""REF resolution on real Docker, Podman and LXC containers whose names and IDs clash (refs.py has the rule):
exact ID, exact name, unique prefix of a hex ID, `pid:N`; a bare number is a PID unless it is also a hex-ID
prefix; ambiguity is exit 2 listing the candidates. Before, an LXC container's name acted as an ID prefix, so
`kill z` or `inspect zz-ux` picked an LXC container that only started with those letters."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

SHOWN = 6  # candidates an ambiguity error lists (refs.SHOWN_CANDIDATES)
MAX_STARTS = 10  # containers per engine while looking for the clashes below
LIVE_ONE_DIGIT_PIDS = {d for d in "123456789" if os.path.isdir(f"/proc/{d}")}  # kernel threads, the host init


def ctrlens(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ))  # fmt: skip


def inspect(ref: str) -> dict:
    out = ctrlens("inspect", "-o", "json", ref)
    assert out.returncode == 0, f"inspect {ref!r}: {out.stderr}"
    record = json.loads(out.stdout)
    return record[0] if isinstance(record, list) else record


@pytest.fixture(scope="module")
def clash(testbed):
    """Docker and Podman containers until one of each shares the first hex digit of its ID (0 or a-f: not a
    PID) and one ID starts with a one-digit PID that exists, plus an LXC container whose NAME starts with
    that shared digit."""
    stem = unique_name("zz-ux")
    started: dict[str, list] = {"docker": [], "podman": []}
    everything = []
    try:
        shared = digit = None
        for i in range(MAX_STARTS):
            for engine, run in (("docker", testbed.run_docker), ("podman", testbed.run_podman)):
                s = run(f"{stem}-{engine[0]}{i}", cmd=("sleep", "1000000"))
                started[engine].append(s)
                everything.append(s)
            firsts = {s.id[0] for s in started["docker"]} & {s.id[0] for s in started["podman"]}
            firsts -= set("123456789")  # those are PIDs too: test_number_that_is_both… covers them
            digits = [s for s in everything if s.id[0] in LIVE_ONE_DIGIT_PIDS]
            if firsts and digits:
                shared, digit = sorted(firsts)[0], digits[0]
                break
        assert shared is not None, "no shared first hex digit after MAX_STARTS containers per engine"
        lxc = testbed.run_lxc(f"{shared}{stem}-lxc")  # its ID is its name: starts with the shared digit too
        everything.append(lxc)
        yield {"stem": stem, "shared": shared, "digit": digit, "lxc": lxc, **started}
    finally:
        for s in everything:
            testbed.remove(s)


def test_name_prefix_is_not_an_id_prefix(clash):
    stem, lxc = clash["stem"], clash["lxc"]
    out = ctrlens("inspect", stem)  # every container's NAME starts with it; no ID does
    assert out.returncode == 3 and out.stderr.count("\n") == 1, out.stderr
    assert "no container matches" in out.stderr and "pid:N" in out.stderr
    out = ctrlens("kill", "z", "--dry-run")
    assert out.returncode == 3, out.stdout + out.stderr  # before: the LXC container zz-… as an ID prefix
    assert inspect(lxc.name)["container"]["runtime"] == "lxc"  # its exact name (= its ID) still works


def test_shared_hex_prefix_is_an_error_listing_docker_and_podman_not_lxc(clash):
    shared = clash["shared"]
    out = ctrlens("inspect", shared)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    clashing = [s for engine in ("docker", "podman") for s in clash[engine] if s.id.startswith(shared)]
    listed = re.findall(r"(\w[\w-]*) ([0-9a-f]{12}) \(", out.stderr)
    total = int(re.search(r"ambiguous: (\d+) containers have IDs starting with it", out.stderr).group(1))
    assert total >= len(clashing) >= 2 and len(listed) == min(total, SHOWN)
    assert all(short.startswith(shared) for _, short in listed)  # only hex IDs with that prefix
    if total <= SHOWN:  # other users' containers may share one hex digit: then the list is cut at SHOWN
        assert {(s.runtime, s.id[:12]) for s in clashing} <= set(listed)
    assert clash["lxc"].name not in out.stderr  # a name is never matched by prefix
    one = clashing[0]
    assert inspect(one.id[:12])["container"]["id"] == one.id  # a longer prefix is unique
    assert inspect(one.name)["container"]["id"] == one.id  # and so is its exact name


def test_pid_refs(clash):
    lxc, docker = clash["lxc"], clash["docker"][0]
    record = inspect(f"pid:{lxc.pid}")
    assert record["kind"] == "process" and record["container"]["runtime"] == "lxc"
    assert record["process"]["pid"] == lxc.pid
    record = inspect(str(docker.pid))  # a bare number that no hex ID starts with: the PID
    assert record["kind"] == "process" and record["container"]["id"] == docker.id
    out = ctrlens("inspect", "pid:999999999")
    assert out.returncode == 3 and "no process with PID 999999999" in out.stderr


def test_number_that_is_both_a_pid_and_an_id_prefix_is_ambiguous(clash):
    digit = clash["digit"]
    number = digit.id[0]  # a live one-digit PID (a kernel thread, or the host init)
    out = ctrlens("inspect", number)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"host PID {number}" in out.stderr and f"pid:{number}" in out.stderr
    listed = re.findall(r"(\w[\w-]*) ([0-9a-f]{12}) \(", out.stderr)
    assert listed and all(short.startswith(number) for _, short in listed)
    assert inspect(f"pid:{number}")["process"]["pid"] == int(number)
