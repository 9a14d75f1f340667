"""The article's steps with `ctrlens fs`, on REAL containers: list the root of a container whose image has no shell,
touch a file and see it with `docker exec … ls` / `podman exec … ls`, edit a config file non-interactively and see
the change inside; plus the user-namespace owner rule and the bind-mounted /etc/hosts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fs_helpers import NOSHELL_DOCKER, NOSHELL_PODMAN, ctrlens, has_shell, no_hang, noshell_rootfs_tar

from testbed import unique_name

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def noshell_images(testbed, tmp_path_factory):
    tar = noshell_rootfs_tar(tmp_path_factory.mktemp("noshell"))
    testbed.docker("import", str(tar), NOSHELL_DOCKER)
    testbed.podman("import", str(tar), NOSHELL_PODMAN)
    yield
    testbed.docker("rmi", "-f", NOSHELL_DOCKER, check=False)
    testbed.podman("rmi", "-f", NOSHELL_PODMAN, check=False)


@pytest.fixture
def started(testbed):
    made = []

    def start(engine: str, *opts: str, image: str | None = None, cmd=("/sleep", "1000000")):
        run = testbed.run_docker if engine == "docker" else testbed.run_podman
        kw = {"cmd": cmd}
        if image:
            kw["image"] = image
        c = run(unique_name(f"fs-{engine}"), *opts, **kw)
        made.append(c)
        return c

    yield start
    for c in made:
        testbed.remove(c)


def _exec(testbed, engine: str, name: str, *argv: str) -> str:
    run = testbed.docker if engine == "docker" else testbed.podman
    return run("exec", name, *argv).stdout


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_article_steps_on_an_image_without_a_shell(testbed, noshell_images, started, engine: str) -> None:
    image = NOSHELL_DOCKER if engine == "docker" else NOSHELL_PODMAN
    c = started(engine, image=image)
    assert not has_shell(testbed, engine, c.name)  # `docker exec … sh` is impossible here

    with no_hang(120):
        # sudo ls /proc/PID/root  ->  ctrlens fs ls
        r = ctrlens("fs", "ls", c.name, "/")
        assert r.returncode == 0, r.stderr
        names = r.stdout.decode().split("\n")
        assert {"etc/", "ls", "sleep", "tmp/"} <= set(names)
        assert any(n.startswith("proc/  [mount: proc") for n in names)

        # touch a file from the host, then the engine's own exec sees it
        r = ctrlens("fs", "touch", c.name, "/tmp/from-the-host")
        assert r.returncode == 0, r.stderr
        assert (
            r.stdout.decode()
            == f"created /tmp/from-the-host in {c.name} ({engine} {c.id[:12]}), owner 0:0 mode 0644\n"
        )
        assert "from-the-host" in _exec(testbed, engine, c.name, "/ls", "-l", "/tmp")

        # edit a config file with EDITOR set to a script; the change is seen inside
        editor = Path(testbed.paths.dir) / f"fs-editor-{c.name}.sh"
        editor.write_text('#!/bin/sh\nsed -i "s/workers = 2/workers = 8/" "$1"\n')
        editor.chmod(0o755)
        try:
            r = ctrlens("fs", "edit", c.name, "/etc/app.conf", env={"EDITOR": str(editor), "VISUAL": ""})
        finally:
            editor.unlink()
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().startswith("replaced /etc/app.conf in ")
        assert "owner 0:0 mode 0644" in r.stdout.decode()
        assert ctrlens("fs", "cat", c.name, "/etc/app.conf").stdout == b"listen = 80\nworkers = 8\n"
        listing = _exec(testbed, engine, c.name, "/ls", "-l", "/etc/app.conf")
        assert listing.startswith("-rw-r--r--") and " root " in listing

        # owners come from the container's own /etc/passwd
        testbed_name = c.name
        ctrlens("fs", "touch", "--owner", "www", testbed_name, "/tmp/www-file")
        records = json.loads(ctrlens("fs", "ls", testbed_name, "/tmp", "-o", "json").stdout)
        www = next(rec for rec in records if rec["name"] == "www-file")
        assert (www["uid"], www["user"], www["group"]) == (33, "www", "www")


def test_user_namespaced_container_gets_files_owned_by_its_root(testbed, started) -> None:
    c = started(
        "podman", "--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536", cmd=("sleep", "1000000")
    )
    with no_hang(120):
        r = ctrlens("fs", "touch", c.name, "/tmp/userns-file")
        assert r.returncode == 0, r.stderr
        assert "owner 0:0" in r.stdout.decode()
        assert (
            testbed.podman("exec", c.name, "stat", "-c", "%u:%g", "/tmp/userns-file").stdout.strip() == "0:0"
        )
        # container root can write it (a host-root-owned file would be 65534 and read-only for it)
        testbed.podman("exec", c.name, "sh", "-c", "echo ok >> /tmp/userns-file")
        record = json.loads(ctrlens("fs", "stat", c.name, "/tmp/userns-file", "-o", "json").stdout)
        assert (record["uid"], record["host_uid"]) == (0, 100000)
        src = Path(testbed.paths.dir) / f"fs-userns-{c.name}"
        src.write_bytes(b"from host\n")
        try:
            r = ctrlens("fs", "cp", str(src), f"{c.name}:/tmp/copied")
        finally:
            src.unlink()
        assert r.returncode == 0 and "owner 0:0" in r.stdout.decode()
        assert testbed.podman("exec", c.name, "stat", "-c", "%u:%g", "/tmp/copied").stdout.strip() == "0:0"


def test_editing_docker_bind_mounted_hosts_keeps_the_mount(testbed, started) -> None:
    c = started("docker", cmd=("sleep", "1000000"))
    hosts_file = json.loads(testbed.docker("inspect", c.id).stdout)[0]["HostsPath"]
    editor = Path(testbed.paths.dir) / f"fs-hosts-editor-{c.name}.sh"
    editor.write_text('#!/bin/sh\necho "10.9.8.7 added-by-ctrlens" >> "$1"\n')
    editor.chmod(0o755)
    with no_hang(120):
        try:
            r = ctrlens("fs", "edit", c.name, "/etc/hosts", env={"EDITOR": str(editor), "VISUAL": ""})
        finally:
            editor.unlink()
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith(
        "overwrote in place /etc/hosts"
    )  # a rename would detach docker's file
    assert "added-by-ctrlens" in testbed.docker("exec", c.name, "cat", "/etc/hosts").stdout
    assert "added-by-ctrlens" in Path(hosts_file).read_text()  # still the file docker manages
    r = ctrlens("fs", "ls", c.name, "/etc", "-l")
    assert "hosts  [mount: ext4" in r.stdout.decode()
    r = ctrlens("fs", "rm", c.name, "/etc/hosts")
    assert r.returncode == 4 and b"mount point" in r.stderr
