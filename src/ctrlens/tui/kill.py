"""Kill from the TUI: the plan and restart-policy warning of `ctrlens kill`, a confirmation, then the signal.

Planning and signalling belong to `ctrlens.act` (pidfds taken at planning, signals sent through them); this module
shows the plan and asks. Nothing is sent until the user presses `y` (or the Kill button); `n`, Esc, Enter on the
default button or Cancel send nothing and release the pidfds.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..errors import CtrlensError
from ..text import safe_text
from .rows import Row

if TYPE_CHECKING:
    from .app import TopApp

Planner = Callable[[int], Any]  # signal -> killplan.KillRequest


class ConfirmKill(ModalScreen[Any]):
    """Shows what will be signalled and what follows, and asks; dismisses with the request only on yes."""

    DEFAULT_CSS = """
    ConfirmKill { align: center middle; }
    ConfirmKill > Vertical {
        width: 78; max-width: 100%; height: auto; max-height: 100%;
        border: thick $error; background: $surface; padding: 0 1;
    }
    ConfirmKill #question { text-style: bold; }
    ConfirmKill #plan { height: auto; }
    ConfirmKill #warning { height: auto; color: $text-warning; text-style: bold; }
    ConfirmKill Horizontal { height: auto; align-horizontal: right; }
    ConfirmKill Button { margin: 0 1; min-width: 12; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "yes", "Yes, send it"),
        Binding("n,escape", "no", "No"),
        Binding("s", "switch_signal", "TERM/KILL"),
    ]

    def __init__(self, planner: Planner, sig: int = signal.SIGTERM) -> None:
        super().__init__()
        self.planner = planner
        self.sig = sig
        self.request: Any = None

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("", id="question", markup=False)
            yield Static("", id="plan", markup=False)
            yield Static("", id="warning", markup=False)
            with Horizontal():
                yield Button("Cancel (n)", id="no", variant="default")
                yield Button("Kill (y)", id="yes", variant="error")

    def on_mount(self) -> None:
        self._replan()
        self.query_one("#no", Button).focus()  # Enter on the default choice sends nothing

    def _replan(self) -> None:
        if self.request is not None:
            self.request.close()
            self.request = None
        try:
            self.request = self.planner(self.sig)
        except CtrlensError as exc:
            self.query_one("#question", Static).update("Cannot kill")
            self.query_one("#plan", Static).update(safe_text(str(exc)))
            self.query_one("#warning", Static).update("")
            self.query_one("#yes", Button).disabled = True
            return
        self.query_one("#yes", Button).disabled = False
        self.query_one("#question", Static).update(self.request.question)
        self.query_one("#plan", Static).update(self.request.plan_text)
        self.query_one("#warning", Static).update(self.request.warning or "")

    def action_switch_signal(self) -> None:
        self.sig = signal.SIGKILL if self.sig == signal.SIGTERM else signal.SIGTERM
        self._replan()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_yes()
        else:
            self.action_no()

    def action_yes(self) -> None:
        if self.request is None:
            return
        request, self.request = self.request, None
        self.dismiss(request)

    def action_no(self) -> None:
        if self.request is not None:
            self.request.close()
            self.request = None
        self.dismiss(None)


class Unavailable(ModalScreen[None]):
    DEFAULT_CSS = """
    Unavailable { align: center middle; }
    Unavailable > Static { width: 60; height: auto; border: round $warning; background: $surface; padding: 1 2; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,n,q", "close", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        yield Static(self.text, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


def start_kill(app: TopApp, row: Row) -> None:
    """Plan the kill of the row's container or process, ask, and signal on an explicit yes."""
    try:
        from . import killplan
    except ImportError:
        app.push_screen(
            Unavailable("Kill: not available in this build (the ctrlens.act package is missing).")
        )
        return
    snapshot = app.snapshot
    if snapshot is None:
        return

    def planner(sig: int) -> Any:
        return killplan.plan_for_row(app.host, snapshot, row, sig)

    def answered(request: Any) -> None:
        if request is None:
            app.notify("Nothing was signalled.")
            return

        def signal_it() -> None:
            try:
                message = killplan.run(request)
            except CtrlensError as exc:
                app.call_from_thread(
                    app.notify, safe_text(str(exc)), severity="error", timeout=8, markup=False
                )
                return
            app.call_from_thread(app.notify, safe_text(message), timeout=8, markup=False)
            app.call_from_thread(app.refresh_now)

        app.run_worker(signal_it, thread=True, group="kill")

    app.push_screen(ConfirmKill(planner), answered)
