"""`ctrlens top` driven headless by Textual's own pilot, against containers of the real engines.

Each test starts its own `tui-…` containers and removes them. Ground truth is the engine (`docker inspect` pid)
and /proc; what the app shows is read back from the table's drawn lines, as a person would see them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from ctrlens.host import Host
from ctrlens.tui.app import TopApp
from ctrlens.tui.detail import DetailScreen
from ctrlens.tui.kill import ConfirmKill
from ctrlens.tui.rows import CONTAINER, PROCESS, SHIM
from ctrlens.tui.table import TopTable

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

WORKERS = ("sh", "-c", "sleep 1000000 & sleep 1000000 & exec sleep 1000000")
INTERVAL = 0.5
SIZE = (80, 24)


def unique(prefix: str) -> str:
    return f"tui-{prefix}-{os.getpid()}-{time.monotonic_ns() % 1_000_000}"


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return b") Z " not in f.read()
    except OSError:
        return False


def pid_ns(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def container_pids(init: int) -> set[int]:
    """Ground truth independent of ctrlens: the processes in the init's PID namespace."""
    target = pid_ns(init)
    return {int(p) for p in os.listdir("/proc") if p.isdigit() and pid_ns(int(p)) == target}


def screen_lines(app: TopApp) -> list[str]:
    """The table's lines as drawn on screen."""
    table = app.screen.query_one(TopTable)
    return ["".join(seg.text for seg in table.render_line(y)) for y in range(table.size.height)]


def dialog_text(screen) -> str:
    return "\n".join(str(w.content) for w in screen.query("Static"))


async def wait_for(
    pilot, condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition"
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def wait_refreshes(pilot, app: TopApp, count: int) -> None:
    start = app.refreshes
    await wait_for(
        pilot, lambda: app.refreshes >= start + count, timeout=20 * INTERVAL + 10, what=f"{count} refreshes"
    )


@pytest.fixture
def started(testbed):
    """Containers started by a test, removed after it (even when it fails)."""
    made = []

    def start(kind: str, *opts: str, cmd=WORKERS):
        name = unique(kind)
        runner = testbed.run_docker if kind == "docker" else testbed.run_podman
        s = runner(name, *opts, cmd=cmd)
        made.append(s)
        return s

    yield start
    for s in made:
        testbed.remove(s)


def make_app(**kwargs) -> TopApp:
    app = TopApp(Host("/"), interval=INTERVAL, **kwargs)
    app.model.collapsed.clear()  # start with every group open, the host's too, to check grouping
    return app


async def test_container_appears_with_its_processes_under_it(started):
    web = started("docker", cmd=WORKERS)
    await_pids = container_pids(web.pid)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: f"c:{web.id}" in app.model.rows and len(container_pids(web.pid)) >= 3,
            what="the container row",
        )
        await wait_refreshes(pilot, app, 1)
        truth = container_pids(web.pid)
        assert truth >= await_pids
        group = f"c:{web.id}"
        members = {r.pid for r in app.model.rows.values() if r.group == group and r.kind == PROCESS}
        assert members == truth
        shims = [r for r in app.model.rows.values() if r.group == group and r.kind == SHIM]
        assert len(shims) == 1 and shims[0].name.startswith("containerd-shim")
        # Drawn in order: the container row, then its shim and processes, indented, before the next group.
        visible = app.model.visible()
        at = next(i for i, r in enumerate(visible) if r.key == group)
        block = visible[at + 1 : at + 1 + len(truth) + 1]
        assert {r.group for r in block} == {group}
        assert all(r.depth >= 1 for r in block)
        assert block[0].kind == SHIM
        # What a person sees: find the container in the table by filtering to it.
        await pilot.press("slash", *web.name, "enter")
        await pilot.pause(0.1)
        lines = screen_lines(app)
        assert lines[0].startswith("▾ " + web.name), lines[:3]
        assert "docker" in lines[0]
        assert str(web.pid) in lines[0]
        assert any("containerd-shim" in line for line in lines[1:3])
        assert sum("sleep 1000000" in line for line in lines) == 3
        # CPU% and memory come from the cgroup once two samples exist.
        row = app.model.rows[group]
        assert row.cpu is not None and row.mem is not None and row.mem > 0
        assert row.count == len(truth)


