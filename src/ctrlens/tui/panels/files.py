"""A read-only file browser on the container's root, through `ctrlens.rootfs.ContainerRoot` (the `ctrlens fs`
layer): every path resolved inside the root, devices/FIFOs/sockets and kernel files never opened.

Enter opens a directory or previews a file (first 64 KiB, text only); Backspace goes up. In previews, lines
that look like `NAME=secret` are masked until `v`.
"""

from __future__ import annotations

import stat
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from ...errors import CtrlensError
from ...text import safe_text
from ..format import mem_text
from .base import Panel, not_available
from .preview import mask_secret_lines

PREVIEW_LIMIT = 64 * 1024


class FilesPanel(Panel):
    DEFAULT_CSS = """
    FilesPanel > DataTable { height: 1fr; }
    FilesPanel > #preview { height: 1fr; display: none; border-top: solid $primary; }
    FilesPanel.-previewing > DataTable { height: 8; }
    FilesPanel.-previewing > #preview { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("backspace", "up", "Up a directory"),
        Binding("escape", "close_preview", "Close preview", show=False),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.root: Any = None  # ContainerRoot while the tab is open
        self.cwd = b"/"
        self.entries: list[Any] = []
        self.preview_text = ""
        self.preview_path: bytes | None = None
        self.revealed = False

    def compose(self) -> ComposeResult:
        yield Static("", classes="panel--note", markup=False)
        table: DataTable[str] = DataTable(cursor_type="row")
        table.add_columns("NAME", "TYPE", "SIZE", "MODE", "OWNER")
        yield table
        with VerticalScroll(id="preview"):
            yield Static("", id="preview-text", markup=False)

    def load(self) -> None:
        try:
            from ...rootfs import ContainerRoot
        except ImportError:
            self.note(not_available("File browser", "ctrlens.rootfs"))
            return
        pid = self.pid
        if pid is None:
            self.note("No process whose root to show.")
            return
        try:
            self.root = ContainerRoot.from_pid(pid, proc=self.host.proc, label=f"PID {pid}")
        except CtrlensError as exc:
            self.note(f"Root of PID {pid}: {exc}")
            return
        self.open_dir(b"/")

    def open_dir(self, path: bytes) -> None:
        from ...rootfs import show

        try:
            with self.root.guard(path):
                entries = self.root.listdir(path)
        except CtrlensError as exc:
            self.note(f"{show(path)}: {exc}")
            return
        self.cwd, self.entries = path, entries
        self.close_preview()
        where = "init of the container" if self.target and not self.target.by_pid else "the process"
        self.note(f"{show(path)}   ({len(entries)} entries, root of PID {self.pid}, {where}; read-only)")
        table = self.query_one(DataTable)
        table.clear()
        if path != b"/":
            table.add_row("..", "directory", "", "", "")
        for entry in entries:
            st = entry.st
            name = show(entry.name)
            if entry.is_symlink and entry.link_target is not None:
                name += " -> " + show(entry.link_target)
            kind = entry.kind + (" (mount)" if entry.is_mount_point else "")
            uid, gid = self.root.owner_in_container(st)
            table.add_row(  # Text cells: a file name is literal text, never markup
                Text(name),
                Text(kind),
                mem_text(st.st_size) if entry.is_file else "",
                stat.filemode(st.st_mode),
                f"{uid}:{gid}",
            )
        table.move_cursor(row=0)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        index = event.cursor_row - (1 if self.cwd != b"/" else 0)
        if index < 0:
            self.action_up()
            return
        if index >= len(self.entries):
            return
        entry = self.entries[index]
        if entry.is_dir:
            self.open_dir(entry.path)
        elif entry.is_file:
            self.preview(entry.path)
        elif entry.is_symlink:
            self._follow(entry.path)
        else:
            self.note(f"{entry.kind}: not opened (only directories and regular files are shown)")

    def _follow(self, path: bytes) -> None:
        from ...rootfs import show

        try:
            with self.root.guard(path):
                target = self.root.entry(path, follow=True)
        except CtrlensError as exc:
            self.note(f"{show(path)}: {exc}")
            return
        if target.is_dir:
            self.open_dir(target.path)
        elif target.is_file:
            self.preview(target.path)
        else:
            self.note(f"{show(path)} points to a {target.kind}: not opened")

    def preview(self, path: bytes) -> None:
        from ...rootfs import show

        try:
            with self.root.guard(path):
                data = self.root.read_bytes(path, PREVIEW_LIMIT)
        except CtrlensError as exc:
            self.note(f"{show(path)}: {exc}")
            return
        self.preview_path = path
        if b"\0" in data[:8192]:
            self.preview_text = f"{show(path)}: binary file, not shown"
        else:
            text = data.decode("utf-8", "replace")
            lines = [safe_text(line) for line in text.splitlines()]
            self.preview_text = "\n".join(lines)
            if len(data) >= PREVIEW_LIMIT:
                self.preview_text += f"\n… (first {PREVIEW_LIMIT // 1024} KiB shown)"
        self.revealed = False
        self._show_preview()

    def _show_preview(self) -> None:
        text = self.preview_text
        masked, count = mask_secret_lines(text)
        shown = text if self.revealed else masked
        from ...rootfs import show

        where = show(self.preview_path or b"")
        if count:
            self.note(
                f"{where}: {count} secret line(s) "
                + ("REVEALED (v hides)" if self.revealed else "masked (v reveals)")
                + "; Esc closes"
            )
        else:
            self.note(f"{where}: first {PREVIEW_LIMIT // 1024} KiB at most; Esc closes")
        self.query_one("#preview-text", Static).update(shown)
        self.add_class("-previewing")

    def toggle_reveal(self) -> None:
        if self.preview_path is not None:
            self.revealed = not self.revealed
            self._show_preview()

    def close_preview(self) -> None:
        self.preview_path = None
        self.preview_text = ""
        self.revealed = False
        self.remove_class("-previewing")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Esc closes a preview; with none open it goes on to the screen (back to the table).
        if action == "close_preview":
            return self.preview_path is not None
        return True

    def action_close_preview(self) -> None:
        self.close_preview()

    def action_up(self) -> None:
        if self.root is None or self.cwd == b"/":
            return
        parent = self.cwd.rstrip(b"/").rpartition(b"/")[0] or b"/"
        self.open_dir(parent)

    def on_unmount(self) -> None:
        if self.root is not None:
            self.root.close()
            self.root = None
