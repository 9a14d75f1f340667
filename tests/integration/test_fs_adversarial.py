"""`ctrlens fs` against hostile REAL containers. Every case checks the HOST marker files afterwards.

Planted inside a docker container (default caps include MKNOD): absolute, relative and directory symlinks to host
paths, chains, /proc/self/root and /proc/1/root magic links, device nodes made with mknod (the host's /dev/loop0
and /dev/kmsg numbers), a FIFO, a unix socket, hard links, names with newlines and non-UTF-8 bytes, paths deeper
than PATH_MAX; then a file and a directory swapped for symlinks in a tight loop while the tool reads, copies and
writes through them thousands of times, a hostile tar, a container stopping mid-write, a full host disk.
Zero escapes and zero hangs: every call runs under a timeout.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from fs_helpers import HostMarkers, ctrlens, no_hang

from ctrlens.rootfs import (
    ContainerRoot,
    ContainerStopped,
    Openat2Resolver,
    WalkResolver,
    copy_out,
    write_file,
)
from ctrlens.rootfs.atomic import TEMP_PREFIX
from testbed import unique_name

pytestmark = pytest.mark.integration

DEEP = "d" * 200


def _plant_script(m: Path) -> str:
    return f"""
set -e
M={m}
mkdir -p $M/hostdir /data /names
echo CONTAINER-HOSTONLY > $M/HOSTONLY
echo CONTAINER-DIR-FILE > $M/hostdir/ctrfile
ln -s $M/secret /x
ln -sf $M/victim /etc/motd
ln -s ../../../../../../../..$M/secret /rel
ln -s /etc /etcl
ln -s $M/hostdir /data/dirlink
ln -s ../../../../../../..$M /data/reldir
ln -s c2 /c1; ln -s /c3 /c2; ln -s etc/../etc/passwd /c3
ln -s l2 /l1; ln -s l1 /l2
ln -s /proc/self/root$M/secret /magicself
ln -s /proc/1/root/etc/passwd /magic1
mkfifo /fifo
mknod /kmsg c 1 11
mknod /vda b 7 0
mknod /null2 c 1 3
ln /etc/passwd /hardpasswd
touch "/names/$(printf 'new\\nline')" "/names/$(printf '\\377\\376bin')" "/names/$(printf 'tab\\there')"
echo PLANTED
"""


def _make_deep(top: str) -> None:
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    for _ in range(24):
        os.mkdir(DEEP, dir_fd=fd)
        nxt = os.open(DEEP, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
        os.close(fd)
        fd = nxt
    leaf = os.open("bottom.txt", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=fd)
    os.write(leaf, b"DEEP-BOTTOM\n")
    os.close(leaf)
    os.close(fd)


@pytest.fixture(scope="module")
def markers():
    m = HostMarkers.make()
    yield m
    m.remove()


@pytest.fixture(scope="module")
def hostile(testbed, markers):
    c = testbed.run_docker(unique_name("fs-hostile"))
    try:
        out = testbed.docker("exec", c.name, "sh", "-c", _plant_script(markers.dir)).stdout
        assert "PLANTED" in out
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(f"/proc/{c.pid}/root/sock")  # test setup: a listening-less unix socket inside the container
        sock.close()
        _make_deep(f"/proc/{c.pid}/root/data")  # busybox cd cannot go past PATH_MAX: build it fd-relative
        yield c
    finally:
        testbed.remove(c)


@pytest.fixture(autouse=True)
def _guard(markers):
    with no_hang(600):
        yield
    markers.intact()


def _container_passwd(testbed, c) -> bytes:
    return testbed.docker("exec", c.name, "cat", "/etc/passwd").stdout.encode()


READS = {
    "/x": 3,
    "/etc/motd": 3,
    "/rel": 3,
    "/data/dirlink/hostfile": 3,
    "/data/reldir/secret": 3,
    "/magicself": 3,
    "/l1": 4,
    "/magic1": 4,
    "/fifo": 4,
    "/kmsg": 4,
    "/vda": 4,
    "/null2": 4,
    "/sock": 4,
    "/proc/kmsg": 4,
    "/proc/1/environ": 4,
}
READ_OK = {
    "/etcl/passwd": "passwd",
    "/c1": "passwd",
    "/hardpasswd": "passwd",
    "/../../../../../etc/passwd": "passwd",
    "/data/dirlink/ctrfile": b"CONTAINER-DIR-FILE\n",
    "/data/reldir/HOSTONLY": b"CONTAINER-HOSTONLY\n",
}


@pytest.mark.parametrize("resolver", ["openat2", "walk"])
def test_reads_never_reach_the_host(testbed, hostile, markers, resolver: str) -> None:
    env = {"CTRLENS_RESOLVER": resolver}  # walk: the fallback for kernels/seccomp policies without openat2
    passwd = _container_passwd(testbed, hostile)
    for path, code in READS.items():
        r = ctrlens("fs", "cat", hostile.name, path, timeout=60, env=env)
        assert r.returncode == code, (path, r.stderr)
        assert r.stdout == b"" and not markers.leaked(r.stderr), path
        assert r.stderr.count(b"\n") == 1 and b"Traceback" not in r.stderr, path
    for path, expected in READ_OK.items():
        r = ctrlens("fs", "cat", hostile.name, path, env=env)
        assert r.returncode == 0, (path, r.stderr)
        assert r.stdout == (passwd if expected == "passwd" else expected), path
    r = ctrlens("fs", "cat", hostile.name, "/vda", env=env)
    assert r.stderr == b"ctrlens: refusing to read /vda: block device\n"


def test_listing_describes_links_and_devices_without_following(hostile, markers) -> None:
    r = ctrlens("fs", "ls", hostile.name, "/", "-l")
    out = r.stdout.decode()
    assert f"x -> {markers.dir}/secret" in out and "magicself -> /proc/self/root" in out
    assert "7, 0" in out and "1, 11" in out
    records = json.loads(ctrlens("fs", "ls", hostile.name, "/", "-R", "-a", "-o", "json").stdout)
    paths = {rec["path"] for rec in records}
    assert "/data/dirlink" in paths and "/etcl" in paths
    assert not any(
        p.startswith(("/data/dirlink/", "/data/reldir/", "/etcl/", "/proc/", "/sys/")) for p in paths
    )
    assert any(p.endswith("/bottom.txt") and len(p) > 4096 for p in paths)
    stat = json.loads(ctrlens("fs", "stat", hostile.name, "/data/dirlink", "-o", "json").stdout)
    assert stat["type"] == "symlink" and stat["link_target"] == f"{markers.dir}/hostdir"


def test_copy_and_tar_out_carry_no_host_data(hostile, markers, tmp_path: Path) -> None:
    r = ctrlens("fs", "cp", "-r", f"{hostile.name}:/", str(tmp_path / "all"))
    assert r.returncode == 0, r.stderr
    for dirpath, _dirs, files, dirfd in os.fwalk(tmp_path / "all"):
        for name in files:
            st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            assert st.st_mode & 0o170000 not in (0o020000, 0o060000, 0o010000, 0o140000), (dirpath, name)
            if st.st_mode & 0o170000 == 0o100000:
                fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
                with os.fdopen(fd, "rb") as f:
                    assert not markers.leaked(f.read()), (dirpath, name)
    assert os.readlink(tmp_path / "all" / "x") == f"{markers.dir}/secret"
    with open(os.path.join(os.fsencode(tmp_path / "all" / "names"), b"\xff\xfebin"), "rb") as f:
        assert f.read() == b""
    assert (tmp_path / "all" / "names" / "new\nline").exists()

    r = ctrlens("fs", "cp", f"{hostile.name}:/", "-")
    assert r.returncode == 0, r.stderr
    assert not markers.leaked(r.stdout)
    with tarfile.open(fileobj=io.BytesIO(r.stdout), encoding="utf-8", errors="surrogateescape") as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["./vda"].isblk() and members["./vda"].size == 0
    assert "./names/\udcff\udcfebin" in members

    assert ctrlens("fs", "cp", "-L", f"{hostile.name}:/x", str(tmp_path / "x")).returncode == 3
    assert ctrlens("fs", "cp", f"{hostile.name}:/vda", str(tmp_path / "vda")).returncode == 4
    assert not (tmp_path / "x").exists() and not (tmp_path / "vda").exists()


def test_writes_never_touch_the_host(testbed, hostile, markers, tmp_path: Path) -> None:
    src = tmp_path / "payload"
    src.write_bytes(b"WRITTEN-BY-CTRLENS\n")
    for dest in ("/etc/motd", "/x", "/data/dirlink/new", "/rel"):
        r = ctrlens("fs", "cp", str(src), f"{hostile.name}:{dest}")
        assert r.returncode == 0, (dest, r.stderr)
    assert ctrlens("fs", "cp", str(src), f"{hostile.name}:/data/reldir/new").returncode == 0
    assert ctrlens("fs", "touch", hostile.name, "/data/dirlink/touched").returncode == 0
    assert ctrlens("fs", "mkdir", "-p", hostile.name, "/data/reldir/a/b").returncode == 0
    for special in ("/fifo", "/kmsg", "/vda", "/sock"):
        r = ctrlens("fs", "cp", str(src), f"{hostile.name}:{special}")
        assert r.returncode == 4 and b"refusing to replace" in r.stderr, special
    # What a naive tool would have written on the host landed inside the container instead.
    inside = testbed.docker(
        "exec",
        hostile.name,
        "sh",
        "-c",
        f"cat {markers.dir}/victim {markers.dir}/secret {markers.dir}/hostdir/new",
    ).stdout
    assert inside == "WRITTEN-BY-CTRLENS\n" * 3
    assert ctrlens("fs", "rm", hostile.name, "/data/dirlink").returncode == 0
    assert ctrlens("fs", "rm", "-r", "--yes", hostile.name, "/etcl").returncode == 0
    assert testbed.docker("exec", hostile.name, "cat", "/etc/passwd").stdout.startswith("root:")


def test_hostile_tar_into_the_container(testbed, hostile, markers) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(name: str, data: bytes | None = None, **attrs: object) -> None:
            info = tarfile.TarInfo(name)
            for k, v in attrs.items():
                setattr(info, k, v)
            info.size = len(data) if data is not None else 0
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        add(f"../../../../../../..{markers.dir}/pwned-dotdot", b"x")
        add(f"{markers.dir}/pwned-abs", b"x")
        add("hostlink", type=tarfile.SYMTYPE, linkname=str(markers.dir))
        add("hostlink/pwned-link", b"x")
        add("up", type=tarfile.SYMTYPE, linkname="../../../../../../..")
        add("up/pwned-up", b"x")
        add("hl", type=tarfile.LNKTYPE, linkname=f"{markers.dir}/secret")
        add("kmsg", type=tarfile.CHRTYPE, devmajor=1, devminor=11)
        add("loop0", type=tarfile.BLKTYPE, devmajor=7, devminor=0)
        add("ok.txt", b"fine\n")
    testbed.docker("exec", hostile.name, "mkdir", "-p", "/tardest")
    r = ctrlens("fs", "cp", "-", f"{hostile.name}:/tardest", input=buf.getvalue())
    assert r.returncode == 4 and b"refused" in r.stderr, r.stderr
    listing = testbed.docker("exec", hostile.name, "find", "/tardest").stdout.split()
    assert "/tardest/ok.txt" in listing and "/tardest/pwned-up" in listing
    assert not any("kmsg" in p or "loop0" in p for p in listing)
    assert not any(
        p.startswith(str(markers.dir)) for p in listing
    )  # nothing outside /tardest in the container


def test_odd_names_and_deep_paths_round_trip(hostile, tmp_path: Path) -> None:
    r = ctrlens("fs", "ls", hostile.name, "/names", "-o", "json")
    records = json.loads(r.stdout)
    assert {bytes.fromhex(rec["path_hex"]) for rec in records if "path_hex" in rec} == {b"/names/\xff\xfebin"}
    assert "new\nline" in {rec["name"] for rec in records}
    r = ctrlens("fs", "cp", "-r", f"{hostile.name}:/data", str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    found = [os.path.join(d, f) for d, _, files, _ in os.fwalk(tmp_path / "data") for f in files]
    assert len(found) == 1 and found[0].endswith("bottom.txt") and len(found[0]) > 4096


# --- races -----------------------------------------------------------------------------------------------------

SWAP_LOOP = """
M={m}
mkdir -p $M /data/realdir
echo CONTAINER-HOSTONLY > $M/HOSTONLY
echo CTR-IN-DIR > /data/realdir/HOSTONLY
echo CTR-REGULAR > /data/regular.src
cp /data/regular.src /data/race
ln -s /data/realdir /data/p
echo READY
while :; do
  ln -sf $M/HOSTONLY /data/race.l && mv -f /data/race.l /data/race
  cp /data/regular.src /data/race.r && mv -f /data/race.r /data/race
  ln -sfn $M /data/p.l && mv -fT /data/p.l /data/p
  ln -sfn /data/realdir /data/p.l && mv -fT /data/p.l /data/p
