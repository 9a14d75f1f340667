"""Shared by the kill and exec integration tests: run the real `ctrlens` CLI, find processes, wait."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any


def ctrlens(
    *args: str, timeout: float = 60, stdin: int | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """The installed `ctrlens` command, as a user runs it (no terminal: stdin is /dev/null)."""
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=timeout, stdin=stdin, check=False
    )


def ctrlens_json(*args: str) -> Any:
    res = ctrlens(*args, "-o", "json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def assert_one_line_error(res: subprocess.CompletedProcess[str]) -> None:
    """Bad input: a non-zero exit and one `ctrlens: …` line, never a traceback."""
    assert res.returncode != 0
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith("ctrlens: ")]
    assert len(lines) == 1, res.stderr


def alive(pid: int) -> bool:
    """Running (a zombie left by an init that never reaps, like `sleep`, has exited)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def children_with_cmdline(parent: int, cmdline: str) -> list[int]:
    """Host PIDs of `parent`'s children whose argv joined by spaces is `cmdline`."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                argv = f.read().rstrip(b"\0").split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and b" ".join(argv).decode(errors="replace") == cmdline:
            found.append(int(name))
    return found
