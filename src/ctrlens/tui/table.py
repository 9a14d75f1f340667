"""The grouped process table: a Line-API widget that draws only the rows on screen.

It holds the list from `TopModel.visible()`; a refresh hands it a new list (same Row objects, updated in place)
and it redraws the visible lines. The cursor follows a row's key, not its position, so sorting and rows coming
and going do not move the selection to another container.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding, BindingType
from textual.events import Click, Resize
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .format import cpu_text, mem_text
from .rows import CONTAINER, HOST, SHIM, Row


@dataclass(slots=True, frozen=True)
class Layout:
    """Column widths for a table `width` cells wide (80 columns: the name gets 38)."""

    name: int
    detail: int  # 0 when too narrow to show it
    pid: int = 7
    count: int = 5
    cpu: int = 6
    mem: int = 7

    @classmethod
    def for_width(cls, width: int) -> Layout:
        detail = 10 if width >= 64 else 0
        fixed = 7 + 5 + 6 + 7 + 4 + (detail + 1 if detail else 0)
        return cls(name=max(width - fixed, 8), detail=detail)

    def header(self, sort: str) -> str:
        marks = {"name": "NAME", "pid": "PID", "cpu": "CPU%", "mem": "MEM"}
        names = {k: (v + "▼" if k == sort else v) for k, v in marks.items()}
        parts = [f"  {names['name'] + ' / COMMAND':<{self.name - 2}}"]
        if self.detail:
            parts.append(f"{'RUNTIME':<{self.detail}}")
        parts += [
            f"{names['pid']:>{self.pid}}",
            f"{'PROCS':>{self.count}}",
            f"{names['cpu']:>{self.cpu}}",
            f"{names['mem']:>{self.mem}}",
        ]
        return " ".join(parts)


def fit(text: str, width: int) -> str:
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


class TopTable(ScrollView, can_focus=True):
    """Containers with their shims and processes, then the host's processes."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "top-table--container",
        "top-table--host",
        "top-table--shim",
        "top-table--dim",
        "top-table--busy",
        "top-table--cursor",
    }

    DEFAULT_CSS = """
    TopTable {
        background: $surface;
        color: $foreground;
        scrollbar-size-vertical: 1;
        scrollbar-gutter: stable;
        overflow-x: hidden;
    }
    TopTable > .top-table--container { text-style: bold; color: $text-primary; }
    TopTable > .top-table--host { text-style: bold; color: $text-secondary; }
    TopTable > .top-table--shim { color: $text-muted; text-style: italic; }
    TopTable > .top-table--dim { color: $text-muted; }
    TopTable > .top-table--busy { color: $text-warning; text-style: bold; }
    TopTable > .top-table--cursor { background: $block-cursor-background; color: $block-cursor-foreground; }
    TopTable:blur > .top-table--cursor { background: $block-cursor-blurred-background; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("space", "toggle_fold", "Fold", show=False),
        Binding("left", "fold(True)", "Fold", show=False),
        Binding("right", "fold(False)", "Unfold", show=False),
        Binding("enter", "activate", "Details"),
    ]

    class Activated(Message):
        """Enter (or a double click) on a row: open its details."""

        def __init__(self, row: Row) -> None:
            super().__init__()
            self.row = row

    class FoldRequested(Message):
        """Open or close a group: the model owns the state, the app applies it."""

        def __init__(self, group_key: str, collapse: bool | None) -> None:
            super().__init__()
            self.group_key = group_key
            self.collapse = collapse  # None: toggle

    class Resized(Message):
        def __init__(self, columns: Layout) -> None:
            super().__init__()
            self.columns = columns

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[Row] = []
        self.cursor_key: str | None = None
        self.cursor = 0
        self.collapsed: set[str] = set()
        self.columns = Layout.for_width(80)
        self._index: dict[str, int] = {}
        self._cache: dict[tuple[str, int, int, bool, bool], Strip] = {}

    # -- data ---------------------------------------------------------------------------------------------------

    def set_rows(self, rows: list[Row], collapsed: set[str]) -> None:
        """Show `rows` (the model's visible list); the cursor stays on the same row when it is still there."""
        self.rows = rows
        self.collapsed = collapsed
        self._index = {row.key: i for i, row in enumerate(rows)}
        if self.cursor_key in self._index:
            self.cursor = self._index[self.cursor_key]
        else:
            self.cursor = min(self.cursor, len(rows) - 1) if rows else 0
            self.cursor_key = rows[self.cursor].key if rows else None
        if len(self._cache) > 4 * max(len(rows), 256):
            self._cache.clear()  # rows that left keep no memory
        self.virtual_size = Size(self.content_width, len(rows))
        self._scroll_cursor_into_view()
        self.refresh()

    @property
    def current(self) -> Row | None:
        return self.rows[self.cursor] if self.rows else None

    def select_key(self, key: str) -> bool:
        index = self._index.get(key)
        if index is None:
            return False
        self._move_to(index)
        return True

    # -- drawing ------------------------------------------------------------------------------------------------

    @property
    def content_width(self) -> int:
        """Columns left for text: the vertical scrollbar's gutter is always kept, so the layout never jumps."""
        return self.scrollable_content_region.width

    def on_resize(self, event: Resize) -> None:
        self.columns = Layout.for_width(self.content_width)
        self._cache.clear()
        self.virtual_size = Size(self.content_width, len(self.rows))
        self.post_message(self.Resized(self.columns))

    def render_line(self, y: int) -> Strip:
        index = self.scroll_offset.y + y
        width = self.content_width
        if index >= len(self.rows):
            return Strip.blank(width, self.rich_style)
        row = self.rows[index]
        selected = index == self.cursor
        folded = row.key in self.collapsed
        cache_key = (row.key, row.version, width, selected, folded)
        strip = self._cache.get(cache_key)
        if strip is None:
            strip = Strip(self._segments(row, selected, folded), width).crop_extend(0, width, self.rich_style)
            self._cache[cache_key] = strip
        return strip.apply_offsets(0, index)

    def _segments(self, row: Row, selected: bool, folded: bool) -> list[Segment]:
        base = self.rich_style
        dim = self.get_component_rich_style("top-table--dim", partial=True)
        if row.kind == CONTAINER:
            name_style = self.get_component_rich_style("top-table--container", partial=True)
        elif row.kind == HOST:
            name_style = self.get_component_rich_style("top-table--host", partial=True)
        elif row.kind == SHIM:
            name_style = self.get_component_rich_style("top-table--shim", partial=True)
        else:
            name_style = Style()
        lay = self.columns
        lead = ("▸ " if folded else "▾ ") if row.is_group else "  " * row.depth
        name_room = lay.name - len(lead)
        name = fit(row.name, name_room)
        extra = fit(row.extra, name_room - len(name) - 2) if row.extra and name_room - len(name) > 4 else ""
        pad = name_room - len(name) - (len(extra) + 2 if extra else 0)
        segments = [Segment(lead, name_style), Segment(name, name_style)]
        if extra:
            segments.append(Segment("  " + extra, dim))
        segments.append(Segment(" " * pad + " "))
        if lay.detail:
            segments.append(
                Segment(f"{fit(row.detail, lay.detail):<{lay.detail}} ", dim if row.kind == SHIM else None)
            )
        cpu = cpu_text(row.cpu)
        busy = row.cpu is not None and row.cpu >= 50.0
        segments += [
            Segment(f"{row.pid if row.pid is not None else '-':>{lay.pid}} "),
            Segment(f"{row.count if row.count is not None else '':>{lay.count}} "),
            Segment(
                f"{cpu:>{lay.cpu}} ",
                self.get_component_rich_style("top-table--busy", partial=True) if busy else None,
            ),
            Segment(f"{mem_text(row.mem):>{lay.mem}}"),
        ]
        style = base
        if selected:
            style = base + self.get_component_rich_style("top-table--cursor")
        return [Segment(text, style + seg_style if seg_style else style) for text, seg_style, _ in segments]

    # -- keys and mouse -----------------------------------------------------------------------------------------

    def _move_to(self, index: int) -> None:
        if not self.rows:
            return
        old = self.cursor
        self.cursor = max(0, min(index, len(self.rows) - 1))
        self.cursor_key = self.rows[self.cursor].key
        self._scroll_cursor_into_view()
        if old != self.cursor:
            self.refresh_lines(old)  # only the two lines whose look changed (virtual row numbers)
            self.refresh_lines(self.cursor)

    def _scroll_cursor_into_view(self) -> None:
        height = self.scrollable_content_region.height or self.size.height
        top = int(self.scroll_offset.y)
        if height <= 0:
            return
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    def action_cursor(self, step: int) -> None:
        self._move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(self.size.height - 1, 1))

    def action_jump(self, where: int) -> None:
        self._move_to(len(self.rows) - 1 if where < 0 else 0)

    def action_toggle_fold(self) -> None:
        row = self.current
        if row is not None:
            self.cursor_key = row.group
            self.post_message(self.FoldRequested(row.group, None))

    def action_fold(self, collapse: bool) -> None:
        row = self.current
        if row is None:
            return
        if collapse and not row.is_group:
            self.select_key(row.group)  # left on a process: go to its container first, like a file tree
            return
        self.post_message(self.FoldRequested(row.group, collapse))

    def action_activate(self) -> None:
        row = self.current
        if row is not None and row.kind != HOST:
            self.post_message(self.Activated(row))
        elif row is not None:
            self.post_message(self.FoldRequested(row.group, None))

    def on_click(self, event: Click) -> None:
        index = int(self.scroll_offset.y) + event.y
        if not 0 <= index < len(self.rows):
            return
        self._move_to(index)
        row = self.rows[index]
        if row.is_group and event.x < 2:
            self.post_message(self.FoldRequested(row.group, None))
        elif event.chain >= 2:
            self.action_activate()
