"""Crafted host roots (issue 13): `--host-root DIR` is the DaemonSet's view, and whoever controls DIR controls every
byte ctrlens reads there. Garbage fields, FIFOs, symlink loops, devices, huge files and deep JSON, built under
tmp and fuzzed with Hypothesis: `ctrlens --host-root DIR ps/containers/audit/secrets -o json`, each under a
subprocess timeout, must finish, never exit 70 (an internal error), and print valid UTF-8 JSON when it succeeds."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.proctree import HostTree, shim_v2, v1

COMMANDS = (("ps",), ("containers",), ("audit",), ("secrets",))
DOCUMENTED_EXITS = {0, 1, 2, 3, 4, 5}
TIMEOUT = 60  # generous on a loaded machine; a FIFO read without O_NONBLOCK hangs for ever
CID = hashlib.sha256(b"web").hexdigest()
PROC_FILES = ("stat", "status", "cmdline", "cgroup", "environ", "mountinfo", "uid_map", "gid_map")
PIDS = (100, 101, 102)  # the shim, the container's init and its worker


def ctrlens(root: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    cmd = [sys.executable, "-m", "ctrlens.cli", "--host-root", str(root), *args]
    try:
        return subprocess.run(
            cmd, capture_output=True, timeout=TIMEOUT, check=False, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung: {' '.join(args)} on {root}")


def check_run(root: Path, args: tuple[str, ...]) -> subprocess.CompletedProcess[bytes]:
    res = ctrlens(root, *args, "-o", "json")
    stderr = res.stderr.decode("utf-8", "replace")
    assert res.returncode in DOCUMENTED_EXITS, f"{args}: exit {res.returncode}: {stderr[-500:]}"
    assert "Traceback" not in stderr, stderr[-2000:]
    if res.returncode in (0, 1):
        json.loads(res.stdout.decode("utf-8"))  # strict UTF-8, valid JSON
    else:
        assert stderr.strip(), f"{args}: exit {res.returncode} without a word"
    return res


def base_tree(root: Path) -> HostTree:
    """A docker container (shim, init, one worker) with the runtime's metadata, as the fixture trees have."""
    tree = HostTree(root)
    tree.container(
        shim=shim_v2(100, "moby", CID),
        pid=101,
        comm="sleep",
        argv=["sleep", "1d"],
        cgroup=v1(f"/docker/{CID}"),
        workers=1,
    )
    tree.file(
        f"/var/lib/docker/containers/{CID}/config.v2.json",
        {"Name": "/web", "Config": {"Image": "bb:1", "Env": ["A=1"]}},
    )
    for pid in PIDS:
        proc = root / "proc" / str(pid)
        (proc / "environ").write_bytes(b"PATH=/bin\0API_TOKEN=ghp_" + b"Zq8x" * 9 + b"\0")
        (proc / "mountinfo").write_text("1 0 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n")
        (proc / "uid_map").write_text("         0          0 4294967295\n")
        (proc / "gid_map").write_text("         0          0 4294967295\n")
    return tree


def replace(path: Path) -> Path:
    if path.is_symlink() or path.exists():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return path


def fifo(path: Path, _: bytes) -> None:
    os.mkfifo(replace(path))


def symlink_loop(path: Path, _: bytes) -> None:
    os.symlink(path.name, replace(path))


def symlink_to_device(path: Path, _: bytes) -> None:
    os.symlink("/dev/zero", replace(path))


def directory(path: Path, _: bytes) -> None:
    replace(path).mkdir()


def garbage(path: Path, data: bytes) -> None:
    replace(path).write_bytes(data)


