"""A host root copied from real testbed processes (tests/fixtures/capture.py): Docker, Podman, LXC and a
Kubernetes-style containerd container as the kernel and the engines really wrote them, scanned via --host-root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ctrlens.host import Host
from ctrlens.scanner import scan

ROOT = Path(__file__).parent.parent / "fixtures" / "proc" / "testbed-real"
DOCKER_ID = "62e8a369daa4d2b08a193bd5c57b3306ad68fa9684dfe8dfb8e5d936db4a4d51"
PODMAN_ID = "7d9068ea15c36deff0821b26ee11cd8611221b4c368c879bcdc88ac6cdfd0aca"
KUBE_ID = "383e1c1ec968b3346f16bb88e0179b6f969d400823ce4528a951e1a0c1926220"


def by_name():
    return {c.name: c for c in scan(Host(str(ROOT))).containers.values()}


def test_every_captured_container_is_named_with_its_runtime_and_image():
    found = {name: (c.runtime, c.image) for name, c in by_name().items()}
    assert found["t1"] == ("docker", "ctrlens-bb:1")
    assert found["p1"] == ("podman", "localhost/ctrlens-bb:1")
    assert found["l1"][0] == "lxc"
    assert found["mypod/app"][0] == "containerd"


def test_ids_and_shims_match_what_the_engines_wrote():
    containers = by_name()
    assert containers["t1"].id == DOCKER_ID and containers["t1"].engine_namespace == "moby"
    assert containers["p1"].id == PODMAN_ID
    kube = containers["mypod/app"]
    assert kube.id == KUBE_ID and kube.pod.qos == "besteffort" and kube.engine_namespace == "k8s.io"
    for c in containers.values():
        assert c.shim_pid is not None, c.name


def test_no_host_process_is_attributed_to_a_container():
    snapshot = scan(Host(str(ROOT)))
    for proc in snapshot.processes.values():
        if proc.container_id is None:
            continue
        assert proc.pid_ns != snapshot.host_namespaces["pid"], proc.command


def test_cli_reads_the_capture_through_host_root():
    out = subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", "--host-root", str(ROOT), "containers", "-o", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CTRLENS_HOST_ROOT": ""},
    )
    names = sorted(c["name"] for c in json.loads(out.stdout))
    assert names == ["l1", "mypod/app", "p1", "t1"]
