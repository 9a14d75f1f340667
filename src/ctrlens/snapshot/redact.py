"""What of a container's environment, command lines and labels may go into a bundle file.

A bundle travels further than a terminal, so the default is stricter than `ctrlens env`: a variable keeps its
value only when its name is one images set by the thousand with harmless values (PATH, HOME, *_VERSION…,
`secrets.is_allowlisted`) AND the detector finds no secret in it. Everything else becomes a marker with the
length (and, for detected secrets, the rule and the host-keyed fingerprint). `reveal=True` keeps every value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..secrets import DetectionFailed, Finding, Fingerprinter, is_allowlisted, judge_environ, scan_argv

LONG_VALUE = 256  # a label or annotation longer than this may embed a whole spec (last-applied-configuration)
MAX_ARGV_PROBE = (
    64  # leave-one-out probing is quadratic: longer command lines with a secret are redacted whole
)


def _marker(length: int, finding: Finding | None = None) -> str:
    return finding.redacted if finding is not None else f"<redacted: {length} chars>"


@dataclass(slots=True)
class Redactor:
    fingerprint: Fingerprinter
    reveal: bool = False

    def environ(self, pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
        try:
            verdicts: list[Finding | None] = judge_environ(pairs, self.fingerprint)
            judged = True
        except DetectionFailed:
            verdicts, judged = [None] * len(pairs), False
        records = []
        for (name, value), finding in zip(pairs, verdicts, strict=True):
            keep = self.reveal or (judged and finding is None and is_allowlisted(name))
            records.append({
                "name": name,
                "value": value if keep else _marker(len(value), finding),
                "redacted": not keep,
                "secret": None if finding is None else finding.to_dict(),
            })  # fmt: skip
        return records

    def argv(self, argv: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
        """(argv with secret-holding arguments replaced, the findings as dicts)."""
        try:
            findings = scan_argv(argv, self.fingerprint)
        except DetectionFailed:
            return ([argv[0]] + [_marker(len(a)) for a in argv[1:]] if argv else []), []
        if not findings or self.reveal:
            return list(argv), [f.to_dict() for f in findings]
        if len(argv) > MAX_ARGV_PROBE:
            return [argv[0]] + [_marker(len(a)) for a in argv[1:]], [f.to_dict() for f in findings]
        wanted = {f.key: f for f in findings}
        out = list(argv)
        for i, arg in enumerate(argv):
            # The argument holds a secret when replacing it makes a finding disappear.
            probe = [*argv[:i], "x", *argv[i + 1 :]]
            try:
                left = {f.key for f in scan_argv(probe, self.fingerprint)}
            except DetectionFailed:
                left = set()
            # ...and could hold it: not the option's bare name, not shorter than the value (the program name).
            gone = [f for k, f in wanted.items() if k not in left and arg != f.name and len(arg) >= f.length]
            if gone:
                out[i] = _redact_arg(arg, gone[0])
        return out, [f.to_dict() for f in findings]

    def labels(self, values: dict[str, str]) -> dict[str, str]:
        if self.reveal:
            return dict(values)
        pairs = list(values.items())
        try:
            verdicts: list[Finding | None] = judge_environ(pairs, self.fingerprint)
        except DetectionFailed:
            return {k: _marker(len(v)) for k, v in pairs}
        out = {}
        for (key, value), finding in zip(pairs, verdicts, strict=True):
            if finding is not None:
                out[key] = _marker(len(value), finding)
            elif len(value) > LONG_VALUE:
                out[key] = f"<redacted: {len(value)} chars; long values may embed a spec with secrets>"
            else:
                out[key] = value
        return out


def _redact_arg(arg: str, finding: Finding) -> str:
    """Keep the option name of `--token=VALUE` / `KEY=VALUE`; replace the rest."""
    name, sep, _ = arg.partition("=")
    if sep and name and " " not in name and (name.startswith("-") or name.replace("_", "").isalnum()):
        return f"{name}={finding.redacted}"
    return finding.redacted
