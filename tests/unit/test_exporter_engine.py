"""The collection engine and the collector on fixture host roots: a docker container on a hybrid cgroup v1 host
whose counter files hold values read from this kind of machine; caching, bounds, errors, the slow budget."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from ctrlens.errors import ProcessGone
from ctrlens.exporter.catalog import BY_NAME
from ctrlens.exporter.engine import Engine, label
from ctrlens.exporter.server import build_registry
from ctrlens.exporter.sources import CgroupSource, PostureSource, Sample
from ctrlens.host import Host
from tests.fixtures.proctree import FakeProcess, HostTree, shim_v2, v1


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


WEB = cid("web")
CACHE = cid("cache")


def cgroup_files(root: Path, path: str, files: dict[str, str]) -> None:
    for controller_dir, name, value in (
        ("cpu,cpuacct", "cpuacct.usage", files.get("cpuacct.usage")),
        ("memory", "memory.usage_in_bytes", files.get("memory.usage_in_bytes")),
        ("memory", "memory.limit_in_bytes", files.get("memory.limit_in_bytes")),
        ("memory", "memory.stat", files.get("memory.stat")),
        ("pids", "pids.max", files.get("pids.max")),
    ):
        if value is not None:
            target = root / "sys/fs/cgroup" / controller_dir / path.lstrip("/") / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(value)


@pytest.fixture
def host(tmp_path) -> Host:
    tree = HostTree(tmp_path)
    (tmp_path / "sys/fs/cgroup/unified").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/unified/cgroup.controllers").write_text("")
    for name, container_id, pid in (("web", WEB, 101), ("cache", CACHE, 201)):
        tree.container(
            shim=shim_v2(pid - 1, "moby", container_id),
            pid=pid,
            comm="sleep",
            argv=["sleep", "1d"],
            cgroup=v1(f"/docker/{container_id}"),
            workers=1 if name == "web" else 0,
        )
        tree.file(
            f"/var/lib/docker/containers/{container_id}/config.v2.json",
            {"Name": f"/{name}", "Config": {"Image": "ctrlens-bb:1"}},
        )
    # Values as this machine's cgroup v1 files print them (docker 20.10, cgroupfs driver).
    cgroup_files(
        tmp_path,
        f"/docker/{WEB}",
        {
            "cpuacct.usage": "18422101\n",
            "memory.usage_in_bytes": "483328\n",
            "memory.limit_in_bytes": "67108864\n",
            "pids.max": "50\n",
            "memory.stat": "cache 12288\nrss 208896\ntotal_inactive_file 12288\ntotal_active_file 0\n",
        },
    )
    cgroup_files(
        tmp_path,
        f"/docker/{CACHE}",
        {
            "cpuacct.usage": "2500000000\n",
            "memory.usage_in_bytes": "1048576\n",
            "memory.limit_in_bytes": "9223372036854771712\n",
            "pids.max": "max\n",
            "memory.stat": "total_inactive_file 0\n",
        },
    )
    return Host(str(tmp_path))


def values(collection, metric: str) -> dict[tuple[str, ...], float]:
    return dict(collection.values(metric))


def test_identity_processes_and_cgroup_counters(host):
    collection = Engine(host, [CgroupSource(host)]).collect()
    assert collection.ok and collection.containers == 2
    info = values(collection, "ctrlens_container_info")
    assert info == {
        (WEB, "web", "docker", "ctrlens-bb:1", "", ""): 1.0,
        (CACHE, "cache", "docker", "ctrlens-bb:1", "", ""): 1.0,
    }
    assert values(collection, "ctrlens_container_processes") == {(WEB,): 2.0, (CACHE,): 1.0}
    assert values(collection, "ctrlens_container_cpu_seconds_total") == {(WEB,): 0.018422101, (CACHE,): 2.5}
    # usage less inactive page cache, as `docker stats` shows it
    assert values(collection, "ctrlens_container_memory_bytes") == {(WEB,): 483328 - 12288, (CACHE,): 1048576}
    assert values(collection, "ctrlens_container_memory_limit_bytes") == {(WEB,): 67108864}
    assert values(collection, "ctrlens_container_memory_unlimited") == {(WEB,): 0.0, (CACHE,): 1.0}
    assert values(collection, "ctrlens_container_pids_unlimited") == {(WEB,): 0.0, (CACHE,): 1.0}
    assert values(collection, "ctrlens_containers") == {("docker",): 2.0}


def test_limit_flags_are_left_to_audit_when_it_runs(host):
    collection = Engine(host, [CgroupSource(host, limit_flags=False)]).collect()
    assert not collection.values("ctrlens_container_memory_unlimited")
    assert values(collection, "ctrlens_container_memory_limit_bytes") == {(WEB,): 67108864}


def test_scrapes_within_the_ttl_share_a_collection(host):
    engine = Engine(host, [CgroupSource(host)], cache_ttl=60)
    first = engine.collect()
    assert engine.collect() is first and engine.collections == 1
    fresh = Engine(host, [CgroupSource(host)], cache_ttl=0)
    assert fresh.collect() is not fresh.collect() and fresh.collections == 2


def test_max_containers_bounds_the_series(host):
    collection = Engine(host, [CgroupSource(host)], max_containers=1).collect()
    assert collection.omitted == 1
    assert len(collection.values("ctrlens_container_info")) == 1
    assert values(collection, "ctrlens_containers") == {("docker",): 2.0}  # the count still sees both


def test_labels_are_printable_and_bounded():
    assert label("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    long = label("x" * 500)
    assert len(long) == 200 and long.endswith("…")
    assert label(None) == ""


class Failing:
    stage = "drift"
    ttl = 60.0
    expensive = False

    def __init__(self, error: Exception) -> None:
        self.error = error

    def measure(self, container, snapshot):
        raise self.error


def test_a_failing_source_is_counted_and_the_rest_still_report(host):
    engine = Engine(host, [Failing(OSError(5, "Input/output error")), CgroupSource(host)])
    collection = engine.collect()
    assert engine.errors["drift"] == 2  # one per container
    assert len(collection.values("ctrlens_container_cpu_seconds_total")) == 2


def test_a_container_that_exits_mid_collection_is_not_an_error(host):
    engine = Engine(host, [Failing(ProcessGone("process 101 has exited"))])
    engine.collect()
    assert engine.errors["drift"] == 0


class Slow:
    stage = "audit"
    ttl = 60.0
    expensive = True

    def __init__(self) -> None:
        self.calls = 0

    def measure(self, container, snapshot):
        self.calls += 1
        return [Sample("ctrlens_container_privileged", (), 0.0)]


def test_slow_sources_wait_when_the_budget_is_spent(host):
    slow = Slow()
    engine = Engine(host, [slow], cache_ttl=0, slow_budget=0)
    starved = engine.collect()
    assert starved.pending == 2 and not starved.values("ctrlens_container_privileged")
    engine.slow_budget = 10
    fed = engine.collect()
    assert fed.pending == 0 and len(fed.values("ctrlens_container_privileged")) == 2
    engine.collect()
    assert slow.calls == 2  # cached for its ttl afterwards


# The root line of a docker container's mountinfo on this machine (overlay2 on ext4), then --read-only's.
ROOT_RW = (
    "1175 1052 0:95 / / rw,relatime master:496 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/"
    "AB:/var/lib/docker/overlay2/l/CD,upperdir=/var/lib/docker/overlay2/e1/diff,workdir=/var/lib/docker/"
    "overlay2/e1/work\n"
)
ROOT_RO = ROOT_RW.replace("/ / rw,relatime", "/ / ro,relatime")


def test_posture_source_reads_namespaces_root_and_rootfs(host):
    proc = Path(host.proc)
    (proc / "101/mountinfo").write_text(ROOT_RW)
    (proc / "201/mountinfo").write_text(ROOT_RO)
    collection = Engine(host, [PostureSource(host)]).collect()
    shared = values(collection, "ctrlens_container_host_namespace")
    # Fixture processes carry ns/pid and ns/mnt links only: the other types are unknown, so absent.
    assert {k[1] for k in shared if k[0] == WEB} == {"pid", "mnt"}
    assert shared[(WEB, "pid")] == 0.0 and shared[(WEB, "mnt")] == 0.0
    assert values(collection, "ctrlens_container_runs_as_root")[(WEB,)] == 1.0
    assert values(collection, "ctrlens_container_rootfs_writable") == {(WEB,): 1.0, (CACHE,): 0.0}


def test_posture_of_a_container_whose_mountinfo_vanished_is_left_out(host):
    # A missing /proc/PID file means the process exited: no series, and no error counted.
    engine = Engine(host, [PostureSource(host)])
    collection = engine.collect()
    assert not collection.values("ctrlens_container_rootfs_writable")
    assert engine.errors["posture"] == 0


def test_collector_output_is_valid_exposition_of_catalog_metrics(host):
    engine = Engine(host, [CgroupSource(host), PostureSource(host)])
    text = generate_latest(build_registry(engine)).decode()
    families = list(text_string_to_metric_families(text))
    ours = [f for f in families if f.name.startswith("ctrlens_")]
    for family in ours:
        spec = BY_NAME.get(family.name) or BY_NAME[family.name + "_total"]
        assert family.type == spec.kind
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            assert set(sample.labels) == set(spec.labels), sample
    assert any(f.name == "process_resident_memory_bytes" for f in families)


class Following(Slow):
    ttl = 0.001
    follows_processes = True
    max_age = None


def test_a_source_following_processes_is_measured_again_only_when_they_change(host):
    following = Following()
    engine = Engine(host, [following], cache_ttl=0, slow_budget=10)
    engine.collect()
    time.sleep(0.01)  # past its ttl
    engine.collect()
    assert following.calls == 2  # same processes: no new measurement
    HostTree(Path(host.root)).add(
        FakeProcess(
            103, 101, "sh", ["sh"], v1(f"/docker/{WEB}"), pid_ns=4026532500, mnt_ns=4026532501, nspid=[103, 3]
        )
    )
    engine.collect()
    assert following.calls == 3  # web has a new process: measured again; cache untouched
