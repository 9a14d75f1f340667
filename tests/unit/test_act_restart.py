"""Restart forecasts per runtime, from the policy the runtime's files hold (moby restartmanager semantics)."""

from __future__ import annotations

import pytest

from ctrlens.act import restart as rs
from ctrlens.model import Container, Pod, Process, RestartPolicy, Snapshot

ID = "a" * 64


def proc(pid: int, comm: str, cmdline: list[str] | None = None) -> Process:
    return Process(
        pid=pid, ppid=1, uid=0, comm=comm, cmdline=cmdline or [comm], state="S", start_ticks=1, cgroup="/"
    )


def snapshot(*procs: Process) -> Snapshot:
    return Snapshot(processes={p.pid: p for p in procs}, containers={})


DOCKERD = proc(100, "dockerd", ["dockerd", "--data-root", "/var/lib/docker"])
DOCKERD.runtime_exe = "/usr/sbin/dockerd"  # the scan proves a daemon by its executable, not its name


def docker(name: str, retries: int | None = None, count: int | None = 0) -> Container:
    c = Container(id=ID, runtime="docker", cgroup=f"/docker/{ID}", name="web")
    c.restart_policy = RestartPolicy(
        name,
        max_retries=retries,
        restart_count=count,
        source=f"/var/lib/docker/containers/{ID}/hostconfig.json",
    )
    return c


def test_docker_always_and_unless_stopped_restart_after_a_host_kill():
    for name in ("always", "unless-stopped"):
        f = rs.forecast_restart(docker(name), snapshot(DOCKERD), 137)
        assert f.verdict == rs.YES and f.by == "dockerd"
        assert f.sources == [f"/var/lib/docker/containers/{ID}/hostconfig.json"]
    f = rs.forecast_restart(docker("unless-stopped"), snapshot(DOCKERD), 137)
    assert "not a `docker stop`" in f.reason


def test_a_process_merely_named_dockerd_is_not_the_daemon_that_restarts():
    impostor = proc(100, "dockerd", ["dockerd", "--data-root", "/home/u/fake"])  # runtime_exe unproven
    f = rs.forecast_restart(docker("always"), snapshot(impostor), 137)
    assert f.verdict == rs.NO and "dockerd is not running" in f.reason


def test_docker_no_policy_does_not_restart():
    assert rs.forecast_restart(docker("no"), snapshot(DOCKERD), 137).verdict == rs.NO


@pytest.mark.parametrize(("retries", "count", "code", "verdict"), [
    (0, 7, 137, rs.YES),  # on-failure without a limit
    (3, 2, 137, rs.YES),
    (3, 3, 137, rs.NO),  # limit reached
    (3, 0, 0, rs.NO),  # a clean exit is not a failure
    (3, 0, None, rs.MAYBE),  # the program picks its own exit code
])  # fmt: skip
def test_docker_on_failure_counts(retries, count, code, verdict):
    f = rs.forecast_restart(docker("on-failure", retries, count), snapshot(DOCKERD), code)
    assert f.verdict == verdict, f.reason


def test_on_failure_reason_says_the_count():
    f = rs.forecast_restart(docker("on-failure", 5, 1), snapshot(DOCKERD), 143)
    assert "on-failure:5" in f.reason and "restarted 1 of 5 times" in f.reason and "143" in f.reason


def test_no_daemon_no_restart():
    f = rs.forecast_restart(docker("always"), snapshot(), 137)
    assert f.verdict == rs.NO and "dockerd is not running" in f.reason


def test_unreadable_policy_is_unknown():
    c = Container(id=ID, runtime="docker", cgroup="/")
    assert rs.forecast_restart(c, snapshot(DOCKERD), 137).verdict == rs.UNKNOWN


def test_podman_needs_conmons_exit_command():
    c = Container(
        id=ID,
        runtime="podman",
        cgroup="/",
        shim_pid=50,
        restart_policy=RestartPolicy("always", restart_count=0, source="/s/libpod/bolt_state.db"),
    )
    with_exit = proc(50, "conmon", ["/usr/bin/conmon", "-c", ID, "--exit-command", "/usr/bin/podman"])
    assert rs.forecast_restart(c, snapshot(with_exit), 137).verdict == rs.YES
    without = proc(50, "conmon", ["/usr/bin/conmon", "-c", ID])
    assert rs.forecast_restart(c, snapshot(without), 137).verdict == rs.NO


def test_kubernetes_is_the_kubelets_call():
    c = Container(id=ID, runtime="containerd", cgroup="/kubepods/pod1/x", pod=Pod("web-0", "shop", "u1"))
    c.annotations["io.kubernetes.container.restartCount"] = "4"
    absent = rs.forecast_restart(c, snapshot(), 137)
    assert absent.verdict == rs.MAYBE and "no kubelet runs on this host" in absent.reason
    running = rs.forecast_restart(c, snapshot(proc(7, "kubelet")), 137)
    assert running.verdict == rs.YES and running.by == "kubelet" and "pod shop/web-0" in running.reason
    assert running.policy is not None and running.policy.restart_count == 4


def test_a_killed_sandbox_recreates_the_pod():
    c = Container(id=ID, runtime="cri-o", cgroup="/", pod=Pod("web-0", "shop", "u1"), sandbox=True)
    f = rs.forecast_restart(c, snapshot(proc(7, "kubelet", ["/usr/bin/kubelet"])), 137)
    assert f.verdict == rs.YES and "sandbox" in f.reason


def test_lxc_never_restarts_on_exit_and_autostart_is_only_at_boot():
    c = Container(
        id="web",
        runtime="lxc",
        cgroup="/lxc.payload.web",
        restart_policy=RestartPolicy("lxc-autostart", source="/var/lib/lxc/web/config"),
    )
    killed = rs.forecast_restart(c, snapshot(), 137)
    assert killed.verdict == rs.NO and "when the host boots" in killed.reason
    decided = rs.forecast_restart(c, snapshot(), None)  # its init handles the signal: it may reboot
    assert decided.verdict == rs.MAYBE and "reboots" in decided.reason


def test_unknown_runtimes_say_so():
    c = Container(id="pidns-4026532000", runtime="unknown", cgroup="/")
    assert rs.forecast_restart(c, snapshot(), 137).verdict == rs.UNKNOWN
    nspawn = Container(id="m", runtime="nspawn", cgroup="/machine.slice/machine-m.scope")
    assert "systemd-nspawn@" in rs.forecast_restart(nspawn, snapshot(), 137).reason