def huge(path: Path, data: bytes) -> None:
    """Several MiB, over every cap (1 MiB for a command line): the output must not carry it whole."""
    with replace(path).open("wb") as f:
        chunk = (data or b"A") * (65536 // max(1, len(data or b"A")) + 1)
        for _ in range(3 * (1 << 20) // len(chunk) + 1):
            f.write(chunk)


def id_garbage(path: Path, data: bytes) -> None:
    """status with ids that are not ids: `NSpid: 101 zz`, `Uid: x`, a short Gid."""
    text = data.decode("latin-1")
    replace(path).write_text(f"Name:\tsleep\nUid:\t{text}\nGid:\t0\nNSpid:\t101\t{text}\nPPid:\t-\n")


MUTATIONS = {
    "fifo": fifo,
    "loop": symlink_loop,
    "device": symlink_to_device,
    "directory": directory,
    "garbage": garbage,
    "huge": huge,
    "ids": id_garbage,
}

mutation = st.tuples(
    st.sampled_from(PIDS),
    st.sampled_from((*PROC_FILES, "ns/pid", "ns/mnt")),
    st.sampled_from(sorted(MUTATIONS)),
    st.binary(min_size=0, max_size=200),
)


@settings(
    max_examples=int(os.environ.get("CTRLENS_FUZZ_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(mutation, min_size=1, max_size=4))
def test_crafted_proc_trees_never_hang_crash_or_corrupt_json(mutations):
    root = Path(tempfile.mkdtemp(prefix="ctrlens-crafted-"))
    try:
        base_tree(root)
        for pid, name, kind, data in mutations:
            MUTATIONS[kind](root / "proc" / str(pid) / name, data)
        for args in COMMANDS:
            check_run(root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("name", PROC_FILES)
def test_a_fifo_in_place_of_any_proc_file_does_not_hang(tmp_path, name):
    base_tree(tmp_path)
    for pid in PIDS:
        fifo(tmp_path / "proc" / str(pid) / name, b"")
    for args in COMMANDS:
        check_run(tmp_path, args)


def test_a_100_mb_command_line_is_cut_and_said_to_be(tmp_path):
    base_tree(tmp_path)
    with (tmp_path / "proc/101/cmdline").open("wb") as f:
        for _ in range(100):
            f.write(b"A" * (1 << 20))
    res = check_run(tmp_path, ("ps",))
    assert len(res.stdout) < 3 << 20  # not 100 MB copied into the output
    rows = {row["pid"]: row for row in json.loads(res.stdout)}
    assert 101 in rows and len(rows[101]["argv"][0]) == 1 << 20
    assert b"command line longer than 1 MiB, cut" in res.stderr


def test_garbage_ids_in_status_are_no_internal_error(tmp_path):
    base_tree(tmp_path)
    for pid in PIDS:
        (tmp_path / "proc" / str(pid) / "status").write_text(
            "Name:\tx\nUid:\tx y\nGid:\t0\nNSpid:\t101\tzz\n"
        )
    for args in (*COMMANDS, ("inspect", "web"), ("env", "web")):
        check_run(tmp_path, args)


def test_an_unreadable_process_is_one_warning_and_the_rest_still_listed(tmp_path):
    base_tree(tmp_path)
    fifo(tmp_path / "proc/102/stat", b"")
    res = check_run(tmp_path, ("ps",))
    pids = {row["pid"] for row in json.loads(res.stdout)}
    assert {100, 101} <= pids and 102 not in pids
    warnings = [ln for ln in res.stderr.decode().splitlines() if "process 102" in ln]
    assert len(warnings) == 1 and "not a regular file" in warnings[0]


@pytest.mark.parametrize("kind", ["deep", "fifo", "huge"])
def test_crafted_runtime_metadata_is_no_hang_and_no_internal_error(tmp_path, kind):
    """The runtime's own files live under the same crafted root (their reader is the attribution layer's)."""
    base_tree(tmp_path)
    meta = tmp_path / f"var/lib/docker/containers/{CID}/config.v2.json"
    if kind == "deep":
        meta.write_text("[" * 200_000 + "]" * 200_000)
    elif kind == "fifo":
        fifo(meta, b"")
    else:
        huge(meta, b'{"Name": "/web", "x": "')
    for args in COMMANDS:
        check_run(tmp_path, args)
