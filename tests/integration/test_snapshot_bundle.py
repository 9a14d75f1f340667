"""`ctrlens snapshot` of real containers: what the bundle holds, no secret value in it, and `verify`."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from testbed import unique_name


def ctrlens(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def extract(bundle: Path, into: Path) -> dict[str, bytes]:
    into.mkdir()
    with tarfile.open(bundle) as tar:
        tar.extractall(into, filter="data")
    return {str(p.relative_to(into)): p.read_bytes() for p in into.rglob("*") if p.is_file()}


@pytest.fixture
def secret_values():
    return {"password": f"pw-{secrets.token_hex(12)}", "token": "ghp_" + secrets.token_hex(18)}


@pytest.fixture
def web(testbed, secret_values):
    """nginx stand-in listening on 8080, started through sh so the tree has depth, with secrets in its env
    and in an argument."""
    started = testbed.run_docker(
        unique_name("frn-snap"),
        "-e",
        f"DB_PASSWORD={secret_values['password']}",
        "-e",
        f"GITHUB_TOKEN={secret_values['token']}",
        "-e",
        "APP_MODE=production",
        cmd=("sh", "-c", f"/usr/sbin/nginx -p 8080 & sleep 1000000; : --token={secret_values['token']}"),
    )
    try:
        testbed.docker(
            "exec",
            started.id,
            "sh",
            "-c",
            "cp /bin/busybox /tmp/dropped-bin && chmod 755 /tmp/dropped-bin && "
            f"echo 'db_password={secret_values['password']}' > /root/.env.bak && rm /etc/group",
        )
        yield started
    finally:
        testbed.remove(started)


def test_snapshot_holds_the_evidence_and_no_secret_value(web, secret_values, tmp_path):
    bundle = tmp_path / "web.tar.gz"
    done = ctrlens("snapshot", web.name, "-o", str(bundle), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["processes"] >= 4 and summary["diff"]["new_executables"] == 1

    members = extract(bundle, tmp_path / "x")
    assert {
        "metadata.json",
        "processes.json",
        "mounts.json",
        "net.json",
        "diff.json",
        "manifest.json",
        "files/tmp/dropped-bin",
    } <= set(members)
    # The secrets: nowhere but in the copy of the file the container wrote (file content is copied as is).
    for name, data in members.items():
        if name == "files/root/.env.bak":
            continue
        for value in secret_values.values():
            assert value.encode() not in data, f"{value[:6]}… leaked into {name}"

    procs = json.loads(members["processes.json"])
    by_comm: dict[str, list] = {}
    for p in procs["processes"]:
        by_comm.setdefault(p["comm"], []).append(p)
    assert len(by_comm["nginx"]) == 3  # master and two workers
    root = procs["tree"][0]
    assert root["comm"] == "sh" and {c["comm"] for c in root["children"]} >= {"nginx", "sleep"}
    env = {e["name"]: e for e in by_comm["sh"][0]["environ"]}
    assert env["DB_PASSWORD"]["redacted"] and env["DB_PASSWORD"]["secret"]["rule"]
    assert env["GITHUB_TOKEN"]["redacted"] and env["APP_MODE"]["redacted"]  # not a well-known name: redacted
    assert env["PATH"]["value"].startswith("/") and not env["PATH"]["redacted"]
    assert any("redacted" in a for a in by_comm["sh"][0]["cmdline"])
    sh = by_comm["sh"][0]
    assert "NET_RAW" in sh["capabilities"]["CapEff"]["names"]
    assert {ns["type"] for ns in sh["namespaces"]} >= {"pid", "mnt", "net"}
    assert sh["maps"] and sh["open_files"] and sh["cgroup"]

    net = json.loads(members["net.json"])
    listening = [s for s in net["inet"] if s["listening"] and s["local_port"] == 8080]
    assert listening and {p["comm"] for p in listening[0]["processes"]} == {"nginx"}
    assert any(":8080 (nginx[" in line for line in net["listening"])

    mounts = json.loads(members["mounts.json"])
    assert mounts["rootfs"]["fstype"] == "overlay" and any(
        m["mount_point"] == "/proc" for m in mounts["mounts"]
    )
    meta = json.loads(members["metadata.json"])
    assert meta["container"]["id"] == web.id and meta["container"]["runtime"] == "docker"

    diff = json.loads(members["diff.json"])
    kinds = {(c["kind"], c["path"]) for c in diff["changes"]}
    assert {("A", "/tmp/dropped-bin"), ("D", "/etc/group"), ("A", "/root/.env.bak")} <= kinds
    assert diff["captured_files"][0]["path"] == "/tmp/dropped-bin"  # flagged first

    manifest = json.loads(members["manifest.json"])
    assert manifest["tool"]["name"] == "ctrlens" and manifest["tool"]["version"]
    assert manifest["host"]["name"] and manifest["started_at"].endswith("Z")
    listed = {m["name"] for m in manifest["members"]}
    assert listed == set(members) - {"manifest.json"}


def test_reveal_keeps_the_values(web, secret_values, tmp_path):
    """The positive control for the grep above: the same search finds the value when --reveal asks for it."""
    bundle = tmp_path / "revealed.tar.gz"
    done = ctrlens("snapshot", web.name, "-o", str(bundle), "--reveal", "--no-files")
    assert done.returncode == 0, done.stderr
    assert "--reveal" in done.stderr
    data = extract(bundle, tmp_path / "x")["processes.json"]
    assert secret_values["password"].encode() in data and secret_values["token"].encode() in data


def test_verify_passes_fresh_and_fails_on_one_changed_byte(web, tmp_path):
    bundle = tmp_path / "web.tar.gz"
    assert ctrlens("snapshot", web.name, "-o", str(bundle)).returncode == 0
    ok = ctrlens("snapshot", "verify", str(bundle))
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")

    raw = bytearray(bundle.read_bytes())
    raw[len(raw) // 3] ^= 0x20
    tampered = tmp_path / "tampered.tar.gz"
    tampered.write_bytes(bytes(raw))
    bad = ctrlens("snapshot", "verify", str(tampered))
    assert bad.returncode == 1 and bad.stdout.startswith("FAILED")


def test_never_overwrites_without_force(web, tmp_path):
    bundle = tmp_path / "web.tar.gz"
    bundle.write_text("evidence from yesterday")
    refused = ctrlens("snapshot", web.name, "-o", str(bundle))
    assert refused.returncode != 0 and "--force" in refused.stderr and "Traceback" not in refused.stderr
    assert bundle.read_text() == "evidence from yesterday"
    assert ctrlens("snapshot", web.name, "-o", str(bundle), "--force").returncode == 0
    assert ctrlens("snapshot", "verify", str(bundle)).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web.tar.gz"]


def test_file_caps(web, tmp_path):
    bundle = tmp_path / "capped.tar.gz"
    done = ctrlens(
        "snapshot", web.name, "-o", str(bundle), "--max-file-size", "1K", "--max-total-size", "1500"
    )
    assert done.returncode == 0, done.stderr
    with tarfile.open(bundle) as tar:
        diff = json.loads(tar.extractfile("diff.json").read())
        sizes = {m.name: m.size for m in tar.getmembers()}
    files = {f["path"]: f for f in diff["captured_files"]}
    assert files["/tmp/dropped-bin"]["truncated"] and sizes["files/tmp/dropped-bin"] == 1024
    assert sum(size for name, size in sizes.items() if name.startswith("files/")) <= 1500


def test_podman_and_lxc_snapshots_verify(testbed, tmp_path):
    for started in (testbed.run_podman(unique_name("frn-snap")), testbed.run_lxc(unique_name("frn-snap"))):
        try:
            bundle = tmp_path / f"{started.name}.tar.gz"
            done = ctrlens("snapshot", started.name, "-o", str(bundle))
            assert done.returncode == 0, done.stderr
            assert ctrlens("snapshot", "verify", str(bundle)).returncode == 0
            with tarfile.open(bundle) as tar:
                diff = json.loads(tar.extractfile("diff.json").read())
            assert diff["method"] == ("overlay" if started.runtime == "podman" else "mtime-ctime")
        finally:
            testbed.remove(started)


def test_bad_input_is_one_line(tmp_path):
    for args in (
        ("snapshot", "frn-no-such-thing", "-o", str(tmp_path / "x.tar.gz")),
        ("snapshot", "verify", str(tmp_path / "missing.tar.gz")),
        ("snapshot", "frn-x"),
        ("snapshot", "frn-x", "-o", str(tmp_path / "no-dir" / "x.tar.gz")),
    ):
        done = ctrlens(*args)
        assert done.returncode in (2, 3), (args, done.stderr)
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
