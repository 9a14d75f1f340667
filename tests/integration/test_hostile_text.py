"""Hostile text from real Docker, Podman and LXC containers: invalid UTF-8, escape sequences (CSI, OSC), bidi
overrides and isolates, newlines and Rich markup in argv, comm, environ names and values, file names and labels.

What a user checks: every `-o json` / `-o ndjson` decodes as strict UTF-8 and parses, with the original bytes back
from the `*_hex` siblings; tables and messages carry no ESC, BEL, C1 or bidi character; nothing exits 70 under
LANG=C or a strict stdout encoding; `top` in tmux shows the text literally and survives it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

# The container builds its payload itself (Docker and Podman carry argv as JSON, which cannot hold \xff).
PAYLOAD = b"x\xff\x1b[2J\x1b]0;pwn\x07\xe2\x80\xaey\xe2\x81\xa6\\x1b\nz[/][b red]FAKE[/]"
SCRIPT = r"""A=$(printf 'x\377\033[2J\033]0;pwn\007\342\200\256y\342\201\246\\x1b\nz[/][b red]FAKE[/]')
mkdir -p /tmp; : > "/tmp/f${A%%z*}"
exec env "K$A=v$A" sh -c 'printf %s "$1" > /proc/$$/comm; sleep 1000000 & wait' "c$A" "$A"
"""
FILE_NAME = PAYLOAD[: PAYLOAD.index(b"z[")]  # the payload up to its first `/`
LABEL_KEY = "k\x1b[31m\u202e"
LABEL_VALUE = "v\x1b]0;t\x07\u2066[/]"
FORBIDDEN = [b"\x1b", b"\x07", b"\xc2\x9b"] + [
    chr(c).encode() for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
]


def ctrlens(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run(
        [exe, *args],
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
        env={**os.environ, **(env or {})},
    )


def assert_terminal_safe(data: bytes, what: str) -> None:
    data.decode("utf-8")  # strict
    for bad in FORBIDDEN:
        assert bad not in data, f"{what}: {bad!r} reached the terminal"


def parse_json(res: subprocess.CompletedProcess[bytes], fmt: str) -> list[Any]:
    assert res.returncode in (0, 1), res.stderr.decode(errors="replace")
    text = res.stdout.decode("utf-8")  # strict UTF-8
    if fmt == "ndjson":
        return [json.loads(line) for line in text.split("\n") if line]  # one record a line, whatever the data
    doc = json.loads(text)
    return doc if isinstance(doc, list) else [doc]


def hex_of(record: dict[str, Any], key: str) -> bytes:
    """The exact bytes of record[key]: from KEY_hex when not UTF-8, else the text itself."""
    return bytes.fromhex(record[f"{key}_hex"]) if f"{key}_hex" in record else record[key].encode()


def walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from walk(v)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v)


@pytest.fixture(scope="module")
def hostile(testbed) -> Iterator[dict[str, Any]]:
    label = f"{LABEL_KEY}={LABEL_VALUE}"
    made = []
    try:
        made.append(testbed.run_docker(unique_name("hostile-d"), "--label", label, cmd=("sh", "-c", SCRIPT)))
        made.append(testbed.run_podman(unique_name("hostile-p"), "--label", label, cmd=("sh", "-c", SCRIPT)))
        made.append(testbed.run_lxc(unique_name("hostile-l"), cmd=("sh", "-c", SCRIPT)))
        deadline = time.monotonic() + 20
        for started in made:  # wait until each init has rewritten its comm
            while not Path(f"/proc/{started.pid}/comm").read_bytes().startswith(b"x\xff"):
                assert time.monotonic() < deadline, f"{started.name} never set its comm"
                time.sleep(0.1)
        yield {s.runtime: s for s in made}
    finally:
        for started in made:
            testbed.remove(started)


RUNTIMES = ["docker", "podman", "lxc"]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("fmt", ["json", "ndjson"])
def test_json_of_every_command_is_utf8_and_keeps_the_bytes(hostile, runtime: str, fmt: str) -> None:
    c = hostile[runtime]
    comm = Path(f"/proc/{c.pid}/comm").read_bytes().rstrip(b"\n")

    procs = parse_json(ctrlens("ps", "-o", fmt), fmt)
    init = next(p for p in procs if p["pid"] == c.pid)
    assert hex_of(init, "comm") == comm
    argv = [bytes.fromhex(h) for h in init["argv_hex"]]
    assert argv[-2:] == [b"c" + PAYLOAD, PAYLOAD]
    assert init["container"]["name"] == c.name

    listed = {rec["name"]: rec for rec in parse_json(ctrlens("containers", "-o", fmt), fmt)}
    assert c.name in listed, "the container is listed with its name"
    if runtime == "docker":  # (ctrlens reads no labels for Podman; LXC has none)
        assert listed[c.name]["labels"][LABEL_KEY] == LABEL_VALUE  # exact, escaped only by JSON

    (record,) = parse_json(ctrlens("inspect", c.name, "-o", fmt), fmt)
    mine = next(p for p in record["processes"] if p["pid"] == c.pid)
    assert bytes.fromhex(mine["argv_hex"][-1]) == PAYLOAD

    env = parse_json(ctrlens("env", c.name, "--reveal", "-o", fmt), fmt)
    var = next(v for v in env if hex_of(v, "name") == b"K" + PAYLOAD)
    assert hex_of(var, "value") == b"v" + PAYLOAD

    for command in (("secrets", c.name), ("audit", c.name)):
        assert parse_json(ctrlens(*command, "-o", fmt), fmt), command

    changes = parse_json(ctrlens("diff", c.name, "-o", fmt), fmt)
    found = [r for r in walk(changes) if "path" in r and "kind" in r]
    assert b"/tmp/f" + FILE_NAME in {hex_of(r, "path") for r in found}


def test_watch_initial_stream_is_utf8_ndjson_with_the_bytes(hostile) -> None:
    res = ctrlens("watch", "--initial", "--duration", "2", timeout=90)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    events = [json.loads(line) for line in res.stdout.decode("utf-8").split("\n") if line]
    running = {e["container"]["name"]: e for e in events if e["type"] == "container.running"}
    for c in hostile.values():
        process = running[c.name]["process"]
        assert hex_of(process, "comm").startswith(b"x\xff")
        assert bytes.fromhex(process["argv_hex"][-1]) == PAYLOAD


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_tables_and_messages_show_container_text_escaped(hostile, runtime: str) -> None:
    c = hostile[runtime]
    commands = [
        ("ps",),
        ("ps", "--forest"),
        ("ps", "--container", c.name),
        ("containers",),
        ("inspect", c.name),
        ("inspect", str(c.pid)),
        ("env", c.name, "--reveal"),
        ("secrets", c.name),
        ("audit", c.name),
        ("diff", c.name),
        ("fs", "ls", c.name, "/tmp"),
        ("fs", "ls", "-l", c.name, "/tmp"),
        ("kill", c.name, "--dry-run"),
    ]
    for args in commands:
        res = ctrlens(*args)
        assert res.returncode in (0, 1), (args, res.stderr.decode(errors="replace"))
        assert_terminal_safe(res.stdout, " ".join(args))
        assert_terminal_safe(res.stderr, " ".join(args) + " (stderr)")
    table = ctrlens("ps", "--container", c.name).stdout.decode()
    # A real ESC and the text `\x1b` print differently.
    assert "\\x1b[2J" in table and "\\\\x1b" in table and "\\u202e" in table and "\\xff" in table
    header = ctrlens("inspect", str(c.pid)).stdout.decode().splitlines()[0]
    assert header.startswith(f"Process {c.pid}  (sh -c ") and "\\x1b[2J" in header


@pytest.mark.parametrize(
    "env",
    [
        {"LANG": "C", "LC_ALL": "C"},
        {"PYTHONIOENCODING": "utf-8:strict"},
        {"PYTHONIOENCODING": "ascii:strict", "LC_ALL": "C"},
    ],
    ids=["LANG=C", "utf-8-strict", "ascii-strict"],
)
def test_nothing_exits_70_under_strict_or_non_utf8_locales(hostile, env: dict[str, str]) -> None:
    name = hostile["docker"].name
    for args in (
        ("ps",),
        ("ps", "--forest"),
        ("containers",),
        ("inspect", name),
        ("env", name, "--reveal"),
        ("secrets",),
        ("audit", name),
        ("diff", name),
        ("ps", "-o", "json"),
        ("inspect", name, "-o", "ndjson"),
        ("env", name, "--reveal", "-o", "json"),
        ("diff", name, "-o", "json"),
    ):
        res = ctrlens(*args, env=env)
        assert res.returncode in (0, 1), (args, env, res.returncode, res.stderr[-500:])
        assert b"Traceback" not in res.stderr
        if "-o" in args:
            fmt = args[args.index("-o") + 1]
            assert parse_json(res, fmt)
            if env.get("PYTHONIOENCODING", "").startswith("ascii"):
                assert res.stdout.isascii()


def test_kill_plan_shortens_a_huge_command_line(testbed) -> None:
    # 60 kB of plain arguments, each under the secret scan's per-value cap: shown, not redacted, so the plan
    # itself must shorten it (a single 100 kB value is redacted whole as "not scanned in full" instead).
    filler = tuple("A" * 10_000 for _ in range(6))
    started = testbed.run_docker(
        unique_name("hostile-long"), cmd=("sh", "-c", "sleep 1000000; :", "sh", *filler)
    )
    try:
        res = ctrlens("kill", started.name, "--dry-run")
        assert res.returncode == 0, res.stderr.decode(errors="replace")
        plan = res.stdout.decode()
        assert len(plan) < 2_000 and "more characters not shown" in plan
        (record,) = parse_json(ctrlens("kill", started.name, "--dry-run", "-o", "json"), "json")
        assert len(record["plan"]["targets"][0]["command"]) > 60_000  # the JSON keeps it whole
    finally:
        testbed.remove(started)


# --- top in a real terminal ------------------------------------------------------------------------------------


def tmux(*args: str, check: bool = True) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=check, timeout=30).stdout


def wait_screen(session: str, condition, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-p", "-t", session)
        if condition(screen):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"screen never matched; last screen:\n{screen}")


def assert_screen_safe(screen: str) -> None:
    assert_terminal_safe(screen.encode(), "top")
    assert "Traceback" not in screen and "MarkupError" not in screen


def test_top_shows_container_text_literally(hostile) -> None:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for this test (apt-get install tmux)")
    c = hostile["docker"]
    session = f"hostile-top-{os.getpid()}"
    exe = shutil.which("ctrlens") or "ctrlens"
    command = f"{exe} top --interval 0.5 --filter {c.name}; echo CTRLENS_EXIT=$?; sleep 60"
    tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "40", "-e", "TERM=xterm-256color", command)
    try:
        screen = wait_screen(session, lambda s: c.name in s and "sleep 1000000" in s)
        assert_screen_safe(screen)
        tmux("send-keys", "-t", session, "Enter")  # the Facts tab, with the container's labels
        screen = wait_screen(session, lambda s: "Environment" in s and "labels:" in s)
        assert_screen_safe(screen)
        assert "k\\x1b[31m\\u202e=v\\x1b]0;t\\x07\\u2066[/]" in screen  # shown as text, not obeyed
        tmux("send-keys", "-t", session, "3")
        screen = wait_screen(session, lambda s: "variables of PID" in s and "FAKE" in s)
        assert_screen_safe(screen)
        assert "[b red]FAKE[/]" in screen and "CTRLENS_EXIT" not in screen  # `[/]` did not end top
        tmux("send-keys", "-t", session, "Escape")
        wait_screen(session, lambda s: "NAME / COMMAND" in s)
        tmux("send-keys", "-t", session, "q")
        done = wait_screen(session, lambda s: "CTRLENS_EXIT=" in s)
        assert "CTRLENS_EXIT=0" in done
    finally:
        tmux("kill-session", "-t", session, check=False)
