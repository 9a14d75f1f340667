"""The pidfd guard: a process that exited and whose PID another process took is never signalled.

PID reuse is forced the way host-facts §3 C did it: inside a private PID namespace (unshare --pid --fork
--mount-proc), a process's PID is freed, /proc/sys/kernel/ns_last_pid is set just below it, and the next process
gets that PID. Everything there runs in the private namespace, so no host process can ever be hit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.integration

# Runs as PID 1 of a fresh PID namespace with its own /proc; prints one JSON line.
SCRIPT = textwrap.dedent("""
    import json, signal, subprocess, time
    from ctrlens.act import execute, plan_kill
    from ctrlens.errors import ProcessGone
    from ctrlens.host import Host
    from ctrlens.scanner import scan

    def reuse(old):
        with open("/proc/sys/kernel/ns_last_pid", "w") as f:
            f.write(str(old.pid - 1))
        time.sleep(0.05)  # a different start tick than the old one
        new = subprocess.Popen(["sleep", "1001"])
        assert new.pid == old.pid, (new.pid, old.pid)
        return new

    result = {}
    # 1. The plan holds A's pidfd; A exits and B takes its PID before the signal is sent.
    a = subprocess.Popen(["sleep", "1000"])
    time.sleep(0.1)
    plan = plan_kill(scan(Host("/")), str(a.pid), signal.SIGKILL)
    a.kill(); a.wait()
    b = reuse(a)
    outcome = execute(plan, wait=1)
    plan.close()
    time.sleep(0.1)
    result["plan_then_reuse"] = {"pid": b.pid, "state": outcome.state, "message": outcome.message,
                                 "b_alive": b.poll() is None}
    b.kill(); b.wait()

    # 2. The scan saw C; C exits and D takes its PID before the plan: the plan refuses it.
    c = subprocess.Popen(["sleep", "1000"])
    time.sleep(0.1)
    snapshot = scan(Host("/"))
    c.kill(); c.wait()
    d = reuse(c)
    try:
        plan_kill(snapshot, str(c.pid), signal.SIGKILL)
        refused = None
    except ProcessGone as exc:
        refused = str(exc)
    result["scan_then_reuse"] = {"pid": d.pid, "refused": refused, "d_alive": d.poll() is None}
    d.kill(); d.wait()
    print(json.dumps(result))
""")


def test_a_reused_pid_is_never_signalled():
    unshare = shutil.which("unshare")
    assert unshare, "util-linux unshare is needed"
    res = subprocess.run(
        [unshare, "--pid", "--fork", "--mount-proc", sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout.strip().splitlines()[-1])

    after_plan = result["plan_then_reuse"]
    assert after_plan["state"] == "not-sent"
    assert "it had exited, so nothing was sent" in after_plan["message"]
    assert after_plan["b_alive"], "the process that took the PID was signalled"

    after_scan = result["scan_then_reuse"]
    assert (
        after_scan["refused"] and f"pid {after_scan['pid']} is now another process" in after_scan["refused"]
    )
    assert after_scan["d_alive"]
