"""From variables and arguments to `Finding`s: name, rule, length and fingerprint, never the value."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import CtrlensError
from .argv import option_pairs
from .detector import Detection, classify, classify_value

# Enough shell to find options inside `sh -c` scripts: commands split at separators, words at blanks.
_COMMANDS = re.compile(r"[;&|()`\n]+")
_WRAPPERS = {":", "exec", "nohup", "sudo", "env", "time", "command", "builtin", "nice", "then", "do", "else"}

SOURCE_ENVIRON = "environ"
SOURCE_CMDLINE = "cmdline"

Fingerprint = Callable[[str], str]


class DetectionFailed(CtrlensError):
    """The detector raised on some value. The message names the variable, never its value."""


@dataclass(frozen=True, slots=True)
class Finding:
    source: str  # SOURCE_ENVIRON or SOURCE_CMDLINE
    name: str  # the variable, the option ("--password"), or "argv[N]" for a bare argument
    rule: str
    length: int  # characters in the whole value (the variable's value, the option's argument)
    fingerprint: str  # of the secret part: the password in a URL, the token in a longer value
    detail: str | None = None  # the option inside an *_OPTS variable that holds the secret

    @property
    def redacted(self) -> str:
        return f"<redacted: {self.rule}, {self.length} chars, fp {self.fingerprint}>"

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two findings the same secret in the same place (across processes)."""
        return (self.source, self.name, self.rule, self.fingerprint)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "name": self.name,
            "rule": self.rule,
            "length": self.length,
            "fingerprint": self.fingerprint,
            "detail": self.detail,
        }


def judge_environ(pairs: list[tuple[str, str]], fingerprint: Fingerprint) -> list[Finding | None]:
    """One verdict per pair, in order: a name may appear twice in an environ block with different values."""
    verdicts: list[Finding | None] = []
    for name, value in pairs:
        detection = _guarded(classify, SOURCE_ENVIRON, name, name, value)
        verdicts.append(
            None if detection is None else _finding(SOURCE_ENVIRON, name, value, detection, fingerprint)
        )
    return verdicts


def scan_environ(pairs: list[tuple[str, str]], fingerprint: Fingerprint) -> list[Finding]:
    """The findings of an environment."""
    return [f for f in judge_environ(pairs, fingerprint) if f is not None]


def scan_argv(argv: list[str], fingerprint: Fingerprint) -> list[Finding]:
    """Findings in a command line. argv[0] is the program and decides program-specific options (-p, -a).
    An argument holding several words (`sh -c "mysql -pSECRET db"`) is scanned as a command line of its own."""
    findings: list[Finding] = []
    judged: set[int] = set()
    for opt in option_pairs(argv):
        judged.add(opt.index)
        judged_as = "PASSWORD" if opt.password else opt.name
        detection = _guarded(classify, SOURCE_CMDLINE, opt.name, judged_as, opt.value, entropy=False)
        if detection is not None:
            findings.append(_finding(SOURCE_CMDLINE, opt.name, opt.value, detection, fingerprint))
    for index, arg in enumerate(argv):
        if index in judged:
            continue
        label = f"argv[{index}]"
        inner = _scan_script(arg, fingerprint)
        # A bare token inside the script is reported at the argument that holds the script.
        findings += [_relabel(f, label) if f.name.startswith("argv[") else f for f in inner]
        detection = _guarded(classify_value, SOURCE_CMDLINE, label, arg)
        if detection is not None:
            found = _finding(SOURCE_CMDLINE, label, arg, detection, fingerprint)
            if found.fingerprint not in {f.fingerprint for f in inner}:
                findings.append(found)
    return _unique(findings)


def _scan_script(arg: str, fingerprint: Fingerprint) -> list[Finding]:
    """An argument holding words (`sh -c "sleep 1; mysql -pSECRET db"`): each command in it is a command line."""
    if not any(c.isspace() for c in arg.strip()):
        return []
    found: list[Finding] = []
    for command in _COMMANDS.split(arg):
        words = command.split()
        while words and words[0] in _WRAPPERS:
            words = words[1:]
        if words:
            found += scan_argv(words, fingerprint)
    return found


def _relabel(finding: Finding, name: str) -> Finding:
    return Finding(finding.source, name, finding.rule, finding.length, finding.fingerprint, finding.detail)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, str, str]] = set()
    out = []
    for finding in findings:
        if finding.key not in seen:
            seen.add(finding.key)
            out.append(finding)
    return out


def _finding(source: str, name: str, value: str, detection: Detection, fingerprint: Fingerprint) -> Finding:
    return Finding(source, name, detection.rule, len(value), fingerprint(detection.secret), detection.detail)


def _guarded(
    fn: Callable[..., Detection | None], source: str, label: str, *args: Any, **kwargs: Any
) -> Detection | None:
    # Exception texts may quote their input (UnicodeError, re errors): replace them with one that cannot.
    try:
        return fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - any exception text may quote the value
        raise DetectionFailed(f"secret detection failed on {source} entry {label!r}") from None
