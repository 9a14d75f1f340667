"""REF resolution on real Docker, Podman and LXC containers whose names and IDs clash (refs.py has the rule):
exact ID, exact name, unique prefix of a hex ID, `pid:N`; a bare number is a PID unless it is also a hex-ID
prefix; ambiguity is exit 2 listing the candidates. Before, an LXC container's name acted as an ID prefix, so
`kill z` or `inspect zz-ux` picked an LXC container that only started with those letters."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

SHOWN = 6  # candidates an ambiguity error lists (refs.SHOWN_CANDIDATES)


def ctrlens(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, check=False,
                          env=dict(os.environ))  # fmt: skip


def inspect(ref: str) -> dict:
    out = ctrlens("inspect", "-o", "json", ref)
    assert out.returncode == 0, f"inspect {ref!r}: {out.stderr}"
    record = json.loads(out.stdout)
    return record[0] if isinstance(record, list) else record


def through_first_letter(container_id: str) -> str:
    """The shortest prefix of a hex ID that is not all digits (so never read as a PID)."""
    return container_id[: next(i for i, c in enumerate(container_id) if c in "abcdef") + 1]


@pytest.fixture(scope="module")
def clash(testbed):
    """One Docker and one Podman container (random IDs); for each, a containerd container whose ID (chosen:
    `ctr run` takes it) shares its prefix through the first letter; a containerd container whose ID starts
    with "1", the host init's PID; an LXC container whose NAME starts with Docker's prefix. Chosen IDs keep the
    clashes certain: waiting for random IDs to clash failed CI once in a few runs."""
    stem = unique_name("zz-ux")
    everything = []
    try:
        docker = testbed.run_docker(f"{stem}-d", cmd=("sleep", "1000000"))
        everything.append(docker)
        podman = testbed.run_podman(f"{stem}-p", cmd=("sleep", "1000000"))
        everything.append(podman)
        prefixes = {"docker": through_first_letter(docker.id), "podman": through_first_letter(podman.id)}
        twins = {}
        for engine, prefix in prefixes.items():
            twin_id = (prefix + secrets.token_hex(32))[:64]
            twins[engine] = testbed.run_ctr(twin_id, cmd=("sleep", "1000000"))
            everything.append(twins[engine])
        digit = testbed.run_ctr(("1" + secrets.token_hex(32))[:64], cmd=("sleep", "1000000"))
        everything.append(digit)
        lxc = testbed.run_lxc(f"{prefixes['docker']}{stem}-lxc")  # its ID is its name: same start as Docker's
        everything.append(lxc)
        yield {"stem": stem, "docker": docker, "podman": podman, "prefixes": prefixes, "twins": twins,
               "digit": digit, "lxc": lxc}  # fmt: skip
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


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_shared_hex_prefix_is_an_error_listing_both_not_lxc(clash, engine):
    prefix, mine, twin = clash["prefixes"][engine], clash[engine], clash["twins"][engine]
    out = ctrlens("inspect", prefix)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    listed = re.findall(r"(\w[\w-]*) ([0-9a-f]{12}) \(", out.stderr)
    total = int(re.search(r"ambiguous: (\d+) containers have IDs starting with it", out.stderr).group(1))
    assert total >= 2 and len(listed) == min(total, SHOWN)
    assert all(short.startswith(prefix) for _, short in listed)  # only hex IDs with that prefix
    if total <= SHOWN:  # other users' containers may share a short prefix: then the list is cut at SHOWN
        assert {(engine, mine.id[:12]), ("containerd", twin.id[:12])} <= set(listed)
    assert clash["lxc"].name not in out.stderr  # a name is never matched by prefix
    assert inspect(mine.id[:12])["container"]["id"] == mine.id  # a longer prefix is unique
    assert inspect(mine.name)["container"]["id"] == mine.id  # and so is its exact name
    assert inspect(twin.id)["container"]["id"] == twin.id  # and an exact ID


def test_pid_refs(clash):
    lxc, docker = clash["lxc"], clash["docker"]
    record = inspect(f"pid:{lxc.pid}")
    assert record["kind"] == "process" and record["container"]["runtime"] == "lxc"
    assert record["process"]["pid"] == lxc.pid
    record = inspect(str(docker.pid))  # a bare number that no hex ID starts with: the PID
    assert record["kind"] == "process" and record["container"]["id"] == docker.id
    out = ctrlens("inspect", "pid:999999999")
    assert out.returncode == 3 and "no process with PID 999999999" in out.stderr


def test_number_that_is_both_a_pid_and_an_id_prefix_is_ambiguous(clash):
    number = clash["digit"].id[0]  # "1": the host init's PID, and the first digit of a containerd ID
    out = ctrlens("inspect", number)
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert f"host PID {number}" in out.stderr and f"pid:{number}" in out.stderr
    listed = re.findall(r"(\w[\w-]*) ([0-9a-f]{12}) \(", out.stderr)
    assert listed and all(short.startswith(number) for _, short in listed)
    assert inspect(f"pid:{number}")["process"]["pid"] == int(number)
