"""`fs cp` says how far a long copy is, on a terminal only: copies out of and into a real container, and tar
streams both ways. The line goes to stderr when it is a terminal and is cleared at the end; in a pipe (logs,
scripts, these tests' stdout) nothing of it appears."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import tarfile

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

CLEAR = b"\r\x1b[K"


def ctrlens_with_tty_stderr(*args: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """(exit, stdout from a pipe, stderr from a pseudo-terminal)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [shutil.which("ctrlens") or "ctrlens", *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)
        proc.stdin.close()
    assert proc.stdout is not None
    out, err = b"", b""
    fds = [proc.stdout.fileno(), master]
    while fds:
        ready, _, _ = select.select(fds, [], [], 60)
        assert ready, "ctrlens fs cp stalled for 60 s"
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal side closed
                chunk = b""
            if not chunk:
                fds.remove(fd)
            elif fd == master:
                err += chunk
            else:
                out += chunk
    os.close(master)
    return proc.wait(timeout=60), out, err


@pytest.fixture(scope="module")
def container(testbed):
    started = testbed.run_docker(unique_name("fs-progress"))
    yield started
    testbed.remove(started)


@pytest.fixture
def host_tree(tmp_path):
    tree = tmp_path / "payload"
    tree.mkdir()
    (tree / "big.bin").write_bytes(os.urandom(1 << 20) * 24)  # 24 MiB
    for i in range(20):
        (tree / f"small{i}.txt").write_text(f"file {i}\n")
    return tree


def assert_progress_shown(err: bytes) -> None:
    assert b"ctrlens fs cp" in err and b"files, " in err, err[-400:]
    assert err.count(CLEAR) >= 2  # each update rewrites the line...
    assert err.rstrip(b"\n").endswith(CLEAR) or b"\n" in err.split(CLEAR)[-1]  # ...and the last one clears it


def test_copy_into_and_out_of_a_container_shows_progress_on_a_terminal(container, host_tree, tmp_path):
    dest = f"{container.name}:/tmp/in-{tmp_path.name}"
    code, out, err = ctrlens_with_tty_stderr("fs", "cp", "-r", str(host_tree), dest)
    assert code == 0, err
    assert b"copied 21 files" in out + err
    assert_progress_shown(err)

    back = tmp_path / "back"
    code, out, err = ctrlens_with_tty_stderr("fs", "cp", "-r", dest, str(back))
    assert code == 0, err
    assert_progress_shown(err)
    assert (back / "big.bin").read_bytes() == (host_tree / "big.bin").read_bytes()


def test_tar_streams_show_progress_on_a_terminal_and_keep_the_stream_clean(container, host_tree, tmp_path):
    archive = tmp_path / "in.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(host_tree, arcname="t")
    target = f"/tmp/tar-{tmp_path.name}"
    code, _, err = ctrlens_with_tty_stderr("fs", "mkdir", container.name, target)
    assert code == 0, err
    code, out, err = ctrlens_with_tty_stderr(
        "fs", "cp", "-", f"{container.name}:{target}", stdin=archive.read_bytes()
    )
    assert code == 0, err
    assert_progress_shown(err)

    code, out, err = ctrlens_with_tty_stderr("fs", "cp", f"{container.name}:{target}/t", "-")
    assert code == 0, err
    assert_progress_shown(err)
    assert CLEAR not in out  # the tar stream on stdout carries none of it
    extracted = tmp_path / "out"
    extracted.mkdir()
    (tmp_path / "out.tar").write_bytes(out)
    with tarfile.open(tmp_path / "out.tar") as tar:
        tar.extractall(extracted, filter="data")
    assert (extracted / "t" / "big.bin").read_bytes() == (host_tree / "big.bin").read_bytes()


def test_no_progress_line_in_a_pipe(container, host_tree, tmp_path):
    res = subprocess.run(
        [
            shutil.which("ctrlens") or "ctrlens",
            "fs",
            "cp",
            "-r",
            str(host_tree),
            f"{container.name}:/tmp/p-{tmp_path.name}",
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert b"\x1b" not in res.stdout + res.stderr and b"\r" not in res.stdout + res.stderr
