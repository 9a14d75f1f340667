"""`ctrlens fs …` end to end against a real process whose root is the hostile fake tree (unshare --root), so the
whole path — REF resolution, /proc/PID/root, the safe layer, output and exit codes — runs without an engine."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ctrlens.commands.fs import split_operand
from tests.unit import rootfs_tree as rt

BUSYBOX = shutil.which("busybox")
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not BUSYBOX, reason="needs root and a static busybox")


@pytest.fixture
def rooted(tmp_path: Path):
    """(tree, pid): a process whose /proc/PID/root is the fake tree."""
    tree = rt.build(tmp_path)
    (tree.root / "bin").mkdir()
    shutil.copy2(BUSYBOX, tree.root / "bin" / "busybox")  # type: ignore[arg-type]
    proc = subprocess.Popen(
        [
            "unshare",
            "--mount",
            "--fork",
            "--kill-child",
            f"--root={tree.root}",
            "/bin/busybox",
            "sleep",
            "1000",
        ]
    )
    try:
        pid = _child_of(proc.pid)
        yield tree, pid
    finally:
        proc.kill()
        proc.wait(timeout=10)
        rt.teardown(tree)


def _child_of(pid: int) -> int:
    for _ in range(200):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            children = []
        if children and os.readlink(f"/proc/{children[0]}/root") != "/":
            return int(children[0])
        subprocess.run(["sleep", "0.05"], check=False)
    raise RuntimeError("the rooted process did not start")


def ctrlens(
    *args: str, input: bytes | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args],
        input=input,
        capture_output=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_split_operand() -> None:
    assert split_operand("web:/etc") == ("web", "/etc")
    assert split_operand("web:") == ("web", "/")
    assert split_operand("./a:b") is None and split_operand("/x:y") is None
    assert split_operand("dir/a:b") is None and split_operand("plain") is None and split_operand("-") is None


def test_ls_marks_links_mounts_and_devices(rooted) -> None:
    tree, pid = rooted
    r = ctrlens("fs", "ls", str(pid), "/", "-l")
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert f"dirlink -> {tree.host / 'hostdir'}" in out
    assert "1, 11" in out and "kmsg" in out
    if tree.proc_mounted:
        assert "proc  [mount: proc" in out
    assert "new\\nline" not in out  # /names is not listed without -R


def test_ls_json_and_odd_names(rooted) -> None:
    _, pid = rooted
    r = ctrlens("fs", "ls", str(pid), "/names", "-o", "json")
    records = json.loads(r.stdout)
    names = {rec["name"] for rec in records}
    assert "new\nline" in names and "\\xff\\xfe-bin" in names
    odd = next(rec for rec in records if rec["name"] == "\\xff\\xfe-bin")
    assert bytes.fromhex(odd["path_hex"]) == b"/names/\xff\xfe-bin"
    r = ctrlens("fs", "ls", str(pid), "/etc", "-l")
    assert "ctruser" not in r.stdout.decode()  # every file here is root's
    os.chown(rooted[0].root / "etc" / "shadow", 1000, 1001)
    assert "ctruser  ctrgroup" in ctrlens("fs", "ls", str(pid), "/etc", "-l").stdout.decode()


def test_ls_recursive_does_not_enter_links_or_proc(rooted) -> None:
    _, pid = rooted
    r = ctrlens("fs", "ls", str(pid), "/", "-R", "-a", "-o", "json")
    paths = [rec["path"] for rec in json.loads(r.stdout)]
    assert "/dirlink" in paths and not any(p.startswith(("/dirlink/", "/etclink/", "/proc/")) for p in paths)


def test_cat_and_its_errors(rooted) -> None:
    tree, pid = rooted
    r = ctrlens("fs", "cat", str(pid), "/abs_etc", "/rel")
    assert r.returncode == 0 and r.stdout == rt.CTR_HOSTNAME * 2
    r = ctrlens("fs", "cat", str(pid), "/abs_host")
    assert r.returncode == 3 and r.stderr.decode().count("\n") == 1
    assert b"no such file or directory" in r.stderr
    r = ctrlens("fs", "cat", str(pid), "/kmsg", "/fifo", "/etc", timeout=30)
    assert r.returncode == 4
    err = r.stderr.decode()
    assert "refusing to read /kmsg: character device" in err and "refusing to read /fifo: FIFO" in err
    assert "refusing to read /etc: directory" in err
    rt.host_intact(tree)


def test_stat_json(rooted) -> None:
    tree, pid = rooted
    if not tree.proc_mounted:
        pytest.skip("no procfs in the fake root")
    record = json.loads(ctrlens("fs", "stat", str(pid), "/proc", "-o", "json").stdout)
    assert record["mount_point"] is True and record["mount"]["fstype"] == "proc"
    assert (
        json.loads(ctrlens("fs", "stat", str(pid), "/abs_etc", "-o", "json").stdout)["link_target"]
        == "/etc/hostname"
    )


def test_changes_say_what_they_did(rooted) -> None:
    tree, pid = rooted
    r = ctrlens("fs", "touch", str(pid), "/tmp/x")
    assert r.stdout.decode() == f"created /tmp/x in process {pid}, owner 0:0 mode 0644\n"
    r = ctrlens("fs", "mkdir", "-p", "--owner", "ctruser:ctrgroup", str(pid), "/tmp/a/b")
    assert (
        r.returncode == 0
        and "created /tmp/a/b" in r.stdout.decode()
        and "owner 1000:1001" in r.stdout.decode()
    )
    assert ctrlens("fs", "rm", "-r", str(pid), "/tmp/a").returncode == 2  # not a terminal: needs --yes
    r = ctrlens("fs", "rm", "-r", "--yes", str(pid), "/tmp/a")
    assert r.returncode == 0 and not (tree.root / "tmp" / "a").exists()
    assert ctrlens("fs", "touch", str(pid), "/kmsg").returncode == 4
    rt.host_intact(tree)


def test_cp_both_ways_and_tar(rooted, tmp_path: Path) -> None:
    tree, pid = rooted
    src = tmp_path / "payload"
    src.write_bytes(b"payload\n")
    r = ctrlens("fs", "cp", str(src), f"{pid}:/victim")
    assert r.returncode == 0, r.stderr
    assert "owner 0:0 mode 0644" in r.stdout.decode()
    out = tmp_path / "out"
    out.mkdir()
    r = ctrlens("fs", "cp", "-r", f"{pid}:/", str(out / "all"))
    assert r.returncode == 0, r.stderr
    assert b"skipped /kmsg" in r.stderr and not (out / "all" / "kmsg").exists()
    r = ctrlens("fs", "cp", f"{pid}:/etc", "-")
    with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
        assert "etc/shadow" in tar.getnames()
    hostile = io.BytesIO()
    with tarfile.open(fileobj=hostile, mode="w") as tar:
        for name in ("../../../escape", "/ok"):
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"x\n\n"))
    r = ctrlens("fs", "cp", "-", f"{pid}:/tmp", input=hostile.getvalue())
    assert r.returncode == 4 and b"refused 1 archive member" in r.stderr
    assert (tree.root / "tmp" / "ok").exists() and not (tree.base / "escape").exists()
    assert ctrlens("fs", "cp", str(src), str(tmp_path / "x")).returncode == 2
    rt.host_intact(tree)


def _editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return str(script)


def test_edit_with_a_scripted_editor(rooted, tmp_path: Path) -> None:
    tree, pid = rooted
    editor = _editor(tmp_path, 'sed -i "s/CONTAINER/EDITED/" "$1"\n')
    r = ctrlens("fs", "edit", str(pid), "/etc/hostname", env={"EDITOR": editor, "VISUAL": ""})
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().startswith("replaced /etc/hostname")
    assert (tree.root / "etc" / "hostname").read_bytes() == b"EDITED-HOSTNAME\n"
    r = ctrlens(
        "fs", "edit", str(pid), "/etc/hostname", env={"EDITOR": _editor(tmp_path, "true\n"), "VISUAL": ""}
    )
    assert r.returncode == 0 and b"no changes" in r.stdout
    r = ctrlens(
        "fs", "edit", str(pid), "/etc/hostname", env={"EDITOR": _editor(tmp_path, "exit 3\n"), "VISUAL": ""}
    )
    assert r.returncode == 4 and b"editor exited with status 3" in r.stderr


def test_edit_conflict_is_refused(rooted, tmp_path: Path) -> None:
    tree, pid = rooted
    target = tree.root / "etc" / "hostname"
    # The "editor" edits its copy AND, like a busy container, rewrites the original meanwhile.
    editor = _editor(tmp_path, f'echo mine > "$1"; echo theirs > {target}\n')
    r = ctrlens("fs", "edit", str(pid), "/etc/hostname", env={"EDITOR": editor, "VISUAL": ""})
    assert r.returncode == 4 and b"changed in process" in r.stderr and b"Your copy is kept" in r.stderr
    assert target.read_bytes() == b"theirs\n"


def _on_terminal(args: list[str], answer: bytes) -> tuple[int, bytes]:
    """Run ctrlens with a pty as stdin/stdout (a terminal), type `answer`, return (exit code, what it printed)."""
    import pty
    import select

    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ctrlens.cli", *args], stdin=follower, stdout=follower, stderr=follower
    )
    os.close(follower)
    out = b""
    answered = False
    try:
        while proc.poll() is None or select.select([leader], [], [], 0.2)[0]:
            if select.select([leader], [], [], 0.2)[0]:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:
                    break
                out += chunk
                if b"[y/N]" in out and not answered:
                    os.write(leader, answer)
                    answered = True
    finally:
        os.close(leader)
    return proc.wait(timeout=30), out


def test_rm_r_asks_on_a_terminal(rooted) -> None:
    tree, pid = rooted
    code, out = _on_terminal(["fs", "rm", "-r", str(pid), "/names"], b"n\n")
    assert code == 1 and b"remove /names and everything under it" in out and b"nothing removed" in out
    assert (tree.root / "names").is_dir()
    code, out = _on_terminal(["fs", "rm", "-r", str(pid), "/names"], b"y\n")
    assert code == 0 and b"removed /names" in out
    assert not (tree.root / "names").exists()
