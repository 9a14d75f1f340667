"""The `ctrlens top` application: owns the data (scan, sampler, model) and the refresh loop.

Every `interval` seconds a worker thread scans /proc and samples the cgroups; the UI thread then diffs the result
into the model (`TopModel.update`) and tells the screens. A refresh is skipped while the previous one still runs,
so a slow host never queues scans.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType

from ..host import Host
from ..model import Snapshot
from ..scanner import scan
from ..secrets.redact import Redactor
from .main import MainScreen
from .resources import ResourceSampler, Usage
from .rows import TopModel

Scanner = Callable[[Host], Snapshot]


class TopApp(App[None]):
    """Containers and their processes, live."""

    TITLE = "ctrlens top"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("t", "theme", "Light/dark", show=False),
    ]

    def __init__(
        self, host: Host, *, interval: float = 1.0, light: bool = False, scanner: Scanner = scan
    ) -> None:
        super().__init__()
        self.host = host
        self.interval = interval
        self.scanner = scanner
        self.sampler = ResourceSampler(host)
        self.redactor = Redactor.for_host(host)
        self.model = TopModel()
        self.snapshot: Snapshot | None = None
        self.usage = Usage()
        self.refreshes = 0  # completed refreshes, for tests and the status line
        self.last_error: str | None = None
        self._busy = False
        self.theme = "textual-light" if light else "textual-dark"

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    def on_mount(self) -> None:
        self.refresh_now()
        self.set_interval(self.interval, self.refresh_now)

    def _fatal_error(self) -> None:
        # Textual's crash report prints local variables, which can hold environment values and file contents:
        # say where it failed, never what was in memory.
        error = self._exception
        where = ""
        if error is not None and error.__traceback__ is not None:
            last = traceback.extract_tb(error.__traceback__)[-1]
            where = f" in {os.path.basename(last.filename)}:{last.lineno}"
        kind = type(error).__name__ if error is not None else "error"
        self.exit(
            return_code=4,
            message=f"ctrlens: top stopped on an internal error ({kind}{where}); "
            "details are not printed because they may hold container data",
        )

    # -- refresh --------------------------------------------------------------------------------------------

    def refresh_now(self) -> None:
        if not self._busy:
            self._busy = True
            self._collect()

    @work(thread=True, exclusive=False, group="refresh")
    def _collect(self) -> None:
        try:
            snapshot = self.scanner(self.host)
            self.redactor.mask_snapshot(snapshot)
            usage = self.sampler.sample(snapshot)
        except Exception as exc:  # noqa: BLE001 - a failed scan is shown on the status line; the next may work
            self.call_from_thread(self._failed, type(exc).__name__)
            return
        self.call_from_thread(self._apply, snapshot, usage)

    def _failed(self, message: str) -> None:
        self._busy = False
        self.last_error = message
        self.notify_screens()

    def _apply(self, snapshot: Snapshot, usage: Usage) -> None:
        self._busy = False
        self.last_error = None
        self.snapshot, self.usage = snapshot, usage
        self.model.update(snapshot, usage)
        self.refreshes += 1
        self.notify_screens()

    def notify_screens(self) -> None:
        """Every screen that shows live data redraws from the model (the table) or the snapshot (details)."""
        for screen in self.screen_stack:
            updated = getattr(screen, "data_updated", None)
            if updated is not None:
                updated()

    # -- actions --------------------------------------------------------------------------------------------

    def action_help(self) -> None:
        from .help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_theme(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"
