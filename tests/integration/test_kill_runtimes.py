"""`ctrlens kill` beyond Docker: Podman's policy from its libpod database, containerd's restart monitor labels,
a Kubernetes-style container (no kubelet here), and LXC (which never restarts a container whose init exits).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from act_helpers import alive, ctrlens, ctrlens_json, wait_for

from testbed import unique_name

pytestmark = pytest.mark.integration

MONITOR = "containerd.io/restart.status"


def podman_state(testbed, cid: str) -> dict:
    return json.loads(testbed.podman("inspect", cid).stdout)[0]


def test_podman_restart_always_read_from_its_database_and_the_restart_reported(testbed):
    c = testbed.run_podman(unique_name("act-kill-pod"), "--restart", "always")
    try:
        record = ctrlens_json("kill", c.name, "-s", "KILL", "--yes", "--wait", "10")
        restart = record["plan"]["restart"]
        assert restart["verdict"] == "yes" and restart["policy"]["name"] == "always"
        assert restart["sources"][0].endswith("/libpod/bolt_state.db")  # read without the socket
        assert "conmon" in restart["by"]
        assert record["outcome"]["state"] == "restarted"
        new_pid = record["outcome"]["new_pid"]
        state = podman_state(testbed, c.id)
        assert state["State"]["Pid"] == new_pid != c.pid and state["State"]["Running"]
        assert state["RestartCount"] == 1
    finally:
        testbed.remove(c)


def test_podman_without_policy_exits(testbed):
    c = testbed.run_podman(unique_name("act-kill-pod"))
    try:
        res = ctrlens("kill", c.name, "-s", "KILL", "--yes")
        assert res.returncode == 0, res.stderr
        assert "restart: no: restart policy 'no': Podman leaves it stopped" in res.stdout
        assert f"result: container {c.name} exited" in res.stdout
        assert wait_for(lambda: not podman_state(testbed, c.id)["State"]["Running"])
    finally:
        testbed.remove(c)


def test_containerd_restart_monitor_label_is_read_and_honoured(testbed):
    name = unique_name("act-kill-ctr")
    c = testbed.run_ctr(name, "--label", f"{MONITOR}=running")
    try:
        record = ctrlens_json("kill", c.name, "-s", "KILL", "--yes", "--wait", "25")
        restart = record["plan"]["restart"]
        assert restart["verdict"] == "yes" and restart["by"] == "containerd's restart monitor"
        assert restart["sources"][0].endswith("io.containerd.metadata.v1.bolt/meta.db")
        assert record["outcome"]["state"] == "restarted", record["outcome"]["message"]
        tasks = testbed.ctr("task", "ls").stdout
        assert f"{c.id}" in tasks and str(record["outcome"]["new_pid"]) in tasks
    finally:
        testbed.ctr(
            "container", "label", c.id, f"{MONITOR}=stopped", check=False
        )  # or the monitor restarts it
        testbed.remove(c)


def test_containerd_without_label_is_not_restarted(testbed):
    c = testbed.run_ctr(unique_name("act-kill-ctr"))
    try:
        plan = ctrlens_json("kill", c.name, "-s", "KILL", "--dry-run")["plan"]
        assert plan["restart"]["verdict"] == "no"
        assert MONITOR in plan["restart"]["reason"]
        assert alive(c.pid)  # --dry-run sends nothing
    finally:
        testbed.remove(c)


def test_kubernetes_container_names_the_kubelet_and_says_none_runs_here(testbed):
    c = testbed.run_kube_style(unique_name("act-kill-pod"), "act-space", "app")
    try:
        plan = ctrlens_json("kill", c.id, "-s", "KILL", "--dry-run")["plan"]
        restart = plan["restart"]
        assert restart["by"] == "kubelet"
        assert f"pod act-space/{c.pod.name}" in restart["reason"]
        assert restart["verdict"] == "maybe" and "no kubelet runs on this host" in restart["reason"]
    finally:
        testbed.remove(c)


def test_lxc_busybox_init_reboots_on_term_and_lxc_restarts_it_but_not_after_kill(testbed):
    c = testbed.run_lxc(unique_name("act-kill-lxc"))
    try:
        # busybox init has no handlers: it waits for its signals in sigtimedwait, so TERM is queued, not dropped.
        term = ctrlens_json("kill", c.name, "-s", "TERM", "--yes", "--wait", "15")
        assert term["plan"]["targets"][0]["effect"] == "blocked"
        assert term["plan"]["restart"]["verdict"] == "maybe"
        assert "only if its init reboots" in term["plan"]["restart"]["reason"]
        assert term["outcome"]["state"] == "restarted", term["outcome"]["message"]  # busybox init rebooted
        new_pid = term["outcome"]["new_pid"]
        assert f"PID:{new_pid}" in testbed.lxc("lxc-info", "-n", c.name, "-p").stdout.replace(" ", "")

        record = ctrlens_json("kill", c.name, "-s", "KILL", "--yes")
        restart = record["plan"]["restart"]
        assert restart["verdict"] == "no"
        assert "LXC does not restart a container whose init exits" in restart["reason"]
        assert "lxc.start.auto is not set" in restart["reason"]
        assert record["outcome"]["state"] == "exited"
        assert wait_for(lambda: "STOPPED" in testbed.lxc("lxc-info", "-n", c.name, "-s").stdout)
    finally:
        testbed.remove(c)


def test_a_pod_container_recreated_under_a_new_id_is_reported_as_restarted(testbed):
    """The testbed plays the kubelet: once the old init is gone it starts the same pod's `app` container again."""
    pod = unique_name("act-kill-pod")
    old = testbed.run_kube_style(pod, "act-space", "app")
    new = None
    try:
        kill = subprocess.Popen(
            [
                shutil.which("ctrlens") or "ctrlens",
                "kill",
                old.id,
                "-s",
                "KILL",
                "--yes",
                "--wait",
                "20",
                "-o",
                "json",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert wait_for(lambda: not alive(old.pid), 10)
        new = testbed.run_kube_style(pod, "act-space", "app", pod_uid=old.pod.uid)
        record = json.loads(kill.communicate(timeout=30)[0])
        assert record["outcome"]["state"] == "restarted", record["outcome"]["message"]
        assert record["outcome"]["new_pid"] == new.pid
        assert f"as a new container {new.id[:12]}" in record["outcome"]["message"]
    finally:
        testbed.remove(old)
        if new is not None:
            testbed.remove(new)
