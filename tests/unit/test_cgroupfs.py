"""The one cgroupfs reader: where the hierarchies are (v1, hybrid, v2) and a process's directory per controller,
as the audit, `top` and the exporter all see them (under --host-root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrlens.cgroupfs import CgroupMounts, controller_dir, discover_layout, read_value
from ctrlens.host import Host
from ctrlens.procfs import parse_cgroup

CG = "/docker/abc"


def _host(tmp_path: Path, layout: str) -> Host:
    base = tmp_path / "sys/fs/cgroup"
    if layout == "v2":
        (base / CG.lstrip("/")).mkdir(parents=True)
        (base / "cgroup.controllers").write_text("cpu memory pids\n")
        (base / CG.lstrip("/") / "pids.max").write_text("max\n")
    else:
        for name in ("cpu,cpuacct", "memory", "pids", "systemd"):
            (base / name / CG.lstrip("/")).mkdir(parents=True)
        (base / "cpu").symlink_to("cpu,cpuacct")
        (base / "pids" / CG.lstrip("/") / "pids.max").write_text("100\n")
        if layout == "hybrid":
            (base / "unified" / CG.lstrip("/")).mkdir(parents=True)
            (base / "unified/cgroup.controllers").write_text("")
    return Host(str(tmp_path))


V1_LINES = parse_cgroup(
    f"5:pids:{CG}\n4:memory:{CG}\n3:cpu,cpuacct:{CG}\n1:name=systemd:{CG}\n0::{CG}\n".encode()
)


@pytest.mark.parametrize(
    ("layout", "v1_pids", "v2"),
    [
        ("v1", "/sys/fs/cgroup/pids", None),
        ("hybrid", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"),
        ("v2", None, "/sys/fs/cgroup"),
    ],
)
def test_layout_is_found_once_for_every_mount_style(tmp_path: Path, layout: str, v1_pids, v2) -> None:
    found = discover_layout(_host(tmp_path, layout))
    assert found.v1.get("pids") == v1_pids
    assert found.v2 == v2
    if layout != "v2":
        assert found.v1["cpuacct"].endswith(("/cpu,cpuacct", "/cpu"))
        assert found.v1["name=systemd"] == found.v1["systemd"]  # /proc/PID/cgroup names it so


def test_a_v1_line_wins_over_v2_on_hybrid_hosts(tmp_path: Path) -> None:
    host = _host(tmp_path, "hybrid")
    layout = discover_layout(host)
    found = controller_dir(layout, V1_LINES, "pids", "pids.max", lambda p: Path(host.path(p)).exists())
    assert found is not None and (found.path, found.version) == (f"/sys/fs/cgroup/pids{CG}", 1)
    assert read_value(host, f"{found.path}/pids.max") == "100"
    assert found.ancestors() == [
        f"/sys/fs/cgroup/pids{CG}",
        "/sys/fs/cgroup/pids/docker",
        "/sys/fs/cgroup/pids",
    ]


def test_v2_is_used_only_where_the_controller_put_its_file(tmp_path: Path) -> None:
    host = _host(tmp_path, "v2")
    layout = discover_layout(host)
    lines = parse_cgroup(f"0::{CG}\n".encode())
    exists = lambda p: Path(host.path(p)).exists()  # noqa: E731
    found = controller_dir(layout, lines, "pids", "pids.max", exists)
    assert found is not None and (found.path, found.version) == (f"/sys/fs/cgroup{CG}", 2)
    assert controller_dir(layout, lines, "memory", "memory.max", exists) is None


def test_top_and_exporter_paths_are_this_machines_paths_under_the_host_root(tmp_path: Path) -> None:
    host = _host(tmp_path, "hybrid")
    mounts = CgroupMounts(host)
    assert mounts.v2 == f"{tmp_path}/sys/fs/cgroup/unified"
    assert "name=systemd" not in mounts.v1
    assert mounts.value_files(V1_LINES, CG, "pids", "pids.max") == [
        f"{tmp_path}/sys/fs/cgroup/pids{CG}/pids.max",
        f"{tmp_path}/sys/fs/cgroup/unified{CG}/pids.max",
    ]
