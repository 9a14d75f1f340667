"""`ctrlens env` and `ctrlens secrets` on live child processes: redaction in every format, SARIF validity,
processes that exit mid-read. A synthetic snapshot names the children a container; /proc is the real one."""

from __future__ import annotations

import argparse
import io
import json
import signal
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from ctrlens import sarif
from ctrlens.cli import finish
from ctrlens.commands import env as env_cmd
from ctrlens.commands import secrets as secrets_cmd
from ctrlens.host import Host
from ctrlens.model import Container, Process, Snapshot
from ctrlens.procfs import ProcHandle
from ctrlens.refs import Target
from ctrlens.secrets import collect, fingerprint, read_process

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"
DB_PASSWORD = "unit-Hunter2-Pw"
TOKEN = "ghp_" + "Zq9Xw8Ev7Rt6Yu5Io4Pa3Sd2Fg1Hj0Kl9Zx8"
ARG_SECRET = "argvS3cretTok42"
SECRETS = (DB_PASSWORD, TOKEN, ARG_SECRET)


@pytest.fixture()
def children():
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "DB_PASSWORD": DB_PASSWORD,
        "GITHUB_TOKEN": TOKEN,
        "NODE_VERSION": "20.11.1",
    }
    init = subprocess.Popen(["sh", "-c", f"sleep 60; : --token={ARG_SECRET}"], env=env)
    worker = subprocess.Popen(["sleep", "61"], env={**env, "WORKER_ID": "7"})
    time.sleep(0.2)  # let exec finish (an empty cmdline right after Popen is transient)
    yield init, worker
    for p in (init, worker):
        p.kill()
        p.wait()


@pytest.fixture(autouse=True)
def private_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "KEY_PATH", str(tmp_path / "fingerprint.key"))


def snapshot_of(*procs: subprocess.Popen) -> Snapshot:
    cid = "c0ffee" * 10 + "beef"
    processes = {
        p.pid: Process(
            pid=p.pid,
            ppid=1,
            uid=0,
            comm="sh",
            cmdline=[],
            state="S",
            start_ticks=0,
            cgroup="/docker/x",
            container_id=cid,
        )
        for p in procs
    }
    container = Container(
        id=cid,
        runtime="docker",
        cgroup=f"/docker/{cid}",
        name="unit-web",
        init_pid=procs[0].pid,
        pids=[p.pid for p in procs],
    )
    return Snapshot(processes=processes, containers={cid: container}, host_root="/")


class FakeContext:
    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.host = Host("/")
        self.out = io.StringIO()
        self.err = io.StringIO()

    def scan(self, *, refresh: bool = False) -> Snapshot:
        return self.snapshot

    def resolve(self, ref: str) -> Target:
        container = next(iter(self.snapshot.containers.values()))
        return Target(container, self.snapshot.processes[container.init_pid], False)

    def error(self, message: str) -> None:
        print(f"ctrlens: {message}", file=self.err)