done
"""

CONTAINER_SIDE = {b"CTR-REGULAR\n", b"CONTAINER-HOSTONLY\n", b"CTR-IN-DIR\n", b"RACE-WRITE\n"}


@pytest.fixture
def racing(testbed, markers):
    c = testbed.run_docker(unique_name("fs-race"), cmd=("sh", "-c", SWAP_LOOP.format(m=markers.dir)))
    deadline = time.monotonic() + 30
    while not os.path.exists(f"/proc/{c.pid}/root/data/p") and time.monotonic() < deadline:
        time.sleep(0.05)
    yield c
    testbed.remove(c)


@pytest.mark.parametrize("resolver", [Openat2Resolver, WalkResolver])
def test_symlink_swap_race_thousands_of_times(racing, markers, tmp_path: Path, resolver) -> None:
    outcomes: Counter[str] = Counter()
    with ContainerRoot.from_pid(racing.pid, label=racing.name, resolver=resolver()) as root:
        for i in range(3000):
            for path in ("/data/race", "/data/p/HOSTONLY"):
                try:
                    data = root.read_bytes(path)
                except OSError as exc:
                    outcomes[f"error {exc.errno}"] += 1
                    continue
                assert data in CONTAINER_SIDE and not markers.leaked(data), (i, path, data)
                outcomes[f"{path}: {data.decode().strip()}"] += 1
        for i in range(1000):
            dest = tmp_path / f"out{i}"
            try:
                copy_out(root, "/data/p/HOSTONLY" if i % 2 else "/data/race", dest, follow=True)
            except Exception as exc:  # noqa: BLE001 - a refused or vanished file is fine; a leak is not
                outcomes[f"copy {type(exc).__name__}"] += 1
                continue
            fd = os.open(dest, os.O_RDONLY | os.O_NOFOLLOW)  # -L: a regular file, never a link
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            assert data in CONTAINER_SIDE and not markers.leaked(data), (i, data)
            dest.unlink()
        src = tmp_path / "src"
        src.write_bytes(b"RACE-WRITE\n")
        for i in range(1000):
            fd = os.open(src, os.O_RDONLY)
            try:
                write_file(root, "/data/race" if i % 2 else "/data/p/HOSTONLY", fd)
                outcomes["write ok"] += 1
            except Exception as exc:  # noqa: BLE001
                outcomes[f"write {type(exc).__name__}"] += 1
            finally:
                os.close(fd)
    for _ in range(30):  # and the CLI, as a user would run it during the race
        r = ctrlens("fs", "cat", racing.name, "/data/race", "/data/p/HOSTONLY")
        assert not markers.leaked(r.stdout) and not markers.leaked(r.stderr)
    print("race outcomes:", dict(outcomes))
    # Both sides of both swaps were seen (the race really ran), and every write landed inside.
    for seen in (
        "/data/race: CTR-REGULAR",
        "/data/race: CONTAINER-HOSTONLY",
        "/data/p/HOSTONLY: CTR-IN-DIR",
        "/data/p/HOSTONLY: CONTAINER-HOSTONLY",
    ):
        assert outcomes[seen] > 0, (seen, dict(outcomes))
    assert outcomes["write ok"] > 0
    markers.intact()


# --- stop mid-operation, errors ---------------------------------------------------------------------------------


def _upperdir(testbed, c) -> Path:
    return Path(json.loads(testbed.docker("inspect", c.id).stdout)[0]["GraphDriver"]["Data"]["UpperDir"])


def test_container_stopping_mid_write_leaves_nothing(testbed) -> None:
    c = testbed.run_docker(unique_name("fs-stop"))
    try:
        upper = _upperdir(testbed, c)
        read_end, write_end = os.pipe()
        result: dict[str, object] = {}
        with ContainerRoot.from_pid(c.pid, label=c.name) as root:

            def writer() -> None:
                try:
                    write_file(root, "/tmp/half-written", read_end)
                    result["ok"] = True
                except Exception as exc:  # noqa: BLE001
                    result["error"] = exc

            t = threading.Thread(target=writer)
            t.start()
            os.write(write_end, b"first half " * 100000)  # the copy is under way, in a temp file
            testbed.docker("kill", c.id)
            time.sleep(0.5)
            os.write(write_end, b"second half")
            os.close(write_end)
            t.join(60)
            os.close(read_end)
        assert isinstance(result.get("error"), ContainerStopped), result
        assert f"{c.name} stopped" in str(result["error"])
        leftovers = [
            p for p in upper.rglob("*") if p.name.startswith(TEMP_PREFIX.decode()) or p.name == "half-written"
        ]
        assert leftovers == []
    finally:
        testbed.remove(c)


def test_errors_are_one_line(testbed, hostile, tmp_path: Path) -> None:
    cases = [
        (("fs", "cat", hostile.name, "/no/such"), 3, b"no such file or directory"),
        (("fs", "cat", hostile.name, "/etc"), 4, b"refusing to read /etc: directory"),
        (("fs", "cat", hostile.name, "/kmsg"), 4, b"refusing to read /kmsg: character device"),
        (("fs", "ls", "no-such-container-xyz", "/"), 3, b"no container matches"),
        (("fs", "cp", "/etc/hostname", "/tmp/x"), 2, b"exactly one of SRC and DST"),
        (("fs", "rm", hostile.name, "/etc"), 4, b"is a directory (use -r)"),
        (("fs", "mkdir", hostile.name, "/etc"), 4, b"already exists"),
    ]
    for args, code, message in cases:
        r = ctrlens(*args)
        assert r.returncode == code, (args, r.stderr)
        assert r.stderr.startswith(b"ctrlens: ") and r.stderr.count(b"\n") == 1 and message in r.stderr, (
            r.stderr
        )

    stopped = testbed.run_docker(unique_name("fs-gone"))
    testbed.remove(stopped)
    r = ctrlens("fs", "ls", str(stopped.pid), "/")
    assert r.returncode == 3 and r.stderr.count(b"\n") == 1


def test_full_host_disk_leaves_nothing_half_written(testbed, hostile) -> None:
    testbed.docker(
        "exec",
        hostile.name,
        "sh",
        "-c",
        "head -c 3000000 /dev/zero > /big; mkdir -p /bigdir; "
        "head -c 100 /dev/zero > /bigdir/a; head -c 3000000 /dev/zero > /bigdir/z",
    )
    small = Path(tempfile.mkdtemp(prefix="ctrlens-fs-small-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)], check=False).returncode:
        pytest.skip("tmpfs mount failed")
    try:
        # Refused up front by the free-space rule (docs/fs.md), one line, nothing left
        r = ctrlens("fs", "cp", f"{hostile.name}:/big", str(small))
        assert r.returncode == 4 and b"refusing to copy /big: 2.9 MiB of data" in r.stderr
        assert b"nothing written" in r.stderr and len(r.stderr.splitlines()) == 1
        r = ctrlens("fs", "cp", "-r", f"{hostile.name}:/bigdir", str(small))
        assert r.returncode == 4 and b"refusing to copy /bigdir/" in r.stderr
        assert os.listdir(small) == []
    finally:
        subprocess.run(["umount", str(small)], check=False)
        small.rmdir()
