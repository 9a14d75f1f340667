"""Formatters: every command builds rows of plain data, then hands them to one of these.

- `table`: fixed columns, fitted to the terminal width (80 columns readable), long cells cut with '…'.
- `json`: one JSON document (a list of records, or an object for single-item commands).
- `ndjson`: one JSON object per line, for log shippers and `jq -c`.
- `sarif` lives in `output.sarif` (only audit-like commands offer it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from ..text import cut as cut  # re-exported: the text policy lives below the features
from ..text import safe_text as safe_text

FORMATS = ("table", "json", "ndjson")


def add_output_option(parser: argparse.ArgumentParser, formats: tuple[str, ...] = FORMATS) -> None:
    parser.add_argument(
        "-o",
        "--output",
        choices=formats,
        default="table",
        help=f"output format ({', '.join(formats)}); default table",
    )


@dataclass(slots=True)
class Column:
    header: str
    key: str | Callable[[dict[str, Any]], Any]
    min_width: int = 4
    max_width: int | None = None  # None: takes what is left (one flexible column per table)
    align: str = "<"

    def value(self, row: dict[str, Any]) -> str:
        v = self.key(row) if callable(self.key) else row.get(self.key)
        if v is None:
            return "-"
        return str(v)


def terminal_width(stream: TextIO | None = None) -> int:
    stream = stream or sys.stdout
    env = os.environ.get("COLUMNS")
    if env and env.isdigit():
        return int(env)
    if stream.isatty():
        return shutil.get_terminal_size((80, 24)).columns
    return 10_000  # piped: do not cut


def render_table(rows: list[dict[str, Any]], columns: list[Column], *, width: int | None = None) -> str:
    width = width or terminal_width()
    cells = [[safe_text(col.value(row)) for col in columns] for row in rows]
    widths = []
    for i, col in enumerate(columns):
        natural = max([len(col.header)] + [len(r[i]) for r in cells]) if cells else len(col.header)
        widths.append(min(natural, col.max_width) if col.max_width else natural)
    flexible = [i for i, col in enumerate(columns) if col.max_width is None]
    total = sum(widths) + 2 * (len(columns) - 1)
    if total > width:
        # Shrink the flexible columns first, then the widest fixed ones down to their minimum.
        excess = total - width
        for i in flexible + sorted(range(len(columns)), key=lambda j: -widths[j]):
            if excess <= 0:
                break
            give = min(excess, widths[i] - columns[i].min_width)
            if give > 0:
                widths[i] -= give
                excess -= give
    lines = []
    header = "  ".join(
        f"{cut(col.header, w):{col.align}{w}}" for col, w in zip(columns, widths, strict=False)
    )
    lines.append(header.rstrip())
    for r in cells:
        line = "  ".join(f"{cut(c, w):{col.align}{w}}" for c, col, w in zip(r, columns, widths, strict=False))
        lines.append(line.rstrip())
    return "\n".join(lines)


def write_json(data: Any, stream: TextIO | None = None) -> None:
    """A list is written one record a line (json's C encoder, fast at 2,000 records); anything else indented."""
    stream = stream or sys.stdout
    if isinstance(data, list):
        stream.write("[\n" if data else "[")
        stream.write(",\n".join(json.dumps(r, default=str, ensure_ascii=False) for r in data))
        stream.write("\n]\n")
        return
    json.dump(data, stream, indent=2, sort_keys=False, default=str, ensure_ascii=False)
    stream.write("\n")


def write_ndjson(records: Iterable[dict[str, Any]], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    for record in records:
        stream.write(json.dumps(record, default=str, ensure_ascii=False, separators=(",", ":")))
        stream.write("\n")


def emit(
    fmt: str,
    records: list[dict[str, Any]],
    columns: list[Column] | None = None,
    *,
    stream: TextIO | None = None,
    table: Callable[[], str] | None = None,
    empty_message: str | None = None,
) -> None:
    """Write `records` in `fmt`. `table` overrides the default column table (forest views and the like)."""
    stream = stream or sys.stdout
    if fmt == "json":
        write_json(records, stream)
    elif fmt == "ndjson":
        write_ndjson(records, stream)
    else:
        if not records and empty_message:
            return
        text = table() if table else render_table(records, columns or [])
        stream.write(text + "\n")
