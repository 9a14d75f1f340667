"""Masking `NAME=value` / `NAME: value` lines whose value the secrets layer calls a secret (.env, configs)."""

from __future__ import annotations

import re
from collections.abc import Callable

_ASSIGN = re.compile(r"^(\s*(?:export\s+)?[\"']?([A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*[=:]\s*)(.+?)\s*$")
MASK = "•••"


def mask_secret_lines(text: str) -> tuple[str, int]:
    """`text` with secret values replaced by a mask, and how many lines were masked. Without the secrets
    layer every assignment's value is masked: fail closed."""
    classify: Callable[[str, str], object | None] | None
    try:
        from ...secrets import classify
    except ImportError:
        classify = None
    out: list[str] = []
    count = 0
    for line in text.split("\n"):
        match = _ASSIGN.match(line)
        if match is not None:
            head, name, value = match.group(1), match.group(2), match.group(3)
            try:
                secret = classify is None or classify(name, value.strip("\"'")) is not None
            except Exception:  # noqa: BLE001 - undecidable: hide it
                secret = True
            if secret:
                line = head + MASK
                count += 1
        out.append(line)
    return "\n".join(out), count
