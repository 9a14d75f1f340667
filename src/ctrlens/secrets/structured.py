"""Structures inside one value: JSON, `.env`/INI and YAML-ish `key: value` lines, pgpass lines. The detectors run
on their leaves, each judged under its own key (`{"db": {"password": "…"}}` is a password whatever the
variable is called).

Bounded, since the value is the container's: nesting deeper than MAX_DEPTH is not parsed (checked by a linear
pre-scan, before `json.loads` could recurse), at most MAX_LEAVES leaves are judged, and the caller hands in a
value already cut to `findings.SCAN_LIMIT`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

MAX_DEPTH = 32
MAX_LEAVES = 512
_KEY_VALUE = re.compile(r"(?:export\s{1,8})?([A-Za-z_][A-Za-z0-9_.-]{0,127})\s{0,8}[=:]\s{0,8}(.*)")
_PGPASS_FIELD = re.compile(r"(?:[^:\\]|\\.)*")


def leaves(value: str) -> Iterator[tuple[str, str]]:
    """(key path, leaf) pairs: `auths.registry.example.com.auth`, `password`, `DB_PASSWORD`, `pgpass`."""
    text = value.strip()
    if text[:1] in ("{", "[") and _depth_ok(text):
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict | list):
            yield from _limit(_json_leaves(doc, ()))
            return
    if "\n" in text or _is_pgpass(text):
        yield from _limit(_line_leaves(text))


def _limit(found: Iterator[tuple[str, str]]) -> Iterator[tuple[str, str]]:
    for count, leaf in enumerate(found):
        if count >= MAX_LEAVES:
            return
        yield leaf


def _depth_ok(text: str) -> bool:
    """Nesting no deeper than MAX_DEPTH (brackets inside strings count too: a cheap, safe over-estimate)."""
    depth = 0
    for char in text:
        if char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "]}":
            depth -= 1
    return True


def _json_leaves(node: Any, path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _json_leaves(child, (*path, str(key)))
    elif isinstance(node, list):
        for child in node:
            yield from _json_leaves(child, path)
    elif isinstance(node, str) and node:
        yield ".".join(path) or "value", node


def _line_leaves(text: str) -> Iterator[tuple[str, str]]:
    """`.env`/INI (`KEY=value`, `export KEY=value`, `[section]`), YAML-ish (`key: value`), pgpass lines."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;[":
            continue
        if _is_pgpass(line):
            fields = [m.group(0) for m in _PGPASS_FIELD.finditer(line) if m.group(0)]
            if len(fields) >= 5:
                yield "pgpass", fields[-1].replace("\\:", ":").replace("\\\\", "\\")
            continue
        m = _KEY_VALUE.fullmatch(line)
        if m and m.group(2):
            yield m.group(1), _unquote(m.group(2).strip())


def _is_pgpass(line: str) -> bool:
    """`host:port:database:user:password` (.pgpass): four unescaped colons, no URL, no blanks, and a port
    field of `*` or 4-5 digits (so `web:80:api:8080:backend` service maps are not taken for one)."""
    if line.count(":") - line.count("\\:") != 4 or "//" in line or " " in line:
        return False
    port = line.split(":", 2)[1]
    return port == "*" or (port.isdigit() and 4 <= len(port) <= 5)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
