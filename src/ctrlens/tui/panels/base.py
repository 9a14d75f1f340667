"""What the detail tabs share: the target they show, lazy loading on first display, a note for missing features."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from ...host import Host
from ...model import Snapshot
from ...refs import Target


def not_available(feature: str, module: str) -> str:
    return f"{feature}: not available in this build (the {module} package is missing)."


class Panel(Vertical):
    """A tab body. `load()` runs the first time the tab is shown, `reload()` on demand."""

    DEFAULT_CSS = """
    Panel { height: 1fr; }
    Panel > .panel--note { height: auto; color: $text-muted; }
    """

    def __init__(self, host: Host, snapshot: Snapshot, target: Target | None) -> None:
        super().__init__()
        self.host = host
        self.snapshot = snapshot
        self.target = target
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel--note", markup=False)

    def note(self, text: str) -> None:
        self.query_one(".panel--note", Static).update(text)

    def on_show(self) -> None:
        if not self.loaded:
            self.loaded = True
            self.load()

    def load(self) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        self.loaded = True
        self.load()

    @property
    def pid(self) -> int | None:
        """The process whose view (environment, root) the tab shows: the container's init, or the process."""
        return self.target.pid if self.target is not None else None
