"""Snapshot diffs into watch events, on fixture host roots scanned before and after a change."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from ctrlens.host import Host
from ctrlens.scanner import scan
from ctrlens.secrets import Fingerprinter
from ctrlens.secrets.redact import Redactor
from ctrlens.watch import diff
from ctrlens.watch.events import TYPES, Event, timestamp
from tests.fixtures.proctree import FakeProcess, HostTree, shim_v2, v1


def argv_masker():
    return Redactor(Fingerprinter.for_run()).cached_argv


def keep(argv: list[str]) -> list[str]:
    return argv


def cid(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


A, B = cid("a"), cid("b")


@pytest.fixture
def tree(tmp_path):
    tree = HostTree(tmp_path)
    tree.container(
        shim=shim_v2(100, "moby", A), pid=101, comm="sleep", argv=["sleep", "1d"], cgroup=v1(f"/docker/{A}")
    )
    return tree


def snap(tree: HostTree):
    return scan(Host(str(tree.root)))


def remove(tree: HostTree, *pids: int) -> None:
    for pid in pids:
        shutil.rmtree(tree.root / "proc" / str(pid))


def test_started_and_stopped_in_stable_order(tree):
    before = snap(tree)
    remove(tree, 100, 101)
    tree.container(
        shim=shim_v2(200, "moby", B),
        pid=201,
        comm="nginx",
        argv=["nginx", "-g", "daemon off;"],
        cgroup=v1(f"/docker/{B}"),
        workers=1,
    )
    events = diff.diff(before, snap(tree), 1_800_000_000.5, keep)
    assert [(e.type, e.container["id"]) for e in events] == [
        ("container.stopped", A),
        ("container.started", B),
    ]
    started = events[1]
    assert started.detail["process"]["pid"] == 201 and started.detail["process"]["argv"][0] == "nginx"
    assert started.detail["processes"] == 2
    assert events[0].detail["init_pid"] == 101


def test_new_process_in_a_known_container_only(tree):
    before = snap(tree)
    tree.add(
        FakeProcess(
            102,
            101,
            "sh",
            ["sh", "-c", "id"],
            v1(f"/docker/{A}"),
            pid_ns=4026532500,
            mnt_ns=4026532501,
            nspid=[102, 7],
        )
    )
    events = diff.diff(before, snap(tree), 0.0, keep)
    assert [
        (e.type, e.detail["process"]["pid"], e.detail["process"]["pid_in_container"]) for e in events
    ] == [("process.started", 102, 7)]


def test_a_reused_pid_is_a_new_process_and_a_restart_is_stop_then_start(tree):
    before = snap(tree)
    remove(tree, 101)
    tree.add(
        FakeProcess(
            101,
            100,
            "sleep",
            ["sleep", "1d"],
            v1(f"/docker/{A}"),
            pid_ns=4026532500,
            mnt_ns=4026532501,
            nspid=[101, 1],
            start_ticks=5000,
        )
    )
    events = diff.diff(before, snap(tree), 0.0, keep)
    assert [e.type for e in events] == ["container.stopped", "container.started"]


def test_a_container_still_being_created_is_not_started_yet(tree):
    before = snap(tree)
    tree.container(
        shim=shim_v2(200, "moby", B),
        pid=201,
        comm="runc:[2:INIT]",
        argv=["runc", "init"],
        cgroup=v1(f"/docker/{B}"),
    )
    assert diff.diff(before, snap(tree), 0.0, keep) == []


def test_argv_goes_through_the_mask(tree):
    before = snap(tree)
    tree.add(
        FakeProcess(
            103,
            101,
            "mysql",
            ["mysql", "-phunter2"],
            v1(f"/docker/{A}"),
            pid_ns=4026532500,
            mnt_ns=4026532501,
            nspid=[103, 9],
        )
    )
    (event,) = diff.diff(before, snap(tree), 0.0, argv_masker())
    shown = event.detail["process"]["argv"]
    assert shown[0] == "mysql" and shown[1].startswith("-p<redacted: secret-name, 7 chars, fp ")
    assert "hunter2" not in json.dumps(event.to_dict())
    assert argv_masker()(["sleep", "10"]) == ["sleep", "10"]


def test_event_json_has_the_stable_keys():
    event = Event(
        "container.started",
        1_800_000_000.25,
        {"id": "x", "name": None, "runtime": "docker", "image": None, "pod": None, "namespace": None},
        {"processes": 1},
    )
    record = json.loads(json.dumps(event.to_dict("node-1")))
    assert list(record)[:4] == ["ts", "type", "host", "container"]
    assert record["ts"] == "2027-01-15T08:00:00.250000Z" == timestamp(1_800_000_000.25)
    assert record["type"] in TYPES and record["host"] == "node-1"
