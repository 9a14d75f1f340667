"""The main screen: status line, filter box, column header, the grouped table and the key bar."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar, cast

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from .rows import HOST_KEY
from .table import Layout, TopTable

if TYPE_CHECKING:
    from .app import TopApp


class MainScreen(Screen[None]):
    DEFAULT_CSS = """
    MainScreen { layout: vertical; }
    MainScreen #status { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    MainScreen #columns { height: 1; color: $text-muted; text-style: bold; background: $surface; }
    MainScreen #filter { height: 1; border: none; padding: 0 1; display: none; background: $boost; }
    MainScreen #filter.-active { display: block; }
    MainScreen TopTable { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "app.quit", "Quit"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("c", "containers_only", "Ctrs only"),
        Binding("k", "kill", "Kill"),
        Binding("K", "kernel_threads", "Kernel threads", show=False),
        Binding("plus", "fold_all(False)", "Open all", show=False),
        Binding("minus", "fold_all(True)", "Close all", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
        Binding("ctrl+r", "refresh_now", "Refresh", show=False),
    ]

    _header = ""

    @property
    def top(self) -> TopApp:
        return cast("TopApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static("ctrlens top: scanning…", id="status", markup=False)
        yield Input(
            placeholder="filter: name, image, command or PID (Enter keeps it, Esc clears)", id="filter"
        )
        yield Static(Layout.for_width(80).header(self.top.model.sort), id="columns", markup=False)
        yield TopTable(id="table")
        yield Footer(show_command_palette=False)

    def on_mount(self) -> None:
        self.table.focus()
        if self.top.model.filter_text:
            box = self.query_one("#filter", Input)
            box.value = self.top.model.filter_text
            box.add_class("-active")

    @property
    def table(self) -> TopTable:
        return self.query_one(TopTable)

    # -- drawing --------------------------------------------------------------------------------------------

    def data_updated(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        model = self.top.model
        self.table.set_rows(model.visible(), model.drawn_folded)
        self._show_header()
        self._show_status()

    def _show_header(self) -> None:
        header = self.table.columns.header(self.top.model.sort)
        if header != self._header:  # a Static update re-lays the screen out: only when it changed
            self._header = header
            self.query_one("#columns", Static).update(header)

    def _show_status(self) -> None:
        top, model = self.top, self.top.model
        parts = [
            f"{model.container_count} containers",
            f"{model.process_count} processes",
            f"sort {model.sort}",
        ]
        if model.filter_text:
            parts.append(f"filter '{model.filter_text}'")
        if model.containers_only:
            parts.append("containers only")
        if top.host.root != "/":
            parts.append(f"host {top.host.root}")
        parts.append(time.strftime("%H:%M:%S"))
        text = " · ".join(parts)
        if top.last_error:
            text = f"refresh failed ({top.last_error}) · " + text
        elif top.snapshot and top.snapshot.warnings:
            text = "limited view (not root) · " + text
        self.query_one("#status", Static).update(text)

    # -- table events ---------------------------------------------------------------------------------------

    def on_top_table_resized(self, event: TopTable.Resized) -> None:
        self._show_header()

    def on_top_table_fold_requested(self, event: TopTable.FoldRequested) -> None:
        model = self.top.model
        if event.collapse is None:
            model.toggle(event.group_key)
        elif event.collapse:
            model.collapsed.add(event.group_key)
        else:
            model.collapsed.discard(event.group_key)
        self.table.set_rows(model.visible(), model.drawn_folded)

    def on_top_table_activated(self, event: TopTable.Activated) -> None:
        from .detail import DetailScreen

        if self.top.snapshot is not None:
            self.app.push_screen(DetailScreen(self.top, event.row))

    # -- actions --------------------------------------------------------------------------------------------

    def action_refresh_now(self) -> None:
        self.top.refresh_now()

    def action_sort(self) -> None:
        self.top.model.next_sort()
        self.redraw()

    def action_containers_only(self) -> None:
        self.top.model.containers_only = not self.top.model.containers_only
        self.redraw()

    def action_kernel_threads(self) -> None:
        top = self.top
        top.model.show_kernel = not top.model.show_kernel
        if top.snapshot is not None:
            top.model.update(top.snapshot, top.usage)
        self.redraw()

    def action_fold_all(self, collapse: bool) -> None:
        self.top.model.set_all_collapsed(collapse)
        self.redraw()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("-active")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.top.model.filter_text = event.value.strip()
            self.redraw()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value.strip():
                event.input.remove_class("-active")
            self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.remove_class("-active")
        self.top.model.filter_text = ""
        self.table.focus()
        self.redraw()

    def action_kill(self) -> None:
        row = self.table.current
        if row is None or row.key == HOST_KEY or self.top.snapshot is None:
            self.notify("Select a container or a process to kill.", severity="warning")
            return
        from .kill import start_kill

        start_kill(self.top, row)
