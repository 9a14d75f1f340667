"""The one text policy for what a container controls (comm, argv, environ, names, labels, file names).

Text from /proc is decoded with `surrogateescape`: a byte that is not UTF-8 becomes a lone surrogate
U+DC80-U+DCFF, so the exact bytes survive in a `str`. Two boundaries turn such text into something safe:

- `safe_text(s)` for a terminal (tables, `--forest`, messages, the TUI): every character that is not printable
  (controls, ESC and so CSI/OSC/DCS sequences, bidi overrides and isolates, other invisible format characters,
  line separators) is shown escaped, `\\` itself becomes `\\\\` (so the text `\\x1b` and a real ESC differ), and an
  undecodable byte shows as `\\xNN`.
- `json_text(value)` for JSON/NDJSON: always valid UTF-8. A string holding undecodable bytes is written with
  them as `\\xNN` and gets a sibling `KEY_hex` (the exact bytes, hex) in its object; a list of such strings
  gets `KEY_hex`, the hex of every element. Invisible and line-separating characters are written as `\\uXXXX`
  escapes (the same string to a JSON reader), so a document shown on a terminal cannot restyle it and
  splitting NDJSON on any line separator still gives one record a line.
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any

_SURROGATES = re.compile("[\ud800-\udfff]")
# Characters JSON leaves raw that a terminal or a line splitter acts on: C1 controls (0x85 is NEL), soft hyphen,
# Arabic letter mark, Mongolian vowel separator, zero-width and direction marks, line/paragraph separators,
# bidi embeddings/overrides (U+202A-202E), word joiner, invisible operators, bidi isolates (U+2066-2069),
# deprecated format characters, BOM, interlinear annotation, tag characters.
_JSON_INVISIBLE = re.compile(
    "[\x80-\x9f\xad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\U000e0000-\U000e007f]"
)


def _to_bytes(error: UnicodeError) -> tuple[bytes, int]:
    """Codec error handler: U+DC80-DCFF are the bytes surrogateescape kept; other lone surrogates as WTF-8."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = bytearray()
    for ch in error.object[error.start : error.end]:
        code = ord(ch)
        out += bytes([code - 0xDC00]) if 0xDC80 <= code <= 0xDCFF else ch.encode("utf-8", "surrogatepass")
    return bytes(out), error.end


codecs.register_error("ctrlens-bytes", _to_bytes)


def raw_bytes(text: str) -> bytes:
    """The bytes a surrogateescape-decoded string came from."""
    return text.encode("utf-8", "ctrlens-bytes")


def is_clean(text: str) -> bool:
    """True when the text is valid Unicode (no lone surrogate): it encodes to UTF-8 as it is."""
    return text.isascii() or _SURROGATES.search(text) is None


def readable(text: str) -> str:
    """Undecodable bytes as `\\xNN`, the rest as it is (valid UTF-8, not yet safe for a terminal)."""
    if is_clean(text):
        return text
    return raw_bytes(text).decode("utf-8", "backslashreplace")


# --- terminal --------------------------------------------------------------------------------------------------

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape_char(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"  # an undecodable byte, shown as the byte
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


_NOT_PLAIN_ASCII = re.compile(r"[^ -\[\]-~]")  # anything but printable ASCII other than the backslash


def _shown(match: re.Match[str]) -> str:
    ch = match.group()
    return ch if ch.isprintable() and ch != "\\" else _escape_char(ch)


def safe_text(text: str) -> str:
    """`text` for a terminal: no control character, escape sequence, bidi override or invisible character
    reaches the screen; each shows escaped, and `\\` shows as `\\\\`."""
    if text.isprintable() and "\\" not in text:
        return text
    return _NOT_PLAIN_ASCII.sub(_shown, text)  # runs of plain ASCII stay in C: linear and fast on 1 MB


def cut(text: str, width: int) -> str:
    """At most `width` characters, the last one `…` when the text was longer (table cells)."""
    if width <= 0:
        return ""
    if len(text) <= width:
        return text
    return text[: max(width - 1, 0)] + "…"


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters of `text` (already safe), with a note of how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters not shown)"


# --- JSON ------------------------------------------------------------------------------------------------------


def json_value(value: Any) -> Any:
    """`value` with every string valid UTF-8; exact bytes kept in `KEY_hex` siblings (see the module doc)."""
    if isinstance(value, str):
        return readable(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            name = readable(key) if isinstance(key, str) else key
            out[name] = json_value(item)
            if isinstance(item, str) and not is_clean(item):
                out[f"{name}_hex"] = raw_bytes(item).hex()
            elif isinstance(item, list | tuple) and any(isinstance(x, str) and not is_clean(x) for x in item):
                out[f"{name}_hex"] = [raw_bytes(x).hex() if isinstance(x, str) else None for x in item]
        return out
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def _escape_invisible(match: re.Match[str]) -> str:
    data = match.group().encode("utf-16-be")
    return "".join(f"\\u{data[i]:02x}{data[i + 1]:02x}" for i in range(0, len(data), 2))


def dumps(value: Any, *, indent: int | None = None, compact: bool = False) -> str:
    """JSON text that is valid UTF-8 whatever `value` holds. `compact`: no spaces (NDJSON)."""
    separators = (",", ":") if compact else None
    text = json.dumps(value, ensure_ascii=False, default=str, indent=indent, separators=separators)
    if text.isascii():
        return text
    if _SURROGATES.search(text) is not None:
        text = json.dumps(
            json_value(value), ensure_ascii=False, default=str, indent=indent, separators=separators
        )
        text = _SURROGATES.sub(_json_escaped_byte, text)  # left only by objects json could not see into
    return _JSON_INVISIBLE.sub(_escape_invisible, text)


def _json_escaped_byte(match: re.Match[str]) -> str:
    """A lone surrogate inside an already-dumped JSON string, as the text `\\xNN` (an escaped backslash)."""
    return "\\\\" + _escape_char(match.group())[1:]


def dumps_line(value: Any) -> str:
    """One JSON value on one line (the list-of-records and NDJSON form)."""
    return dumps(value)


def clean_json_text(text: str) -> str:
    """Already-dumped JSON text made safe (used where a caller built the text itself)."""
    if text.isascii():
        return text
    return _JSON_INVISIBLE.sub(_escape_invisible, _SURROGATES.sub(_json_escaped_byte, text))


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def ascii_json(text: str) -> str:
    """JSON text with every non-ASCII character as a \\u escape: the same JSON, for a stream that is not UTF-8."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(_escape_invisible, text)
