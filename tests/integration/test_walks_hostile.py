"""Tree shapes and file sizes a hostile container uses against `diff`, `snapshot` and `fs cp`, on real engines.

* Depth: a 3,000-level directory chain with a binary dropped at the bottom, ctrlens run under `ulimit -n 1024`
  (prlimit): `diff` lists the binary, `snapshot` records it.
* Size: a 1 TiB sparse file: `fs cp` makes a sparse copy (under 1 MiB on disk), `diff --hash` finishes and
  says it hashed only part of it.
* SIGTERM in the middle of a multi-GB copy leaves no temp file behind.
* Tar streams with names longer than any header field round-trip.
* Privilege: a user-namespaced Podman container's setuid file copied with `fs cp -a` is neither root-owned nor
  setuid on the host; run by an unprivileged user it gives no euid 0.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

DEPTH = 3000


def ctrlens(*args: str, nofile: int = 1024, timeout: float = 300, **kw) -> subprocess.CompletedProcess[bytes]:
    """ctrlens as a user runs it, under the usual `ulimit -n 1024`."""
    return subprocess.run(
        ["prlimit", f"--nofile={nofile}:{nofile}", sys.executable, "-m", "ctrlens.cli", *args],
        capture_output=True,
        timeout=timeout,
        check=False,
        **kw,
    )


PLANT = f"""
set -e
# bottom-up (wrap the chain in one more level each time): no path ever gets longer than a few names
mkdir /w && cd /w && mkdir d && cp /bin/busybox d/dropped && chmod 755 d/dropped
i=1
while [ $i -lt {DEPTH} ]; do mkdir n; mv d n/d; mv n d; i=$((i+1)); done
mv /w/d /tmp/d && rmdir /w
truncate -s 1099511627776 /sparse-tib
printf 'DATA-AT-1G' | dd of=/sparse-tib bs=1M seek=1024 conv=notrunc 2>/dev/null
"""


@pytest.fixture(scope="module", params=["docker", "podman"])
def deep(testbed, request):
    run = testbed.run_docker if request.param == "docker" else testbed.run_podman
    cli = testbed.docker if request.param == "docker" else testbed.podman
    started = run(unique_name("walks-deep"))
    try:
        cli("exec", started.id, "sh", "-c", PLANT, timeout=300)
        yield started
    finally:
        testbed.remove(started)


BOTTOM = "/tmp" + "/d" * DEPTH + "/dropped"


def test_diff_under_1024_fds_lists_a_binary_dropped_3000_levels_down(deep):
    done = ctrlens("diff", deep.name, "-o", "json")
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    dropped = next(c for c in record["changes"] if c["path"] == BOTTOM)
    assert dropped["kind"] == "A" and "new-executable" in dropped["flags"]
    assert record["summary"]["new_executables"] >= 1
    assert not record["warnings"]


def test_snapshot_under_1024_fds_records_the_deep_binary(deep, tmp_path):
    bundle = tmp_path / "deep.tar.gz"
    done = ctrlens("snapshot", deep.name, "-o", str(bundle), "--no-files")
    if done.returncode == 2:  # no --no-files option: capture files too
        done = ctrlens("snapshot", deep.name, "-o", str(bundle))
    assert done.returncode == 0, done.stderr[-2000:]
    with tarfile.open(bundle) as tar:
        diff = json.loads(tar.extractfile("diff.json").read())
    assert "error" not in diff
    paths = {c["path"]: c for c in diff["changes"]}
    assert BOTTOM in paths and "new-executable" in paths[BOTTOM]["flags"]


@pytest.fixture
def small_disk(tmp_path):
    """A 256 MiB tmpfs as the destination: a copy that wrote zeros would fill it, never the host's disk."""
    where = tmp_path / "small"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_fs_cp_of_a_sparse_terabyte_is_sparse(deep, small_disk):
    start = time.monotonic()
    done = ctrlens("fs", "cp", f"{deep.name}:/sparse-tib", str(small_disk / "copy"), timeout=120)
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr
    st = os.stat(small_disk / "copy")
    assert st.st_size == 1 << 40
    assert st.st_blocks * 512 < 1 << 20, f"{st.st_blocks * 512} bytes on disk"
    with open(small_disk / "copy", "rb") as f:
        f.seek(1 << 30)
        assert f.read(10) == b"DATA-AT-1G"
    print(f"fs cp of a 1 TiB sparse file: {took:.2f}s, {st.st_blocks * 512} bytes on disk")


def test_fs_cp_refuses_what_does_not_fit_and_says_the_rule(testbed, small_disk):
    started = testbed.run_docker(unique_name("walks-fit"))
    try:
        testbed.docker("exec", started.id, "dd", "if=/dev/urandom", "of=/data", "bs=1M", "count=200")
        done = ctrlens("fs", "cp", f"{started.name}:/data", str(small_disk / "data"))
        assert done.returncode == 4
        err = done.stderr.decode()
        assert "refusing to copy /data: 200.0 MiB of data" in err and "reserve of 64.0 MiB" in err
        assert len(err.splitlines()) == 1 and os.listdir(small_disk) == []
    finally:
        testbed.remove(started)


