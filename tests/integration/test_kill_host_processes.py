"""`ctrlens kill PID` on processes outside containers: an ordinary one is signalled; the host's init, kernel threads
and ctrlens itself are refused before anything is sent."""

from __future__ import annotations

import subprocess

import pytest
from act_helpers import assert_one_line_error, ctrlens, ctrlens_json

pytestmark = pytest.mark.integration


def test_a_host_process_is_said_to_be_in_no_container_and_is_signalled():
    proc = subprocess.Popen(["sleep", "1000"])
    try:
        res = ctrlens("kill", str(proc.pid), "-s", "TERM", "--yes")
        assert res.returncode == 0, res.stderr
        assert "(a host process, in no container)" in res.stdout
        assert f"process {proc.pid} ends" in res.stdout
        assert f"result: process {proc.pid} exited" in res.stdout  # a zombie until we reap it: no status yet
        assert proc.wait(timeout=10) == -15
    finally:
        proc.kill()
        proc.wait()


def test_probe_signal_zero_only_checks():
    proc = subprocess.Popen(["sleep", "1000"])
    try:
        record = ctrlens_json("kill", str(proc.pid), "-s", "0", "--yes")
        assert record["plan"]["targets"][0]["effect"] == "probe"
        assert record["outcome"]["state"] == "sent"
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(("pid", "words"), [("1", "the host's init"), ("2", "kernel thread")])
def test_host_init_and_kernel_threads_are_refused(pid, words):
    res = ctrlens("kill", f"pid:{pid}", "-s", "KILL", "--yes")  # bare 1 or 2 may also be an ID prefix
    assert_one_line_error(res)
    assert res.returncode == 4 and words in res.stderr
