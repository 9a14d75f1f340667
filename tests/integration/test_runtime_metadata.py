"""Metadata the engines hold and ctrlens reads from their own files (issue 15): Podman labels from the libpod
database, the image of a `ctr run` container from containerd's metadata database. Compared with the engines' CLIs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration


def containers() -> dict[str, dict]:
    exe = shutil.which("ctrlens")
    cmd = [exe] if exe else [sys.executable, "-m", "ctrlens.cli"]
    out = subprocess.run(
        [*cmd, "containers", "-o", "json"],
        capture_output=True,
        text=True,
        errors="surrogateescape",
        timeout=90,
        check=True,
    )
    return {c["id"]: c for c in json.loads(out.stdout)}


def test_podman_labels_are_listed_as_podman_inspect_shows_them(testbed):
    started = testbed.run_podman(unique_name("labels"), "-l", "app=x", "-l", "tier=front end")
    try:
        engine = json.loads(testbed.podman("inspect", "-f", "{{json .Config.Labels}}", started.id).stdout)
        found = containers()[started.id]
        assert found["labels"] == engine == {"app": "x", "tier": "front end"}
        assert any(f.endswith(("bolt_state.db", "db.sql")) for f in found["metadata_files"])
    finally:
        testbed.remove(started)


def test_ctr_run_container_shows_the_image_ctr_recorded(testbed):
    started = testbed.run_ctr(unique_name("ctrimg"))
    try:
        info = json.loads(testbed.ctr("containers", "info", started.id).stdout)
        found = containers()[started.id]
        assert found["image"] == info["Image"] and found["image"]
        assert any(f.endswith("meta.db") for f in found["metadata_files"])
    finally:
        testbed.remove(started)
