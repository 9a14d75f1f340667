"""`ctrlens exec`: host tools (iproute2's ss and ip, coreutils' ls, busybox-static) run inside a busybox
container's namespaces, against a hardened container (read-only root, no capabilities, no-new-privileges).

What a user checks: the listening port and interfaces are the container's, not the host's; `ls /` in the mount
namespace lists the container's root; the exit status is the program's.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from act_helpers import assert_one_line_error, ctrlens, wait_for

from testbed import unique_name

pytestmark = pytest.mark.integration

PORT = 18473  # unusual, so that the host is not listening on it too
MARKER = "act-exec-marker"
HARDENED = ("--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--tmpfs", "/tmp")


def host_listens(port: int) -> bool:
    out = subprocess.run(["ss", "-Hlnt"], capture_output=True, text=True, check=True).stdout
    return any(line.split()[3].endswith(f":{port}") for line in out.splitlines() if len(line.split()) > 3)


@pytest.fixture(scope="module")
def web(testbed):
    """A hardened busybox container listening on PORT, with a marker file at its root."""
    c = testbed.run_docker(
        unique_name("act-exec"), *HARDENED, "-v", f"{MARKER}:/{MARKER}", cmd=("httpd", "-f", "-p", str(PORT))
    )
    assert wait_for(lambda: os.path.exists(f"/proc/{c.pid}/root/{MARKER}"))
    yield c
    testbed.remove(c)
    testbed.docker("volume", "rm", "-f", MARKER, check=False)


def test_ss_from_the_host_sees_the_containers_listening_port(web):
    assert not host_listens(PORT)
    res = ctrlens("exec", web.name, "--", "ss", "-Hlnt")
    assert res.returncode == 0, res.stderr
    assert f":{PORT}" in res.stdout
    assert f"/proc/{web.pid}/root" in res.stderr  # where the container's files are, said on stderr


def test_ip_addr_shows_the_containers_interfaces_not_the_hosts(web):
    host = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    inside = ctrlens("exec", web.name, "--ns", "net", "--", "ip", "-o", "link")
    assert inside.returncode == 0, inside.stderr
    names = [line.split(":")[1].strip() for line in inside.stdout.splitlines()]
    assert names == ["lo"]  # --network none: only loopback
    assert len(host.splitlines()) > 1  # the host has more
    addr = ctrlens("exec", web.name, "--", "ip", "-o", "addr")
    assert "127.0.0.1/8" in addr.stdout


def test_ls_in_the_mount_namespace_lists_the_containers_root(web):
    res = ctrlens("exec", web.name, "--ns", "net,pid,uts,ipc,mnt", "--", "ls", "-A", "/")
    assert res.returncode == 0, res.stderr
    listed = set(res.stdout.split())
    assert MARKER in listed
    assert listed == set(os.listdir(f"/proc/{web.pid}/root"))
    assert "dynamically linked" in res.stderr  # says how a host ls runs there


def test_static_busybox_in_mount_and_pid_namespaces_sees_the_containers_processes(web):
    assert shutil.which("busybox"), "busybox-static is installed by `python -m testbed install`"
    res = ctrlens("exec", web.name, "--ns", "pid,mnt", "--", "busybox", "ps")
    assert res.returncode == 0, res.stderr
    first = res.stdout.splitlines()[1].split()
    assert first[0] == "1" and "httpd" in first[-4:]  # its init is PID 1 there


def test_without_mnt_the_root_is_reachable_through_ctrlens_root(web):
    res = ctrlens("exec", web.name, "-q", "--", "sh", "-c", 'ls "$CTRLENS_ROOT"; hostname')
    assert res.returncode == 0, res.stderr
    assert MARKER in res.stdout.split()
    assert res.stdout.split()[-1] == web.id[:12]  # the uts namespace: the container's hostname
    assert res.stderr == ""  # -q


def test_the_exit_status_is_the_programs(web):
    assert ctrlens("exec", web.name, "-q", "--", "sh", "-c", "exit 7").returncode == 7
    killed = ctrlens("exec", web.name, "-q", "--", "sh", "-c", "kill -TERM $$")
    assert killed.returncode == 128 + 15


def test_bad_input_is_one_line_and_non_zero(web, testbed):
    missing = ctrlens("exec", web.name, "--", "act-no-such-tool")
    assert_one_line_error(missing)
    assert missing.returncode == 127 and "command not found on the host" in missing.stderr
    gone = ctrlens("exec", "act-exec-no-such-container", "--", "ls")
    assert_one_line_error(gone)
    assert gone.returncode == 3
    bad_ns = ctrlens("exec", web.name, "--ns", "net,bogus", "--", "ls")
    assert_one_line_error(bad_ns)
    assert bad_ns.returncode == 2
    script = shutil.which("lsb_release") or shutil.which("ldd")  # shell scripts on Debian
    if script:
        res = ctrlens("exec", web.name, "--ns", "pid,mnt", "--", script)
        assert_one_line_error(res)
        assert res.returncode == 126 and "is a script" in res.stderr
    no_cmd = ctrlens("exec", web.name)
    assert_one_line_error(no_cmd)
    assert no_cmd.returncode == 2


def test_a_container_that_exited_is_not_found(testbed):
    c = testbed.run_docker(unique_name("act-exec"))
    testbed.remove(c)
    res = ctrlens("exec", c.name, "--", "ls")
    assert_one_line_error(res)
    assert res.returncode == 3


@pytest.mark.parametrize("runtime", ["podman", "containerd", "kube", "lxc"])
def test_other_runtimes_are_entered_the_same_way(testbed, runtime):
    name = unique_name("act-exec")
    start = {
        "podman": lambda: testbed.run_podman(name),
        "containerd": lambda: testbed.run_ctr(name),
        "kube": lambda: testbed.run_kube_style(name, "act-space", "app"),
        "lxc": lambda: testbed.run_lxc(name),
    }[runtime]
    c = start()
    try:
        ref = c.id if runtime == "kube" else c.name
        links = ctrlens("exec", ref, "-q", "--ns", "net", "--", "ip", "-o", "link")
        assert links.returncode == 0, links.stderr
        assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]
        root = ctrlens("exec", ref, "-q", "--ns", "pid,mnt", "--", "ls", "-A", "/")
        assert root.returncode == 0, root.stderr
        assert set(root.stdout.split()) == set(os.listdir(f"/proc/{c.pid}/root")) >= {"bin", "etc"}
    finally:
        testbed.remove(c)
