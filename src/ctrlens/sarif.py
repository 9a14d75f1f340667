"""The one SARIF 2.1.0 (OASIS) builder, for every feature that reports findings (audit, secrets).

A feature turns its findings into `SarifRule`s and `SarifResult`s; this module builds the log (a plain dict);
the CLI's `sarif` formatter (`ctrlens.output`) writes it under the text policy like any JSON. Findings on a
host have no source file, so each result is placed with logical locations: the container (kind "resource")
and, when there is one, the thing inside it (an environment variable, a mount…).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import __version__

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
TOOL_NAME = "ctrlens"
INFORMATION_URI = "https://github.com/ctrlens/ctrlens"
LEVELS = ("none", "note", "warning", "error")


@dataclass(frozen=True, slots=True)
class SarifRule:
    id: str
    name: str  # PascalCase or kebab, shown by viewers next to the id
    short_description: str
    full_description: str | None = None
    level: str = "warning"  # the default level of its results
    help_text: str | None = None
    tags: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        rule: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "shortDescription": {"text": self.short_description},
            "defaultConfiguration": {"level": _level(self.level)},
        }
        if self.full_description:
            rule["fullDescription"] = {"text": self.full_description}
        if self.help_text:
            rule["help"] = {"text": self.help_text}
        if self.tags:
            rule["properties"] = {"tags": list(self.tags)}
        return rule


@dataclass(frozen=True, slots=True)
class LogicalLocation:
    name: str
    fully_qualified_name: str
    kind: str  # SARIF well-known kinds: "resource", "variable", "module", "namespace", "object"…

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "fullyQualifiedName": self.fully_qualified_name, "kind": self.kind}


@dataclass(slots=True)
class SarifResult:
    rule_id: str
    message: str
    locations: list[LogicalLocation]  # most specific first: the variable, then its container
    level: str | None = None  # None: the rule's default level
    fingerprints: dict[str, str] = field(default_factory=dict)  # partialFingerprints, for de-duplication
    properties: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, rule_index: int | None) -> dict[str, Any]:
        result: dict[str, Any] = {"ruleId": self.rule_id, "message": {"text": self.message}}
        if rule_index is not None:
            result["ruleIndex"] = rule_index
        if self.level is not None:
            result["level"] = _level(self.level)
        if self.locations:
            result["locations"] = [{"logicalLocations": [loc.to_dict() for loc in self.locations]}]
        if self.fingerprints:
            result["partialFingerprints"] = dict(self.fingerprints)
        if self.properties:
            result["properties"] = dict(self.properties)
        return result


def sarif_log(
    rules: list[SarifRule],
    results: list[SarifResult],
    *,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete log with one run. Rules without results are kept: they say what was checked."""
    index = {rule.id: i for i, rule in enumerate(rules)}
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [rule.to_dict() for rule in rules],
            }
        },
        "results": [result.to_dict(index.get(result.rule_id)) for result in results],
        "columnKind": "unicodeCodePoints",
    }
    if properties:
        run["properties"] = dict(properties)
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


def container_location(container_id: str, display_name: str) -> LogicalLocation:
    """The logical location naming a container, shared by every command's SARIF output."""
    return LogicalLocation(display_name, f"container/{container_id}", "resource")


def _level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"SARIF level must be one of {', '.join(LEVELS)}, not {level!r}")
    return level
