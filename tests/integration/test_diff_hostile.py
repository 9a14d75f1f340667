"""A hostile writable layer: symlinks to host files and directories, device nodes, a FIFO with a tripwire.

`ctrlens diff --hash` and `ctrlens snapshot` must report all of it and follow or open none of it. The proofs:
* marker files on the host whose content (and hash) must appear nowhere in the output or the bundle;
* the FIFO: opening it for reading blocks until a writer comes, so a command that opened it in the writable
  layer would never finish (the subprocess timeout); and a writer inside the container leaves /tripped behind
  the moment anyone opens it through the container's root (checked: `cat /proc/PID/root/trap` trips it);
* the device nodes: /kmsg (c 1:11) is the host's kernel log, whose text must not be in the bundle.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from testbed import unique_name


def ctrlens(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    # A timeout here would mean a FIFO or a device was opened and blocked.
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args], capture_output=True, timeout=timeout, check=False
    )


@pytest.fixture
def host_markers(tmp_path_factory):
    base = Path(f"/tmp/frn-hostile-{secrets.token_hex(4)}")
    base.mkdir()
    token = secrets.token_hex(8)
    (base / "secret").write_text(f"HOST-FILE-MARKER-{token}\n")
    (base / "dir").mkdir()
    (base / "dir" / "inside").write_text(f"HOST-DIR-MARKER-{token}\n")
    try:
        yield base, token
    finally:
        shutil.rmtree(base)


@pytest.fixture
def hostile(testbed, host_markers):
    base, _ = host_markers
    started = testbed.run_docker(unique_name("frn-hostile"))
    plant = f"""
set -e
ln -s {base}/secret /evil-abs
ln -s ../../../../../..{base}/secret /evil-rel
ln -s {base}/dir /evil-dir
mkdir -p {base} && ln -s {base}/secret {base}/same-path-link
ln -s /proc/1/root/etc/shadow /evil-magic
mknod /kmsg c 1 11
mknod /loop b 7 0
mkfifo /trap
"""
    try:
        testbed.docker("exec", started.id, "sh", "-c", plant)
        # The tripwire: this writer blocks until someone opens /trap for reading.
        testbed.docker("exec", "-d", started.id, "sh", "-c", "echo opened > /trap && touch /tripped")
        yield started
    finally:
        testbed.remove(started)


def tripped(testbed, started) -> bool:
    return testbed.docker("exec", started.id, "test", "-e", "/tripped", check=False).returncode == 0


def test_diff_reports_hostile_entries_and_opens_none(testbed, hostile, host_markers):
    base, token = host_markers
    done = ctrlens("diff", hostile.name, "--hash", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert token.encode() not in done.stdout and token.encode() not in done.stderr
    marker_hash = hashlib.sha256((base / "secret").read_bytes()).hexdigest()
    assert marker_hash.encode() not in done.stdout
    changes = {c["path"]: c for c in json.loads(done.stdout)["changes"]}
    assert changes["/evil-abs"]["type"] == "symlink"
    assert changes["/evil-abs"]["link_target"] == f"{base}/secret"
    assert changes["/evil-abs"]["sha256"] is None
    assert changes["/evil-dir"]["type"] == "symlink"
    assert not any(p.startswith("/evil-dir/") for p in changes)
    assert changes[f"{base}/same-path-link"]["type"] == "symlink"
    assert changes["/kmsg"]["type"] == "char-device" and "device" in changes["/kmsg"]["flags"]
    assert changes["/kmsg"]["info"]["device"] == "1:11"
    assert changes["/loop"]["type"] == "block-device"
    assert changes["/trap"]["type"] == "fifo" and "fifo-or-socket" in changes["/trap"]["flags"]
    assert not tripped(testbed, hostile)


def test_snapshot_records_hostile_entries_and_captures_none(testbed, hostile, host_markers, tmp_path):
    _, token = host_markers
    bundle = tmp_path / "hostile.tar.gz"
    done = ctrlens("snapshot", hostile.name, "-o", str(bundle), "--hash")
    assert done.returncode == 0, done.stderr
    assert not tripped(testbed, hostile)
    with tarfile.open(bundle) as tar:
        names = tar.getnames()
        blobs = b"".join(tar.extractfile(m).read() for m in tar.getmembers() if m.isfile())
        diff = json.loads(tar.extractfile("diff.json").read())
    assert token.encode() not in blobs  # neither host marker was read through a link
    assert b"Linux version" not in blobs  # nor the host's kernel log through the device node
    captured = {f["path"] for f in diff["captured_files"]}
    assert not captured & {"/evil-abs", "/evil-rel", "/evil-dir", "/kmsg", "/loop", "/trap", "/evil-magic"}
    assert not [n for n in names if n.startswith(("files/evil", "files/kmsg", "files/loop", "files/trap"))]
    kinds = {c["path"]: c["type"] for c in diff["changes"]}
    assert kinds["/evil-abs"] == "symlink" and kinds["/kmsg"] == "char-device" and kinds["/trap"] == "fifo"
    assert ctrlens("snapshot", "verify", str(bundle)).returncode == 0
