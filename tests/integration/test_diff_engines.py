"""`ctrlens diff` against real engines: the same paths and kinds as `docker diff` / `podman diff`, exactly.

Each test starts its own container, changes files through `exec … sh -c`, and compares what the engine's own
diff says with what ctrlens reads from the host alone.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time

import pytest

from testbed import unique_name

# Add, change, delete, replace directories (rm -rf then re-create: overlay makes them opaque), drop a binary.
SCENARIO = """
set -e
echo added > /root/added.txt
mkdir -p /opt/app/conf && echo x > /opt/app/conf/app.ini
echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd
rm /etc/group
rm /bin/ls
rm -rf /usr/sbin && mkdir /usr/sbin && echo new > /usr/sbin/fresh && echo z > /usr/sbin/httpd
rm -rf /usr/bin && mkdir -p /usr/bin/sub && echo > /usr/bin/wget
cp /bin/busybox /tmp/dropped-bin && chmod 755 /tmp/dropped-bin
printf '#!/bin/sh\\necho pwned\\n' > /tmp/run.sh && chmod +x /tmp/run.sh
chmod 600 /bin/busybox
"""


def ctrlens(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ctrlens_diff_json(ref: str, *args: str) -> dict:
    done = ctrlens("diff", ref, "-o", "json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def engine_diff(output: str) -> set[tuple[str, str]]:
    return {(line[0], line[2:]) for line in output.splitlines() if line.strip()}


def changes(record: dict) -> set[tuple[str, str]]:
    return {(c["kind"], c["path"]) for c in record["changes"]}


@pytest.fixture
def docker_changed(testbed):
    started = testbed.run_docker(unique_name("frn-diff"))
    try:
        testbed.docker("exec", started.id, "sh", "-c", SCENARIO)
        yield started
    finally:
        testbed.remove(started)


@pytest.fixture
def podman_changed(testbed):
    started = testbed.run_podman(unique_name("frn-diff"))
    try:
        testbed.podman("exec", started.id, "sh", "-c", SCENARIO)
        yield started
    finally:
        testbed.remove(started)


def test_docker_diff_and_ctrlens_diff_list_the_same_changes(testbed, docker_changed):
    theirs = engine_diff(testbed.docker("diff", docker_changed.id).stdout)
    record = ctrlens_diff_json(docker_changed.name)
    assert record["method"] == "overlay" and record["style"] == "docker"
    assert changes(record) == theirs
    # The scenario's landmarks, as docker reports them (so the comparison above is not vacuous).
    assert {
        ("A", "/tmp/dropped-bin"),
        ("C", "/etc/passwd"),
        ("D", "/etc/group"),
        ("D", "/bin/ls"),
        ("C", "/usr/sbin"),
        ("D", "/usr/sbin/arping"),
        ("C", "/usr/sbin/httpd"),
        ("A", "/usr/sbin/fresh"),
        ("A", "/opt/app/conf/app.ini"),
    } <= theirs


def test_podman_diff_and_ctrlens_diff_list_the_same_changes(testbed, podman_changed):
    theirs = engine_diff(testbed.podman("diff", podman_changed.id).stdout)
    record = ctrlens_diff_json(podman_changed.name)
    assert record["style"] == "podman"
    assert changes(record) == theirs
    assert {
        ("A", "/tmp/dropped-bin"),
        ("C", "/etc/passwd"),
        ("D", "/etc/group"),
        ("D", "/usr/sbin"),
        ("C", "/usr/sbin/httpd"),
        ("A", "/usr/sbin/fresh"),
    } <= theirs


def test_dropped_binary_and_script_are_flagged_first(docker_changed):
    record = ctrlens_diff_json(docker_changed.name)
    first = record["changes"][:2]
    assert {c["path"] for c in first} == {"/tmp/dropped-bin", "/tmp/run.sh"}
    assert all("new-executable" in c["flags"] for c in first)
    assert record["summary"]["new_executables"] == 2
    busybox = next(c for c in record["changes"] if c["path"] == "/bin/busybox")
    assert busybox["kind"] == "C" and "shadows-image" in busybox["flags"]
    assert busybox["info"]["mode"] == "0600" and busybox["image"]["mode"] == "0755"


def test_table_ndjson_hash_and_fail_on(testbed, docker_changed):
    table = ctrlens("diff", docker_changed.name)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:2] == ["K", "T"]
    assert "new-executable" in lines[1] and "/tmp/dropped" in lines[1]
    assert "added" in table.stderr and "deleted" in table.stderr

    nd = ctrlens("diff", docker_changed.id[:12], "-o", "ndjson", "--kind", "A", "--hash")
    records = [json.loads(line) for line in nd.stdout.splitlines()]
    assert records and all(r["kind"] == "A" and r["container"] == docker_changed.id for r in records)
    script = next(r for r in records if r["path"] == "/tmp/run.sh")
    assert script["sha256"] == hashlib.sha256(b"#!/bin/sh\necho pwned\n").hexdigest()
    assert all(r["sha256"] for r in records if r["type"] == "file")

    assert ctrlens("diff", docker_changed.name, "--fail-on", "new-executable").returncode == 1
    assert ctrlens("diff", docker_changed.name, "--kind", "D", "--fail-on", "new-executable").returncode == 0


def test_like_option_switches_conventions(testbed, docker_changed):
    as_podman = changes(ctrlens_diff_json(docker_changed.name, "--like", "podman"))
    assert ("D", "/usr/sbin") in as_podman and ("D", "/usr/sbin/arping") not in as_podman


def test_containerd_container(testbed):
    started = testbed.run_ctr(unique_name("frn-diff"))
    try:
        testbed.ctr(
            "task",
            "exec",
            "--exec-id",
            unique_name("x"),
            started.id,
            "sh",
            "-c",
            "cp /bin/busybox /tmp/dropped-bin; chmod 755 /tmp/dropped-bin; rm /etc/group; "
            "echo x >> /etc/passwd",
        )
        record = ctrlens_diff_json(started.id)
        assert record["method"] == "overlay"
        found = changes(record)
        assert {("A", "/tmp/dropped-bin"), ("D", "/etc/group"), ("C", "/etc/passwd")} <= found
        assert (
            "new-executable" in next(c for c in record["changes"] if c["path"] == "/tmp/dropped-bin")["flags"]
        )
    finally:
        testbed.remove(started)


def test_lxc_plain_rootfs_is_a_heuristic_and_says_so(testbed):
    started = testbed.run_lxc(unique_name("frn-diff"))
    try:
        time.sleep(1.1)  # let the init's own start-up writes settle before ours
        testbed.lxc(
            "lxc-attach",
            "-n",
            started.name,
            "--",
            "sh",
            "-c",
            "echo hi > /root/new.txt; cp /bin/busybox /tmp/dropped-bin; chmod 755 /tmp/dropped-bin",
        )
        done = ctrlens("diff", started.name, "-o", "json")
        assert done.returncode == 0, done.stderr
        record = json.loads(done.stdout)
        assert record["method"] == "mtime-ctime" and record["since"]
        paths = {c["path"]: c for c in record["changes"]}
        assert paths["/root/new.txt"]["kind"] == "M"
        assert "new-executable" in paths["/tmp/dropped-bin"]["flags"]
        assert any("deleted files cannot be seen" in note for note in record["limitations"])
        assert not any(p.startswith(("/proc/", "/sys/")) or p in ("/proc", "/sys") for p in paths)
        table = ctrlens("diff", started.name)
        assert "heuristic" in table.stderr and "deleted files cannot be seen" in table.stderr
    finally:
        testbed.remove(started)


def test_unknown_ref_is_one_line_and_exit_3():
    done = ctrlens("diff", "frn-no-such-container-anywhere")
    assert done.returncode == 3
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


# An image with a deep tree (committed from a container: no pulls), then changes deep in it: podman marks every
# ancestor of an A or D as C (not only the parent), docker every directory above any change.
DEEP_IMAGE_TREE = """
set -e
mkdir -p /deep/a/b/c/d/e /deep/x/y/z/old-dir /deep/w/v/u
echo k > /deep/a/b/c/keep && echo g > /deep/a/b/c/gone && echo f > /deep/a/b/c/d/e/f1
echo o > /deep/x/y/z/old-dir/f && echo u > /deep/w/v/u/file
"""
DEEP_CHANGES = """
set -e
touch /usr/bin/newfile
rm /deep/a/b/c/gone
rm -rf /deep/x/y/z/old-dir && mkdir /deep/x/y/z/old-dir && echo n > /deep/x/y/z/old-dir/new
rm -rf /deep/a/b/c/d && echo now-a-file > /deep/a/b/c/d
mkdir -p /deep/a/n1/n2/n3 && echo > /deep/a/n1/n2/n3/added
rm -rf /deep/w/v
"""


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_engine_diff_equals_ctrlens_on_deep_adds_deletes_and_replaced_directories(testbed, engine):
    cli = testbed.docker if engine == "docker" else testbed.podman
    run = testbed.run_docker if engine == "docker" else testbed.run_podman
    image = f"localhost/ctrlens-deep:{unique_name('img')}"
    base = run(unique_name("frn-deepbase"))
    try:
        cli("exec", base.id, "sh", "-c", DEEP_IMAGE_TREE)
        cli("commit", base.id, image)
    finally:
        testbed.remove(base)
    started = run(unique_name("frn-deep"), image=image)
    try:
        cli("exec", started.id, "sh", "-c", DEEP_CHANGES)
        theirs = engine_diff(cli("diff", started.id).stdout)
        record = ctrlens_diff_json(started.name)
        assert record["style"] == engine
        assert changes(record) == theirs
        # the shapes are there (so the equality is not vacuous), and the ancestor rule shows for podman
        assert {
            ("A", "/usr/bin/newfile"),
            ("C", "/usr/bin"),
            ("C", "/usr"),
            ("D", "/deep/a/b/c/gone"),
            ("A", "/deep/a/n1/n2/n3/added"),
            ("C", "/deep/a/b"),
            ("C", "/deep/a"),
            ("C", "/deep"),
        } <= theirs
        assert ("D", "/deep/w/v") in theirs
        if engine == "podman":
            assert ("D", "/deep/x/y/z/old-dir") in theirs and ("C", "/deep/x/y") in theirs
        else:
            assert ("C", "/deep/x/y/z/old-dir") in theirs and ("D", "/deep/x/y/z/old-dir/f") in theirs
    finally:
        testbed.remove(started)
        cli("rmi", "-f", image, check=False)