async def test_started_container_appears_within_two_refreshes_and_stopped_one_disappears(testbed, started):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_refreshes(pilot, app, 1)
        late = started("podman", cmd=("sleep", "1000000"))  # returns once the engine reports it running
        await wait_refreshes(pilot, app, 2)
        assert f"c:{late.id}" in app.model.rows, (
            "a container started during the session shows within 2 refreshes"
        )
        await pilot.press("slash", *late.name, "enter")
        await pilot.pause(0.1)
        assert screen_lines(app)[0].startswith("▾ " + late.name)
        testbed.remove(late)
        await wait_refreshes(pilot, app, 2)
        assert f"c:{late.id}" not in app.model.rows, "a stopped container leaves the table within 2 refreshes"
        assert not any(late.name in line for line in screen_lines(app))


async def test_kill_asks_first_and_n_sends_nothing(started):
    victim = started("docker", "--restart", "always", cmd=("sleep", "1000000"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: f"c:{victim.id}" in app.model.rows, what="the container row")
        assert app.screen.query_one(TopTable).select_key(f"c:{victim.id}")
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmKill), what="the confirmation")
        dialog = app.screen
        text = dialog_text(dialog)
        assert "SIGTERM" in text and victim.name in text
        await pilot.press("s")  # switch to KILL: re-planned, still nothing sent
        await pilot.pause(0.1)
        text = dialog_text(dialog)
        assert "SIGKILL" in text
        assert "restart: yes" in text, text  # --restart always: the forecast of `ctrlens kill`…
        assert "WILL be restarted" in text, text  # …and the warning
        await pilot.pause(1.0)
        assert alive(victim.pid), "nothing may be sent before the answer"
        await pilot.press("n")
        await pilot.pause(0.2)
        assert not isinstance(app.screen, ConfirmKill)
        await wait_refreshes(pilot, app, 2)
        assert alive(victim.pid), "n sends nothing"
        # Enter on the focused default button is a "no" as well.
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmKill), what="the confirmation")
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, ConfirmKill) and alive(victim.pid)


async def test_kill_on_yes_signals_the_container_and_it_leaves(started):
    victim = started("podman", cmd=WORKERS)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: f"c:{victim.id}" in app.model.rows, what="the container row")
        assert app.screen.query_one(TopTable).select_key(f"c:{victim.id}")
        await pilot.press("k")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmKill), what="the confirmation")
        await pilot.press("s")  # SIGKILL: a shell as PID 1 without a TERM handler would drop SIGTERM
        await pilot.pause(0.1)
        assert alive(victim.pid)
        await pilot.press("y")
        await wait_for(pilot, lambda: not alive(victim.pid), what="the init to die")
        await wait_for(pilot, lambda: f"c:{victim.id}" not in app.model.rows, what="the container to leave")


async def test_details_show_facts_redacted_environment_and_files(started):
    secret = "hunter2-tui-" + os.urandom(4).hex()
    web = started(
        "docker", "-e", f"DB_PASSWORD={secret}", "-e", "GREETING=hello-tui", cmd=("sleep", "1000000")
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: f"c:{web.id}" in app.model.rows, what="the container row")
        assert app.screen.query_one(TopTable).select_key(f"c:{web.id}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail screen")
        screen = app.screen
        facts = str(screen.query_one("#facts-text").render())
        assert web.id in facts and "runtime:" in facts and "Namespaces" in facts

        await pilot.press("2")
        findings = screen.query_one("#audit-findings")
        await wait_for(pilot, lambda: "CTRL-" in str(findings.content), timeout=30, what="the audit findings")
        audit_text = str(findings.content)
        assert (
            "CTRL-USER-ROOT" in audit_text and "fix:" in audit_text
        )  # busybox runs as root: a badge and a fix
        assert secret not in audit_text

        await pilot.press("3")
        from textual.widgets import DataTable

        from ctrlens.tui.panels import EnvPanel

        env = screen.query_one(EnvPanel)
        await wait_for(pilot, lambda: env.pairs, what="the environment")

        def env_cells() -> str:
            table = env.query_one(DataTable)
            return "\n".join(" ".join(str(c) for c in table.get_row_at(i)) for i in range(table.row_count))

        cells = env_cells()
        assert "hello-tui" in cells
        assert "DB_PASSWORD" in cells and secret not in cells and "<redacted" in cells
        await pilot.press("v")
        await pilot.pause(0.1)
        assert secret in env_cells(), "v reveals"
        await pilot.press("v")
        await pilot.pause(0.1)
        assert secret not in env_cells(), "v again hides"

        await pilot.press("4")
        from ctrlens.tui.panels import FilesPanel

        files = screen.query_one(FilesPanel)
        await wait_for(pilot, lambda: files.entries, what="the root listing")
        names = {e.name for e in files.entries}
        assert {b"bin", b"etc"} <= names
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, DetailScreen)
        assert secret not in "\n".join(screen_lines(app))