def run(module, ctx: FakeContext, argv: list[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    code = finish(module, parser.parse_args(argv), ctx)  # the CLI's own path: run, then render
    return code, ctx.out.getvalue() + ctx.err.getvalue()


@pytest.mark.parametrize("fmt", ["table", "json", "ndjson", "sarif"])
def test_secrets_never_prints_a_value(children, fmt: str) -> None:
    ctx = FakeContext(snapshot_of(*children))
    code, text = run(secrets_cmd, ctx, ["-o", fmt])
    assert code == 0
    for secret in SECRETS:
        assert secret not in text
    assert "DB_PASSWORD" in text and "GITHUB_TOKEN" in text and "--token" in text
    assert "NODE_VERSION" not in text and "WORKER_ID" not in text


def test_secrets_json_reports_rules_pids_and_readers(children) -> None:
    init, worker = children
    ctx = FakeContext(snapshot_of(*children))
    run(secrets_cmd, ctx, ["-o", "json"])
    [record] = json.loads(ctx.out.getvalue())
    found = {(s["source"], s["name"]): s for s in record["secrets"]}
    assert set(found) == {("environ", "DB_PASSWORD"), ("environ", "GITHUB_TOKEN"), ("cmdline", "--token")}
    assert found["environ", "GITHUB_TOKEN"]["rule"] == "github-token"
    assert found["environ", "DB_PASSWORD"]["rule"] == "secret-name"
    assert sorted(found["environ", "DB_PASSWORD"]["pids"]) == sorted([init.pid, worker.pid])
    assert found["environ", "DB_PASSWORD"]["length"] == len(DB_PASSWORD)
    assert [r["kind"] for r in found["cmdline", "--token"]["readers"]] == ["everyone"]
    assert found["environ", "DB_PASSWORD"]["readers"][0]["kind"] == "root"
    assert record["processes_read"] == 2 and record["processes_gone"] == 0
    assert record["fingerprint_scope"] == "host"


def test_secrets_sarif_validates_against_the_sarif_2_1_0_schema(children) -> None:
    ctx = FakeContext(snapshot_of(*children))
    run(secrets_cmd, ctx, ["-o", "sarif"])
    log = json.loads(ctx.out.getvalue())
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} == {"secret-name", "github-token"}
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        names = [loc["kind"] for loc in result["locations"][0]["logicalLocations"]]
        assert names == ["variable", "resource"]
        assert result["locations"][0]["logicalLocations"][1]["name"] == "unit-web"


def test_sarif_writer_alone_validates_with_an_empty_run() -> None:
    log = sarif.sarif_log([sarif.SarifRule("x-rule", "XRule", "a rule", level="note")], [])
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    with pytest.raises(ValueError):
        sarif.SarifRule("x", "X", "bad", level="fatal").to_dict()


def test_fail_on_exits_1_only_when_asked(children) -> None:
    assert run(secrets_cmd, FakeContext(snapshot_of(*children)), [])[0] == 0
    assert run(secrets_cmd, FakeContext(snapshot_of(*children)), ["--fail-on"])[0] == 1
    assert run(secrets_cmd, FakeContext(snapshot_of(*children)), ["--fail-on", "error"])[0] == 1


@pytest.mark.parametrize("fmt", ["table", "json", "ndjson"])
def test_env_redacts_unless_reveal(children, fmt: str) -> None:
    _, text = run(env_cmd, FakeContext(snapshot_of(*children)), ["web", "-o", fmt])
    for secret in (DB_PASSWORD, TOKEN):
        assert secret not in text
    assert "<redacted: secret-name, 15 chars, fp " in text
    assert "<redacted: github-token, 40 chars, fp " in text
    assert "20.11.1" in text  # harmless values are shown
    _, revealed = run(env_cmd, FakeContext(snapshot_of(*children)), ["web", "--reveal", "-o", fmt])
    assert DB_PASSWORD in revealed and TOKEN in revealed


def test_env_shows_the_init_then_only_what_differs(children) -> None:
    init, worker = children
    ctx = FakeContext(snapshot_of(*children))
    run(env_cmd, ctx, ["web", "-o", "json"])
    rows = json.loads(ctx.out.getvalue())
    assert {r["name"] for r in rows if r["pid"] == init.pid} >= {
        "DB_PASSWORD",
        "GITHUB_TOKEN",
        "PATH",
        "LANG",
    }
    assert [r["name"] for r in rows if r["pid"] == worker.pid] == ["WORKER_ID"]
    ctx = FakeContext(snapshot_of(*children))
    run(env_cmd, ctx, ["web", "--all-processes", "-o", "json"])
    assert len([r for r in json.loads(ctx.out.getvalue()) if r["pid"] == worker.pid]) == 6


def test_a_process_that_exits_mid_read_is_discarded_not_reported_empty(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    child = subprocess.Popen(["sleep", "60"], env={"DB_PASSWORD": DB_PASSWORD})
    time.sleep(0.1)
    real_read = ProcHandle.read

    def read_then_die(self: ProcHandle, name: str) -> bytes:
        data = real_read(self, name)
        if name == "environ":
            child.send_signal(signal.SIGKILL)
            child.wait()  # reaped: the pidfd check after the reads must now fail
        return data

    monkeypatch.setattr(ProcHandle, "read", read_then_die)
    assert read_process(child.pid) is None


def test_a_reaped_process_reads_as_gone() -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    assert read_process(child.pid) is None


def test_own_process_credentials_are_read(children) -> None:
    data = read_process(children[1].pid)
    assert data is not None and data.comm == "sleep"
    assert data.creds.uids[1] == data.creds.uids[0] and data.creds.dumpable
    assert collect.proc_hides_pids("/proc") in (True, False)


def test_a_container_in_the_host_pid_namespace_is_listed_as_a_reader(children) -> None:
    # Our children run in the host PID namespace with our uid and caps: as "containers" they can read each other.
    init, worker = children
    snap = snapshot_of(init)
    other = Container(
        id="d" * 64,
        runtime="docker",
        cgroup="/docker/d",
        name="unit-pidhost",
        init_pid=worker.pid,
        pids=[worker.pid],
    )
    snap.containers[other.id] = other
    snap.processes[worker.pid] = Process(
        pid=worker.pid,
        ppid=1,
        uid=0,
        comm="sleep",
        cmdline=[],
        state="S",
        start_ticks=0,
        cgroup="/docker/d",
        container_id=other.id,
    )
    ctx = FakeContext(snap)
    run(secrets_cmd, ctx, ["web", "-o", "json"])
    records = {r["container"]["name"]: r for r in json.loads(ctx.out.getvalue())}
    [db] = [s for s in records["unit-web"]["secrets"] if s["name"] == "DB_PASSWORD"]
    assert ("container", "unit-pidhost") in {(r["kind"], r["name"]) for r in db["readers"]}
