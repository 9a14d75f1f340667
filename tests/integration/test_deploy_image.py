"""The ctrlens image (deploy/image/Containerfile), built with no registry and no index by
deploy/image/build_offline.py, runs as the DaemonSet runs it: host PIDs, the host's / read-only at /host, a
read-only root filesystem, every capability dropped but SYS_PTRACE and DAC_READ_SEARCH; it must list a known
testbed container and export its posture gauges."""

from __future__ import annotations

import importlib.util
import json
import secrets
from pathlib import Path

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
AS_THE_DAEMONSET = (
    "--rm",
    "--network",
    "none",
    "--pid",
    "host",
    "-v",
    "/:/host:ro",
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--cap-add",
    "SYS_PTRACE",
    "--cap-add",
    "DAC_READ_SEARCH",
    "--security-opt",
    "no-new-privileges",
)


def load_builder():
    spec = importlib.util.spec_from_file_location(
        "build_offline", REPO / "deploy" / "image" / "build_offline.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def image(testbed, tmp_path_factory):
    suffix = secrets.token_hex(4)
    tag, base = f"ctrlens-fleet:{suffix}", f"ctrlens-fleet-base:{suffix}"
    builder = load_builder()
    try:
        builder.build(testbed.docker, tag=tag, base_tag=base, workdir=tmp_path_factory.mktemp("image"))
        yield tag
    finally:
        testbed.docker("rmi", "-f", tag, base, check=False)


@pytest.fixture(scope="module")
def known(testbed):
    started = testbed.run_docker(unique_name("fleet-known"), "--pid", "host")
    yield started
    testbed.remove(started)


def run_image(testbed, image: str, *args: str, caps: tuple[str, ...] = AS_THE_DAEMONSET) -> str:
    name = unique_name("fleet-img")
    res = testbed.docker("run", "--name", name, *caps, image, *args, check=False, timeout=120)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_image_lists_a_known_testbed_container(testbed, image, known):
    listed = json.loads(run_image(testbed, image, "--host-root", "/host", "containers", "-o", "json"))
    mine = [c for c in listed if c["id"] == known.id]
    assert mine, [c["name"] for c in listed]
    assert mine[0]["name"] == known.name
    assert mine[0]["runtime"] == "docker"
    assert mine[0]["init_pid"] == known.pid  # host PIDs, not the image's own namespace


def test_image_exports_posture_with_only_its_two_capabilities(testbed, image, known):
    text = run_image(testbed, image, "serve", "--print")  # CTRLENS_HOST_ROOT=/host comes from the image
    lines = [line for line in text.splitlines() if f'id="{known.id}"' in line]
    assert any(
        line.startswith("ctrlens_container_info{") and f'name="{known.name}"' in line for line in lines
    )
    # Namespace links need CAP_SYS_PTRACE: present, and --pid host is seen as sharing the host's PID namespace.
    assert f'ctrlens_container_host_namespace{{id="{known.id}",type="pid"}} 1.0' in lines
    assert f'ctrlens_container_host_namespace{{id="{known.id}",type="net"}} 0.0' in lines
    assert f'ctrlens_container_runs_as_root{{id="{known.id}"}} 1.0' in lines
    assert 'ctrlens_exporter_errors_total{stage="posture"} 0.0' in text


def test_image_without_the_host_mount_fails_in_one_line(testbed, image):
    name = unique_name("fleet-img")
    res = testbed.docker("run", "--name", name, "--rm", "--network", "none", image, "containers", check=False)
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "--host-root /host" in res.stderr


NO_CAPABILITIES = tuple(
    a for a in AS_THE_DAEMONSET if a not in ("--cap-add", "SYS_PTRACE", "DAC_READ_SEARCH")
)


def test_capability_table_without_any_capability(testbed, image, known):
    """docs/operators.md: `containers` needs none; `serve` without SYS_PTRACE loses the namespace gauges and says
    so in ctrlens_exporter_errors_total instead of exporting wrong values."""
    listed = json.loads(run_image(testbed, image, "containers", "-o", "json", caps=NO_CAPABILITIES))
    assert any(c["id"] == known.id and c["name"] == known.name for c in listed)
    text = run_image(
        testbed, image, "serve", "--print", "--skip", "secrets", "--skip", "drift", caps=NO_CAPABILITIES
    )
    assert f'ctrlens_container_info{{id="{known.id}"' in text
    assert f'ctrlens_container_host_namespace{{id="{known.id}"' not in text
    errors = [
        line
        for line in text.splitlines()
        if line.startswith('ctrlens_exporter_errors_total{stage="posture"}')
    ]
    assert errors and float(errors[0].split()[-1]) > 0


def test_image_lists_real_cri_pods_as_the_host_does(testbed, image):
    """The DaemonSet against real pods: a containerd-CRI pod and a hostNetwork cri-dockerd-style pod are listed
    by the image exactly as `ctrlens pods` lists them on the host (identity, containers, processes, flags)."""
    import shutil
    import subprocess

    if "cri" not in testbed.state.get("containerd", {}):
        pytest.skip("this testbed was started before it enabled containerd's CRI plugin: restart it")
    made = [
        testbed.run_cri_pod(unique_name("fleet-pod"), "fleet", "burstable"),
        testbed.run_dockershim_pod(unique_name("fleet-dpod"), "fleet", "besteffort", host_network=True),
    ]
    try:
        host = subprocess.run(
            [shutil.which("ctrlens") or "ctrlens", "pods", "-n", "fleet", "-o", "json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        in_image = run_image(testbed, image, "--host-root", "/host", "pods", "-n", "fleet", "-o", "json")
        keys = ("namespace", "name", "uid", "qos", "sandbox_id", "host_network", "host_pid", "pids")

        def view(text: str) -> dict:
            return {
                r["uid"]: {k: r[k] for k in keys} | {"ids": {c["id"] for c in r["containers"]}}
                for r in json.loads(text)
            }

        got, want = view(in_image), view(host.stdout)
        assert {pod.uid for pod in made} <= set(want)
        for pod in made:
            assert got[pod.uid] == want[pod.uid]
            assert (got[pod.uid]["name"], got[pod.uid]["host_network"]) == (pod.name, pod.host_network)
    finally:
        for pod in made:
            testbed.remove_pod(pod)
