"""`ctrlens kill` on real Docker containers: what it promises before the signal, and what Docker then does.

Each test checks the result the way a user would: with `docker inspect` (State.Pid, State.Running, ExitCode,
RestartCount), never with ctrlens's own word alone.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import subprocess
import time

import pytest
from act_helpers import alive, assert_one_line_error, children_with_cmdline, ctrlens, ctrlens_json, wait_for

from testbed import unique_name

pytestmark = pytest.mark.integration

WORKER = ("sh", "-c", "sleep 1000001 & exec sleep 1000000")


def inspect(testbed, cid: str) -> dict:
    return json.loads(testbed.docker("inspect", cid).stdout)[0]


@pytest.fixture
def docker_container(testbed):
    made = []

    def start(*opts: str, cmd=("sleep", "1000000")):
        started = testbed.run_docker(unique_name("act-kill"), *opts, cmd=cmd)
        made.append(started)
        return started

    yield start
    for started in made:
        testbed.remove(started)


def test_restart_always_is_announced_done_and_reported_with_the_new_pid(testbed, docker_container):
    c = docker_container("--restart", "always")
    res = ctrlens("kill", c.name, "-s", "KILL", "--yes")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "the container ends" in out
    assert "restart: yes: restart policy 'always'" in out
    assert "hostconfig.json" in out  # says where it read the policy
    assert wait_for(lambda: inspect(testbed, c.id)["State"]["Pid"] not in (0, c.pid))
    state = inspect(testbed, c.id)
    assert state["State"]["Running"] and state["RestartCount"] == 1
    assert f"its init is now pid {state['State']['Pid']}" in out  # the PID the user can check
    assert not alive(c.pid)


def test_no_restart_policy_container_exits_with_137(testbed, docker_container):
    c = docker_container()
    res = ctrlens("kill", c.name, "-s", "KILL", "--yes")
    assert res.returncode == 0, res.stderr
    assert "restart: no: restart policy 'no'" in res.stdout
    assert f"result: container {c.name} exited" in res.stdout
    assert "killed by SIGKILL" in res.stdout
    assert wait_for(lambda: not inspect(testbed, c.id)["State"]["Running"])
    state = inspect(testbed, c.id)["State"]
    assert state["ExitCode"] == 137 and inspect(testbed, c.id)["RestartCount"] == 0


def test_killing_a_worker_leaves_the_container_running(testbed, docker_container):
    c = docker_container("--restart", "always", cmd=WORKER)
    assert wait_for(lambda: children_with_cmdline(c.pid, "sleep 1000001"))
    (worker,) = children_with_cmdline(c.pid, "sleep 1000001")
    res = ctrlens("kill", str(worker), "-s", "KILL", "--yes")
    assert res.returncode == 0, res.stderr
    assert f"only process {worker} ends; the container keeps running" in res.stdout
    assert "restart:" not in res.stdout  # nothing to restart: the container does not end
    assert f"container {c.name} is still running (init pid {c.pid})" in res.stdout
    assert not alive(worker)
    state = inspect(testbed, c.id)
    assert state["State"]["Running"] and state["State"]["Pid"] == c.pid and state["RestartCount"] == 0


def test_sigterm_to_an_init_without_handler_is_said_to_do_nothing_and_does_nothing(testbed, docker_container):
    c = docker_container("--restart", "always")
    res = ctrlens("kill", c.name, "--yes", "--wait", "1")  # SIGTERM, the default
    assert res.returncode == 0, res.stderr
    assert "dropped by the kernel" in res.stdout and "use -s KILL" in res.stdout
    assert "restart:" not in res.stdout
    assert f"container {c.name} is still running: its init, pid {c.pid}, did not exit" in res.stdout
    state = inspect(testbed, c.id)
    assert state["State"]["Pid"] == c.pid and state["RestartCount"] == 0


def test_init_with_a_handler_is_said_to_decide(testbed, docker_container):
    # busybox sh as init, trapping TERM and exiting 0: on-failure will not restart it.
    c = docker_container(
        "--restart", "on-failure:3", cmd=("sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")
    )
    plan = ctrlens_json("kill", c.name, "--dry-run")["plan"]
    assert plan["targets"][0]["effect"] == "caught"
    assert plan["expect"] == "up to the program"
    assert plan["restart"]["verdict"] == "maybe"  # the exit code is the program's choice
    res = ctrlens("kill", c.name, "--yes", "--wait", "5")
    assert res.returncode == 0, res.stderr
    assert "exit code 0" in res.stdout
    assert wait_for(lambda: not inspect(testbed, c.id)["State"]["Running"])
    assert inspect(testbed, c.id)["State"]["ExitCode"] == 0 and inspect(testbed, c.id)["RestartCount"] == 0


def test_on_failure_counts_restarts_and_stops_at_the_limit(testbed, docker_container):
    c = docker_container("--restart", "on-failure:1")
    first = ctrlens_json("kill", c.name, "-s", "KILL", "--yes")
    assert first["plan"]["restart"]["verdict"] == "yes"
    assert "restarted 0 of 1 times so far" in first["plan"]["restart"]["reason"]
    assert "exit code 137 counts as a failure" in first["plan"]["restart"]["reason"]
    assert first["outcome"]["state"] == "restarted"
    new_pid = first["outcome"]["new_pid"]
    assert inspect(testbed, c.id)["State"]["Pid"] == new_pid
    # Docker writes RestartCount to config.v2.json once the restart is done: read it as the second plan will.
    assert wait_for(
        lambda: ctrlens_json("inspect", c.name)["container"]["restart_policy"]["restart_count"] == 1
    )
    second = ctrlens_json("kill", c.name, "-s", "KILL", "--yes", "--wait", "3")
    assert second["plan"]["restart"]["verdict"] == "no"
    assert "the limit is reached" in second["plan"]["restart"]["reason"]
    assert second["outcome"]["state"] == "exited"
    time.sleep(0.5)
    assert not inspect(testbed, c.id)["State"]["Running"]


def test_all_signals_every_process_and_lists_them(testbed, docker_container):
    c = docker_container(cmd=WORKER)
    assert wait_for(lambda: children_with_cmdline(c.pid, "sleep 1000001"))
    (worker,) = children_with_cmdline(c.pid, "sleep 1000001")
    record = ctrlens_json("kill", c.name, "--all", "-s", "KILL", "--yes")
    pids = {t["pid"] for t in record["plan"]["targets"]}
    assert pids == {c.pid, worker}
    assert record["plan"]["targets"][-1]["pid"] == c.pid  # init last: the workers get the signal first
    assert all(t["exited"] for t in record["outcome"]["targets"])
    assert not alive(worker) and not alive(c.pid)


def test_without_a_terminal_and_without_yes_nothing_is_sent(testbed, docker_container):
    c = docker_container()
    res = ctrlens("kill", c.name, "-s", "KILL")
    assert res.returncode == 4
    assert "SIGKILL to container" in res.stdout  # the plan is still shown
    assert "no terminal to ask on; pass --yes" in res.stderr
    assert alive(c.pid) and inspect(testbed, c.id)["State"]["Pid"] == c.pid


def test_bad_input_is_one_line_and_non_zero(testbed, docker_container):
    c = docker_container()
    bad_signal = ctrlens("kill", c.name, "-s", "SIGNOPE", "--yes")
    assert_one_line_error(bad_signal)
    assert bad_signal.returncode == 2 and "unknown signal 'SIGNOPE'" in bad_signal.stderr
    assert_one_line_error(ctrlens("kill", c.name, "-s", "99", "--yes"))
    gone = ctrlens("kill", "act-kill-no-such-container", "-s", "KILL", "--yes")
    assert_one_line_error(gone)
    assert gone.returncode == 3
    all_pid = ctrlens("kill", str(c.pid), "--all", "--yes")
    assert_one_line_error(all_pid)
    assert all_pid.returncode == 2
    assert alive(c.pid)


def test_a_container_removed_after_the_scan_is_not_found(testbed, docker_container):
    c = docker_container()
    testbed.remove(c)
    res = ctrlens("kill", c.name, "-s", "KILL", "--yes")
    assert_one_line_error(res)
    assert res.returncode == 3


def _on_a_terminal(argv: list[str], answer: bytes) -> tuple[int, str]:
    """Run `ctrlens …` with stdin and stderr on a pseudo-terminal, answer the prompt, return (exit, all output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [shutil.which("ctrlens") or "ctrlens", *argv], stdin=slave, stdout=slave, stderr=slave
    )
    os.close(slave)
    seen = b""
    answered = False
    while True:
        ready, _, _ = select.select([master], [], [], 20)
        if not ready:
            break
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        seen += chunk
        if not answered and b"[y/N]" in seen:
            os.write(master, answer)
            answered = True
    os.close(master)
    return proc.wait(timeout=30), seen.decode(errors="replace")


def test_on_a_terminal_it_asks_and_only_yes_sends(testbed, docker_container):
    c = docker_container()
    code, out = _on_a_terminal(["kill", c.name, "-s", "KILL"], b"n\n")
    assert "Send SIGKILL? [y/N]" in out and code == 4 and "nothing sent" in out
    assert alive(c.pid)
    code, out = _on_a_terminal(["kill", c.name, "-s", "KILL"], b"y\n")
    assert code == 0 and f"result: container {c.name} exited" in out
    assert wait_for(lambda: not alive(c.pid))
