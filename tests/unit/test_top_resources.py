"""The resource sampler on fixture host roots: where each cgroup layout keeps the counters, and the rates."""

from __future__ import annotations

from pathlib import Path

from ctrlens.cgroupfs import CgroupMounts, stat_value
from ctrlens.host import Host
from ctrlens.model import Container, Process, Snapshot
from ctrlens.procfs import parse_stat
from ctrlens.tui.resources import CLOCK_TICKS, PAGE_SIZE, ResourceSampler

CID = "c" * 64
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "name=systemd")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def host_root(tmp_path: Path, layout: str) -> Path:
    """A host root with one process (pid 100) in /docker/<CID>, under the cgroup `layout`."""
    cg = f"/docker/{CID}"
    if layout == "v2":
        lines = f"0::{cg}\n"
        write(tmp_path / "sys/fs/cgroup/cgroup.controllers", "cpu memory\n")
        d = tmp_path / "sys/fs/cgroup" / cg.lstrip("/")
        write(d / "cpu.stat", "usage_usec 1000000\nuser_usec 1\nsystem_usec 1\n")
        write(d / "memory.current", "104857600\n")
        write(d / "memory.max", "536870912\n")
        write(d / "memory.stat", "anon 1\nactive_file 5\ninactive_file 4194304\n")
    else:
        # Debian/Ubuntu hybrid: cpu and cpuacct co-mounted as "cpu,cpuacct", plus an empty unified tree.
        lines = "".join(f"{i}:{c}:{cg}\n" for i, c in enumerate(("cpu,cpuacct", "memory", "name=systemd"), 1))
        lines += f"0::{cg}\n"
        write(tmp_path / "sys/fs/cgroup/unified/cgroup.controllers", "")
        cpu = tmp_path / "sys/fs/cgroup/cpu,cpuacct" / cg.lstrip("/")
        write(cpu / "cpuacct.usage", "1000000000\n")
        mem = tmp_path / "sys/fs/cgroup/memory" / cg.lstrip("/")
        write(mem / "memory.usage_in_bytes", "104857600\n")
        write(mem / "memory.limit_in_bytes", "9223372036854771712\n")
        write(mem / "memory.stat", "cache 1\ninactive_file 2\ntotal_cache 3\ntotal_inactive_file 4194304\n")
    write(tmp_path / "proc/100/cgroup", lines)
    return tmp_path


def snapshot(cpu_ticks: int, start_ticks: int = 500) -> Snapshot:
    p = Process(
        pid=100,
        ppid=1,
        uid=0,
        comm="app",
        cmdline=["app"],
        state="S",
        start_ticks=start_ticks,
        cgroup=f"/docker/{CID}",
        container_id=CID,
        cpu_ticks=cpu_ticks,
        rss_pages=256,
    )
    c = Container(CID, "docker", f"/docker/{CID}", name="app", init_pid=100, pids=[100])
    return Snapshot({100: p}, {CID: c})


def test_v1_hybrid_reads_cpuacct_and_memory_minus_inactive_cache(tmp_path):
    sampler = ResourceSampler(Host(str(host_root(tmp_path, "v1"))))
    files = sampler.files_of(snapshot(0).containers[CID])
    assert files.cpu.endswith(f"cpu,cpuacct/docker/{CID}/cpuacct.usage") and files.cpu_version == "v1"
    assert files.memory_version == "v1" and files.memory_limit is None  # the v1 "no limit" number
    first = sampler.sample(snapshot(0))
    assert first.containers[CID].cpu_percent is None  # a rate needs two readings
    assert first.containers[CID].memory_bytes == 100 * 2**20 - 4 * 2**20
    assert first.containers[CID].source == "cgroup v1"


def test_v2_reads_cpu_stat_memory_current_and_the_limit(tmp_path):
    root = host_root(tmp_path, "v2")
    sampler = ResourceSampler(Host(str(root)))
    sampler.sample(snapshot(0))
    d = root / "sys/fs/cgroup/docker" / CID
    (d / "cpu.stat").write_text("usage_usec 1500000\nuser_usec 1\nsystem_usec 1\n")  # +0.5 s of CPU
    sampler._last_time -= 1.0  # one second between the samples, without sleeping
    second = sampler.sample(snapshot(CLOCK_TICKS // 4))
    ctr = second.containers[CID]
    assert ctr.source == "cgroup v2" and ctr.memory_limit == 512 * 2**20
    assert 45 < ctr.cpu_percent < 55  # 0.5 s in ~1 s
    proc = second.processes[100]
    assert 20 < proc.cpu_percent < 30 and proc.rss_bytes == 256 * PAGE_SIZE


def test_a_reused_pid_gets_no_rate_from_the_process_before_it(tmp_path):
    sampler = ResourceSampler(Host(str(host_root(tmp_path, "v2"))))
    sampler.sample(snapshot(1000, start_ticks=500))
    sampler._last_time -= 1.0
    after = sampler.sample(snapshot(5, start_ticks=900))  # same PID, another process
    assert after.processes[100].cpu_percent is None


def test_container_found_by_pid_namespace_sums_its_processes(tmp_path):
    sampler = ResourceSampler(Host(str(host_root(tmp_path, "v2"))))
    snap = snapshot(0)
    snap.containers[CID].cgroup = "/"  # no cgroup of its own: the root's counters are the whole host's
    assert sampler.sample(snap).containers[CID].source == "processes"


def test_mount_discovery_and_stat_value():
    assert stat_value(b"usage_usec 12\nuser_usec 3\n", "user_usec") == 3
    assert stat_value(b"usage_usec 12\n", b"usage_usec") == 12
    assert stat_value(b"xusage_usec 1\n", "usage_usec") is None
    assert CgroupMounts(Host("/nonexistent-root")).v1 == {}


def test_parse_stat_gives_cpu_ticks_and_rss():
    stat = parse_stat(b"42 (a) b) S 1 42 42 0 -1 4194560 10 0 0 0 70 30 0 0 20 0 1 0 1234 5000 99 1844\n")
    assert stat.comm == "a) b" and stat.cpu_ticks == 100 and stat.start_ticks == 1234 and stat.rss_pages == 99
