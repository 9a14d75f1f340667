"""procfs on crafted trees: reads never block on a FIFO, never follow a symlink, stop at their cap and say so;
parsers turn a crafted file's garbage into absent fields or `Malformed` (exit 4), never an internal error."""

from __future__ import annotations

import os
import threading

import pytest

from ctrlens.errors import CtrlensError
from ctrlens.procfs import ProcHandle, parse_id_map, parse_mountinfo, parse_stat, parse_status, status_ids
from ctrlens.procfs.files import NotRegular, read_capped
from ctrlens.procfs.parse import Malformed, ns_inode


def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "cmdline")
    done = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            read_capped(str(tmp_path / "cmdline"))
        except OSError as exc:
            errors.append(exc)
        done.set()

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(30)  # a blocking open would never return: no writer ever comes
    assert done.is_set() and isinstance(errors[0], NotRegular) and "FIFO" in str(errors[0])


def test_symlinks_and_loops_are_refused(tmp_path):
    os.symlink("loop", tmp_path / "loop")
    os.symlink("/etc/hostname", tmp_path / "status")
    for name in ("loop", "status"):
        with pytest.raises(OSError):
            read_capped(str(tmp_path / name))


def test_reads_stop_at_the_cap_and_say_so(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 5000)
    assert read_capped(str(tmp_path / "f"), cap=4096) == (b"x" * 4096, True)
    assert read_capped(str(tmp_path / "f"), cap=5000) == (b"x" * 5000, False)


def test_proc_handle_records_what_it_cut(tmp_path):
    proc = tmp_path / "proc" / "7"
    proc.mkdir(parents=True)
    (proc / "stat").write_text("7 (x) S 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0\n")
    (proc / "environ").write_bytes(b"A=" + b"y" * 3000)
    with ProcHandle(7, str(tmp_path / "proc")) as handle:
        assert len(handle.read("environ", cap=1024)) == 1024
        assert handle.truncated == ["environ"]


def test_garbage_ids_read_as_absent():
    assert status_ids("x y") == () and status_ids("") == () and status_ids("1 ²") == ()
    status = parse_status(b"Uid:\t0\nGid:\tq 1 2 3\nNSpid:\t101\tzz\nPid:\t7\n")
    assert "Uid" not in status and "Gid" not in status and "NSpid" not in status
    assert status["Pid"] == "7"


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"1 (x) S", b"1 (x) S a b c d e f g h i j k l m n o p q r s t", bytes(range(256))],
)
def test_malformed_stat_is_a_ctrlens_error_and_a_value_error(data):
    with pytest.raises(Malformed) as err:
        parse_stat(data)
    assert isinstance(err.value, CtrlensError) and isinstance(err.value, ValueError)


def test_garbage_mountinfo_uid_map_and_ns_links_are_skipped():
    mounts = parse_mountinfo(
        b"x y z - a\n\xff 1 2 3 4 5 6 - a b c\n1 0 8:1 / /a\\999b rw - ext4 /dev/sda1 rw\n"
    )
    assert [m.mount_point for m in mounts] == ["/a\\999b"]
    assert parse_id_map(b"0 x 1\n\xff\n1 2\n0 100000 65536\n")[0].outside == 100000
    assert (
        ns_inode("pid:[abc") is None
        and ns_inode("pid:[123") is None
        and ns_inode("pid:[4026531836]") == 4026531836
    )
