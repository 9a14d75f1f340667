"""JSON for an object that carries long lists of records (a diff with 10,000 changes, a bundle's processes).

`json.dump(indent=2)` runs json's pure-Python encoder and writes hundreds of thousands of fragments; here the
object's own keys are indented and each record of its list-valued keys is one line made by the C encoder.
The result is ordinary JSON, as readable by `jq` as the fully indented form, and much faster to make. Every
value goes through the text policy (`ctrlens.text.dumps`): valid UTF-8, `*_hex` siblings for undecodable bytes.
"""

from __future__ import annotations

from typing import Any

from .text import ascii_json, dumps


def dumps_with_records(data: dict[str, Any], *, ascii: bool = False) -> str:
    """`data` as JSON: scalars and small values indented by key, lists of dicts one record a line."""
    fix = ascii_json if ascii else (lambda text: text)
    parts = []
    for key, value in data.items():
        name = fix(dumps(key))
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            body = ",\n".join("    " + fix(dumps(v)) for v in value)
            parts.append(f"  {name}: [\n{body}\n  ]")
        else:
            text = fix(dumps(value, indent=2)).replace("\n", "\n  ")
            parts.append(f"  {name}: {text}")
    return "{\n" + ",\n".join(parts) + "\n}\n" if parts else "{}\n"