def test_diff_hash_of_a_sparse_terabyte_is_capped_and_says_so(deep):
    start = time.monotonic()
    done = ctrlens("diff", deep.name, "--hash", "-o", "json")
    took = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-2000:]
    record = json.loads(done.stdout)
    sparse = next(c for c in record["changes"] if c["path"] == "/sparse-tib")
    assert sparse["sha256"] and sparse["sha256_bytes"] == 256 << 20
    assert any("/sparse-tib" in line and "in part" in line for line in record["limitations"])
    dropped = next(c for c in record["changes"] if c["path"] == BOTTOM)
    assert dropped["sha256_bytes"] == dropped["info"]["size"]  # small files: whole
    print(f"diff --hash with a 1 TiB sparse file and a 3000-level chain: {took:.2f}s")


def test_sigterm_during_a_big_copy_leaves_no_temp_file(testbed, tmp_path):
    started = testbed.run_docker(unique_name("walks-big"))
    try:
        testbed.docker(
            "exec", started.id, "dd", "if=/dev/urandom", "of=/big", "bs=1M", "count=2048", timeout=300
        )
        dest = tmp_path / "dest"
        dest.mkdir()
        proc = subprocess.Popen(
            [sys.executable, "-m", "ctrlens.cli", "fs", "cp", f"{started.name}:/big", str(dest / "big")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not any(n.startswith(".ctrlens-") for n in os.listdir(dest)):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGTERM  # it still dies of the signal, after cleaning up
        assert os.listdir(dest) == []
    finally:
        testbed.remove(started)


def test_tar_streams_with_long_names_round_trip(testbed, tmp_path):
    started = testbed.run_docker(unique_name("walks-tar"))
    long_a, long_b = "a" * 200, "b" * 250
    try:
        testbed.docker(
            "exec",
            started.id,
            "sh",
            "-c",
            f"mkdir -p /src/{long_a}/{long_a} && echo hi > /src/{long_a}/{long_a}/{long_b}",
        )
        out = ctrlens("fs", "cp", f"{started.name}:/src", "-")
        assert out.returncode == 0, out.stderr
        back = ctrlens("fs", "cp", "-", f"{started.name}:/tmp", input=out.stdout)
        assert back.returncode == 0, back.stderr
        got = testbed.docker("exec", started.id, "cat", f"/tmp/src/{long_a}/{long_a}/{long_b}").stdout
        assert got == "hi\n"
        # a member no filesystem can hold (a 300-byte name) fails alone, and the rest is written and said so
        bad = tmp_path / "bad.tar"
        with tarfile.open(bad, "w", format=tarfile.PAX_FORMAT) as tar:
            for name in ("first", "n" * 300, "last"):
                info = tarfile.TarInfo(name)
                info.size = 2
                tar.addfile(info, io.BytesIO(b"ok"))
        done = ctrlens("fs", "cp", "-", f"{started.name}:/tmp", input=bad.read_bytes())
        assert done.returncode == 4
        said = done.stdout.decode() + done.stderr.decode()
        assert "n" * 300 in said and "extracted 2 files" in said and "could not write 1" in said
        assert testbed.docker("exec", started.id, "cat", "/tmp/first", "/tmp/last").stdout == "okok"
    finally:
        testbed.remove(started)


# --- copies never mint privilege ------------------------------------------------------------------------------


@pytest.fixture
def userns_setuid(testbed):
    """A Podman container whose root is host uid 100000, holding a setuid-root (in its view) copy of `id`."""
    started = testbed.run_podman(
        unique_name("walks-userns"), "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"
    )
    try:
        testbed.podman("cp", shutil.which("id") or "/usr/bin/id", f"{started.id}:/suid-id")
        testbed.podman("exec", started.id, "chmod", "6755", "/suid-id")
        yield started
    finally:
        testbed.remove(started)


def test_cp_a_from_a_user_namespaced_container_mints_no_root(userns_setuid, testbed):
    upper = Path("/proc") / str(userns_setuid.pid) / "root" / "suid-id"
    src = os.stat(upper)
    assert (src.st_uid, src.st_mode & 0o6000) == (100000, 0o6000)  # the planted file, as the host sees it
    dest = Path(f"/tmp/walks-suid-{os.getpid()}")
    dest.mkdir(mode=0o755)
    try:
        done = ctrlens("fs", "cp", "-a", f"{userns_setuid.name}:/suid-id", str(dest / "id"))
        assert done.returncode == 0, done.stderr
        st = os.stat(dest / "id")
        assert (st.st_uid, st.st_gid) == (100000, 100000)  # the host owner, not the container's 0
        assert st.st_mode & 0o6000 == 0
        assert "/suid-id: setuid+setgid dropped" in done.stderr.decode()
        ran = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(dest / "id")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "euid=0" not in ran.stdout and "egid=0" not in ran.stdout and "uid=65534" in ran.stdout

        # --keep-setid keeps the bit only with the host owner: setuid 100000, still never root
        kept = ctrlens("fs", "cp", "-a", "--keep-setid", f"{userns_setuid.name}:/suid-id", str(dest / "kept"))
        assert kept.returncode == 0, kept.stderr
        st = os.stat(dest / "kept")
        assert (st.st_uid, st.st_mode & 0o6000) == (100000, 0o6000)
        ran = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(dest / "kept")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "euid=100000" in ran.stdout and "euid=0" not in ran.stdout
    finally:
        shutil.rmtree(dest)
