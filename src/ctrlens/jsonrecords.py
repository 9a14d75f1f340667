"""JSON for an object that carries long lists of records (a diff with 10,000 changes, a bundle's processes).

`json.dump(indent=2)` runs json's pure-Python encoder and writes hundreds of thousands of fragments; here the
object's own keys are indented and each record of its list-valued keys is one line made by the C encoder.
The result is ordinary JSON, as readable by `jq` as the fully indented form, and much faster to make.
"""

from __future__ import annotations

import json
from typing import Any


def _line(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _ascii_line(value: Any) -> str:
    return json.dumps(value, default=str)


def dumps_with_records(data: dict[str, Any], *, ascii: bool = False) -> str:
    """`data` as JSON: scalars and small values indented by key, lists of dicts one record a line."""
    dump = _ascii_line if ascii else _line
    parts = []
    for key, value in data.items():
        name = json.dumps(key, ensure_ascii=ascii)
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            body = ",\n".join("    " + dump(v) for v in value)
            parts.append(f"  {name}: [\n{body}\n  ]")
        else:
            text = json.dumps(value, indent=2, default=str, ensure_ascii=ascii).replace("\n", "\n  ")
            parts.append(f"  {name}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n" if parts else "{}\n"
