"""Drill-down on one container or process: facts (as `ctrlens inspect`), audit badges, environment, files.

Tabs load when first shown: reading an environment or a root filesystem costs nothing until asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from ..errors import CtrlensError
from ..model import Snapshot
from ..text import safe_text
from .format import cpu_text, mem_text
from .panels import AuditPanel, EnvPanel, FilesPanel
from .resources import Usage
from .rows import Row, target_of

if TYPE_CHECKING:
    from ..model import Snapshot
    from .app import TopApp


class DetailScreen(Screen[None]):
    DEFAULT_CSS = """
    DetailScreen #title { height: 1; background: $panel; color: $foreground; padding: 0 1; text-style: bold; }
    DetailScreen TabbedContent { height: 1fr; }
    DetailScreen TabPane { padding: 0 1; }
    DetailScreen #facts-text { width: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "back", "Back"),
        Binding("1", "tab('facts')", "Facts", show=False),
        Binding("2", "tab('audit')", "Audit", show=False),
        Binding("3", "tab('env')", "Env", show=False),
        Binding("4", "tab('files')", "Files", show=False),
        Binding("v", "reveal", "Reveal/hide secrets"),
        Binding("k", "kill", "Kill"),
        Binding("r", "reload", "Reload"),
    ]

    def __init__(self, top: TopApp, row: Row) -> None:
        super().__init__()
        self.top = top
        self.row = row
        if top.snapshot is None:
            raise RuntimeError("detail view opened before the first scan")
        self.snapshot: Snapshot = top.snapshot
        self.target = target_of(self.snapshot, row)
        self.gone = self.target is None

    def compose(self) -> ComposeResult:
        yield Static(self._title(self.top.usage), id="title", markup=False)
        with TabbedContent(initial="facts"):
            with TabPane("1 Facts", id="facts"), VerticalScroll():
                yield Static("", id="facts-text", markup=False)
            with TabPane("2 Audit", id="audit"):
                yield AuditPanel(self.top.host, self.snapshot, self.target)
            with TabPane("3 Environment", id="env"):
                yield EnvPanel(self.top.host, self.snapshot, self.target)
            with TabPane("4 Files", id="files"):
                yield FilesPanel(self.top.host, self.snapshot, self.target)
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        text = self.query_one("#facts-text", Static)
        if self.target is None:
            text.update("This container or process has gone since the table was drawn.")
            return
        from ..inspect import inspect_target, render

        try:
            record = inspect_target(self.snapshot, self.target, self.top.host)
            text.update(render(record))
        except CtrlensError as exc:
            text.update(f"Could not inspect: {safe_text(str(exc))}")

    def _title(self, usage: Usage) -> str:
        row, target = self.row, self.target
        if target is None:
            return f"{row.name} (gone)"  # escaped already
        parts: list[str] = []
        container = target.container
        if container is not None and not target.by_pid:
            parts.append(f"{safe_text(container.display_name)} ({container.runtime})")
            if container.image:
                parts.append(safe_text(container.image))
            cu = usage.containers.get(container.id)
            if cu is not None:
                limit = f"/{mem_text(cu.memory_limit)}" if cu.memory_limit else ""
                parts.append(f"CPU {cpu_text(cu.cpu_percent)}%  MEM {mem_text(cu.memory_bytes)}{limit}")
            count = len(container.pids)
            parts.append(f"{count} process{'es' if count != 1 else ''}")
        elif target.process is not None:
            proc = target.process
            parts.append(f"PID {proc.pid} {safe_text(proc.comm)}")
            parts.append(f"in {safe_text(container.display_name)}" if container else "host process")
            pu = usage.processes.get(proc.pid)
            if pu is not None:
                parts.append(f"CPU {cpu_text(pu.cpu_percent)}%  RSS {mem_text(pu.rss_bytes)}")
        if self.gone:
            parts.append("GONE")
        return " · ".join(parts)

    def data_updated(self) -> None:
        """Called by the app after each refresh: keep the title's figures live, notice when the target left."""
        snapshot = self.top.snapshot
        if self.target is not None and snapshot is not None:
            self.gone = target_of(snapshot, self.row) is None
        self.query_one("#title", Static).update(self._title(self.top.usage))

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def action_reveal(self) -> None:
        """Explicit reveal of secret values, in the Environment tab or a file preview only."""
        active = self.query_one(TabbedContent).active
        if active == "env":
            self.query_one(EnvPanel).toggle_reveal()
        elif active == "files":
            self.query_one(FilesPanel).toggle_reveal()
        else:
            self.notify("v reveals secrets in the Environment tab and in file previews.")

    def action_kill(self) -> None:
        from .kill import start_kill

        start_kill(self.top, self.row)
