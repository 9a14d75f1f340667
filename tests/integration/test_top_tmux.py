"""`ctrlens top` in a real terminal: tmux at 80×24 runs the installed command; we read the screen as a person would.

Checks what is on the glass: the container and its processes, the column header, the key bar, the help screen,
no secret from the command line, no traceback, and a clean exit on `q` (dark and light colours).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

pytestmark = pytest.mark.integration

TOKEN = "tmuxsecret" + os.urandom(6).hex()


def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check, timeout=30).stdout


def capture(session: str) -> str:
    return tmux("capture-pane", "-p", "-t", session)


def wait_screen(session: str, condition: Callable[[str], bool], timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = capture(session)
        if condition(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"screen never matched; last screen:\n{screen}")


@pytest.fixture
def web(testbed):
    name = f"tui-tmux-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
    started = testbed.run_docker(name, cmd=("sh", "-c", f"sleep 1000000; : --token={TOKEN}"))
    yield started
    testbed.remove(started)


@pytest.fixture
def session():
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for this test (apt-get install tmux)")
    name = f"tui-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"
    yield name
    tmux("kill-session", "-t", name, check=False)


def start_top(session: str, *args: str) -> None:
    exe = shutil.which("ctrlens") or "ctrlens"
    command = f"{exe} top --interval 0.5 {' '.join(args)}; echo CTRLENS_EXIT=$?; sleep 60"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", "-e", "TERM=xterm-256color", command)


@pytest.mark.parametrize("colours", ["dark", "light"])
def test_top_in_tmux_shows_the_container_and_keys(web, session, colours):
    start_top(session, *(["--light"] if colours == "light" else []), "--filter", web.name)
    # The footer is drawn last: wait for it too (under load the table can come a refresh earlier).
    screen = wait_screen(
        session, lambda s: web.name in s and "sleep 1000000" in s and "Quit" in (s.splitlines() or [""])[-1]
    )
    lines = screen.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    assert "containers" in lines[0] and "processes" in lines[0] and f"filter '{web.name}'" in lines[0]
    header = next(line for line in lines if "NAME / COMMAND" in line)
    assert "PID" in header and "CPU%" in header and "MEM" in header
    row = next(line for line in lines if line.startswith("▾ " + web.name))
    assert "docker" in row and str(web.pid) in row
    below = lines[lines.index(row) + 1 : lines.index(row) + 4]
    assert "containerd-shim-runc-v2" in below[0] and "shim" in below[0]
    assert below[1].lstrip().startswith("sh ") and "sleep 1000000" in below[2]
    assert TOKEN not in screen, "a secret on a command line never reaches the screen"
    footer = lines[-1]
    for key in ("Quit", "Filter", "Sort", "Kill", "Help"):
        assert key in footer, footer
    assert "Traceback" not in screen

    tmux("send-keys", "-t", session, "?")
    help_screen = wait_screen(session, lambda s: "fold / open" in s)
    assert "kill the selected container" in help_screen and "reveal secret values" in help_screen
    tmux("send-keys", "-t", session, "Escape")
    wait_screen(session, lambda s: "fold / open" not in s and web.name in s)

    tmux("send-keys", "-t", session, "q")
    done = wait_screen(session, lambda s: "CTRLENS_EXIT=" in s)
    assert "CTRLENS_EXIT=0" in done and "Traceback" not in done


def test_top_refuses_without_a_terminal():
    exe = shutil.which("ctrlens") or "ctrlens"
    result = subprocess.run(
        [exe, "top"], check=False, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=30
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "needs a terminal" in result.stderr
