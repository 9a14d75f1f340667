"""The key help, on screen (`?`). Fits 80×24."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
ctrlens top: the containers on this host, their shims and processes, live.

 Table
   ↑ ↓ PgUp PgDn Home End   move            Enter / double-click  details
   Space  ← →   fold / open a container     + / -   open / fold all
   /   filter (name, image, command, PID)   Esc     clear the filter
   s   sort: cpu → mem → name → pid         c       containers only
   k   kill the selected container/process  K       kernel threads
   t   light / dark colours                 Ctrl+R  refresh now
   q   quit                                 ?       this help

 Details (Enter)
   1-4  Facts · Audit · Environment · Files         Esc  back
   v    reveal secret values in Environment (hidden again on leaving)
   k    kill, with the same plan and confirmation as `ctrlens kill`

 Columns: CPU% of one CPU (cgroup for a container, /proc/PID/stat for a
 process); MEM = cgroup memory minus inactive page cache for a container
 (as `docker stats`), resident set for a process; PROCS = processes seen.

                         Esc, q or ? to close
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(HELP, markup=False)
