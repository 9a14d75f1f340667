"""The environment of the container's init (or of the selected process), secrets redacted until `v` is pressed.

Reading and judging go through `ctrlens.secrets` (ProcHandle reads, liveness checked after the read). Revealed
values live only in this widget and are dropped when the detail screen closes.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from ...errors import CtrlensError
from ...text import safe_text
from .base import Panel, not_available


class EnvPanel(Panel):
    DEFAULT_CSS = """
    EnvPanel > DataTable { height: 1fr; }
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.revealed = False
        self.pairs: list[tuple[str, str]] = []
        self.secret_names: dict[str, str] = {}  # name -> redacted text ("<redacted: rule, N chars, fp …>")

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel--note", markup=False)
        table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=False)
        table.add_columns("NAME", "VALUE")
        yield table

    def load(self) -> None:
        try:
            from ...secrets import read_process
            from ...secrets.redact import Redactor
        except ImportError:
            self.note(not_available("Environment", "ctrlens.secrets"))
            return
        pid = self.pid
        if pid is None:
            self.note("No process to read the environment from.")
            return
        try:
            data = read_process(pid, self.host.proc)
        except CtrlensError as exc:
            self.note(f"Environment of PID {pid}: {exc}")
            return
        if data is None:
            self.note(f"PID {pid} has exited.")
            return
        self.pairs = data.environ
        # The host-keyed fingerprint, as the CLI and the Audit tab show it; values the detector could not judge
        # are hidden too (the one rule of ctrlens.secrets.redact).
        shown = Redactor.for_host(self.host).environ(self.pairs)
        self.secret_names = {s.name: s.value for s in shown if s.redacted}
        self._fill()

    def toggle_reveal(self) -> None:
        if not self.pairs:
            return
        self.revealed = not self.revealed
        self._fill()

    def _fill(self) -> None:
        pid = self.pid
        whose = "init of the container" if self.target and not self.target.by_pid else "the process"
        hidden = len(self.secret_names)
        state = ("REVEALED: press v to hide" if self.revealed else "press v to reveal") if hidden else ""
        self.note(f"{len(self.pairs)} variables of PID {pid} ({whose}); {hidden} secret(s) {state}".rstrip())
        table = self.query_one(DataTable)
        table.clear()
        for name, value in self.pairs:
            secret = self.secret_names.get(name)
            shown = value if secret is None or self.revealed else secret
            # Text, not str: a DataTable reads a str cell as markup, and `[/]` from a container ends `top`.
            table.add_row(Text(safe_text(name)), Text(safe_text(shown)))

    def on_unmount(self) -> None:
        self.pairs = []
        self.revealed = False