async def test_filter_containers_only_and_sort(started):
    a = started("docker", cmd=("sleep", "1000000"))
    b = started("podman", cmd=("sleep", "1000000"))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: {f"c:{a.id}", f"c:{b.id}"} <= app.model.rows.keys(), what="both rows")
        await pilot.press("slash", *a.name)
        await pilot.pause(0.1)
        groups = [r for r in app.model.visible() if r.kind == CONTAINER]
        assert [g.name for g in groups] == [a.name]
        await pilot.press("enter", "home", "down", "down")  # keep the filter; container, shim, its process
        table = app.screen.query_one(TopTable)
        assert table.current is not None and table.current.pid == a.pid
        assert screen_lines(app)[2].lstrip().startswith("sleep 1000000")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail screen")
        assert str(app.screen.query_one("#facts-text").content).startswith(f"Process {a.pid}")
        await pilot.press("escape")
        await pilot.pause(0.1)
        await pilot.press("slash")
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert app.model.filter_text == ""
        await pilot.press("c")
        await pilot.pause(0.1)
        assert all(r.group != "host" for r in app.model.visible())
        sorts = []
        for _ in range(4):
            await pilot.press("s")
            sorts.append(app.model.sort)
        assert sorts == ["mem", "name", "pid", "cpu"]


async def test_mouse_folds_and_opens_and_a_process_has_its_own_details(started):
    web = started("docker", cmd=WORKERS)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(
            pilot,
            lambda: f"c:{web.id}" in app.model.rows and len(container_pids(web.pid)) >= 3,
            what="the container and its workers",
        )
        await pilot.press("slash", *web.name, "enter")
        await pilot.pause(0.1)
        table = app.screen.query_one(TopTable)
        assert screen_lines(app)[0].startswith("▾ ")
        await pilot.click(TopTable, offset=(0, 0))  # the fold marker
        await pilot.pause(0.1)
        assert screen_lines(app)[0].startswith("▸ ") and f"c:{web.id}" in app.model.collapsed
        assert not any("sleep 1000000" in line for line in screen_lines(app))
        await pilot.click(TopTable, offset=(0, 0))
        await pilot.pause(0.1)
        # Double-click the init process (row 2: after the container and its shim).
        assert table.rows[2].pid == web.pid
        await pilot.click(TopTable, offset=(10, 2), times=2)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail screen")
        facts = str(app.screen.query_one("#facts-text").content)
        assert facts.startswith(f"Process {web.pid}") and web.id in facts
        title = str(app.screen.query_one("#title").content)
        assert f"PID {web.pid}" in title and web.name in title


async def test_file_preview_masks_secret_lines_until_v(started):
    token = "sk_live_" + os.urandom(12).hex()
    script = f"printf 'API_TOKEN={token}\\nMODE=prod\\n' > /tmp/app.env; exec sleep 1000000"
    web = started("docker", cmd=("sh", "-c", script))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: f"c:{web.id}" in app.model.rows, what="the container row")
        assert app.screen.query_one(TopTable).select_key(f"c:{web.id}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail screen")
        from textual.widgets import DataTable

        from ctrlens.tui.panels import FilesPanel

        await pilot.press("4")
        files = app.screen.query_one(FilesPanel)
        await wait_for(pilot, lambda: files.entries, what="the root listing")
        files.query_one(DataTable).focus()
        await pilot.press(*["down"] * [e.name for e in files.entries].index(b"tmp"), "enter")
        await wait_for(pilot, lambda: files.cwd == b"/tmp", what="/tmp")
        await wait_for(pilot, lambda: any(e.name == b"app.env" for e in files.entries), what="app.env")
        index = [e.name for e in files.entries].index(b"app.env") + 1  # after ".."
        await pilot.press(*["down"] * index, "enter")
        await wait_for(pilot, lambda: files.preview_path == b"/tmp/app.env", what="the preview")
        shown = str(files.query_one("#preview-text").content)
        assert "MODE=prod" in shown and "API_TOKEN=•••" in shown and token not in shown
        await pilot.press("v")
        await pilot.pause(0.1)
        assert token in str(files.query_one("#preview-text").content)
        await pilot.press("escape")  # closes the preview (and with it the revealed value)…
        await pilot.pause(0.1)
        assert files.preview_path is None and isinstance(app.screen, DetailScreen)
        await pilot.press("escape")  # …then goes back to the table
        await pilot.pause(0.1)
        assert not isinstance(app.screen, DetailScreen)
