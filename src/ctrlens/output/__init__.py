"""The one output path: a command returns a `Result`; the CLI writes it with the formatter of the chosen format.

- `table`: the text the command laid out (cells through `safe_text`, columns fitted to the terminal), then passed
  once more through `terminal_safe` so no control character, escape sequence or bidi override reaches a terminal.
- `json`: one document, valid UTF-8 whatever the data holds (`ctrlens.text.dumps`: `*_hex` siblings).
- `ndjson`: one JSON object a line, for log shippers and `jq -c`.
- `sarif`: a SARIF 2.1.0 log built by `ctrlens.sarif`, written like JSON.

Adding a format is adding an `OutputFormat` member and one function in `FORMATTERS`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TextIO

from ..jsonrecords import dumps_with_records
from ..text import ascii_json as _as_ascii
from ..text import cut, dumps, safe_text

__all__ = [
    "FORMATS",
    "Column",
    "OutputFormat",
    "Result",
    "add_output_option",
    "cut",
    "ndjson_line",
    "render",
    "render_table",
    "safe_text",
    "terminal_safe",
    "terminal_width",
    "write_json",
    "write_ndjson",
]


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    NDJSON = "ndjson"
    SARIF = "sarif"
    WIDE = "wide"  # the table with more columns (`Result.wide`)


FORMATS: tuple[OutputFormat, ...] = (OutputFormat.TABLE, OutputFormat.JSON, OutputFormat.NDJSON)
WITH_SARIF: tuple[OutputFormat, ...] = (*FORMATS, OutputFormat.SARIF)


def add_output_option(
    parser: argparse.ArgumentParser, formats: Sequence[str] = FORMATS, *, dest: str = "output"
) -> None:
    parser.add_argument(
        "-o",
        "--output",
        dest=dest,
        type=OutputFormat,
        choices=[OutputFormat(f) for f in formats],
        default=OutputFormat.TABLE,
        metavar="{" + ",".join(formats) + "}",
        help=f"output format ({', '.join(formats)}); default table",
    )


@dataclass(slots=True)
class Result:
    """What a command hands back: the data for each format it offers, and its exit code.

    `document` is the `-o json` document (a list of records, or an object), or a function making it (made only
    when a JSON format is chosen); `records`, the `-o ndjson` objects
    (default: the document's items, or the document itself); `table` makes the text for `-o table`; `sarif`
    the SARIF log. `records_one_a_line`: an object's lists of records are written one record a line (a diff
    with 100,000 changes), still one JSON document.
    """

    document: Any = None
    records: Iterable[Any] | None = None
    table: Callable[[], str] | None = None
    sarif: Callable[[], dict[str, Any]] | None = None
    exit_code: int = 0
    records_one_a_line: bool = False
    wide: Callable[[], str] | None = None

    def json_document(self) -> Any:
        return self.document() if callable(self.document) else self.document

    def ndjson_records(self) -> Iterable[Any]:
        if self.records is not None:
            return self.records
        document = self.json_document()
        if isinstance(document, list):
            return document
        return [] if document is None else [document]


# --- table -----------------------------------------------------------------------------------------------------


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


_UNSAFE_LINE_CHARS = re.compile(r"[^\n]")


def terminal_safe(text: str) -> str:
    """The last guard before a terminal: every non-printable character but the newline shown escaped.

    Unlike `safe_text` it leaves `\\` alone (the text has been laid out already, its cells escaped)."""
    if text.isprintable():
        return text
    return "\n".join(
        line if line.isprintable() else "".join(c if c.isprintable() else safe_text(c) for c in line)
        for line in text.split("\n")
    )


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


def table_result(
    records: list[dict[str, Any]],
    columns: list[Column],
    *,
    document: Any = None,
    empty_text: str | None = None,
    exit_code: int = 0,
) -> Result:
    """The common case: records as the JSON, the same rows as a column table."""

    def table() -> str:
        if not records and empty_text is not None:
            return ""
        return render_table(records, columns)

    return Result(document=records if document is None else document, table=table, exit_code=exit_code)


# --- JSON --------------------------------------------------------------------------------------------------------


def _ascii_only(stream: TextIO) -> bool:
    """JSON to a stream whose encoding is not UTF-8 (LANG=C without coercion, PYTHONIOENCODING=ascii) is
    written with \\u escapes: still the same JSON, never an encoding error."""
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    return encoding not in ("utf-8", "utf8")


def write_json(data: Any, stream: TextIO | None = None) -> None:
    """A list is written one record a line (json's C encoder, fast at 2,000 records); anything else indented."""
    stream = stream or sys.stdout
    fix = _as_ascii if _ascii_only(stream) else (lambda t: t)
    if isinstance(data, list):
        stream.write("[\n" if data else "[")
        stream.write(",\n".join(fix(dumps(r)) for r in data))
        stream.write("\n]\n")
        return
    stream.write(fix(dumps(data, indent=2)) + "\n")


def ndjson_line(record: Any, stream: TextIO) -> str:
    """One record as one NDJSON line for `stream` (a live stream writes each line as it comes)."""
    text = dumps(record, compact=True)
    return (_as_ascii(text) if _ascii_only(stream) else text) + "\n"


def write_ndjson(records: Iterable[Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    for record in records:
        stream.write(ndjson_line(record, stream))


def write_json_records(data: dict[str, Any], stream: TextIO) -> None:
    """An object whose lists of records are written one record a line (see `Result.records_one_a_line`)."""
    stream.write(dumps_with_records(data, ascii=_ascii_only(stream)))


# --- the formatters --------------------------------------------------------------------------------------------


def _format_table(result: Result, stream: TextIO) -> None:
    if result.table is None:
        raise ValueError("this command has no table view")
    text = result.table()
    if text:
        stream.write(terminal_safe(text.rstrip("\n")) + "\n")


def _format_wide(result: Result, stream: TextIO) -> None:
    if result.wide is None:
        raise ValueError("this command has no wide view")
    _format_table(Result(table=result.wide), stream)


def _format_json(result: Result, stream: TextIO) -> None:
    document = result.json_document()
    if result.records_one_a_line and isinstance(document, dict):
        write_json_records(document, stream)
    else:
        write_json(document, stream)


def _format_ndjson(result: Result, stream: TextIO) -> None:
    write_ndjson(result.ndjson_records(), stream)


def _format_sarif(result: Result, stream: TextIO) -> None:
    if result.sarif is None:
        raise ValueError("this command has no SARIF view")
    write_json(result.sarif(), stream)


FORMATTERS: dict[OutputFormat, Callable[[Result, TextIO], None]] = {
    OutputFormat.TABLE: _format_table,
    OutputFormat.JSON: _format_json,
    OutputFormat.NDJSON: _format_ndjson,
    OutputFormat.SARIF: _format_sarif,
    OutputFormat.WIDE: _format_wide,
}


def render(result: Result, fmt: OutputFormat | str, stream: TextIO) -> int:
    """Write `result` in `fmt`; returns the command's exit code."""
    FORMATTERS[OutputFormat(fmt)](result, stream)
    return result.exit_code
