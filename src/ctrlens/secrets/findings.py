"""From variables and arguments to `Finding`s: name, rule, length and fingerprint, never the value."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import CtrlensError
from .argv import option_pairs
from .detector import Detection, classify, classify_value

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


def scan_environ(pairs: list[tuple[str, str]], fingerprint: Fingerprint) -> dict[str, Finding]:
    """Variable name -> finding, for the variables that hold a secret."""
    found: dict[str, Finding] = {}
    for name, value in pairs:
        detection = _guarded(classify, SOURCE_ENVIRON, name, name, value)
        if detection is not None:
            found[name] = _finding(SOURCE_ENVIRON, name, value, detection, fingerprint)
    return found


def scan_argv(argv: list[str], fingerprint: Fingerprint) -> list[Finding]:
    """Findings in a command line. argv[0] is the program and decides program-specific options (-p, -a)."""
    findings: list[Finding] = []
    judged: set[int] = set()
    for opt in option_pairs(argv):
        judged.add(opt.index)
        detection = _guarded(classify, SOURCE_CMDLINE, opt.name, opt.name, opt.value, entropy=False)
        if detection is not None:
            findings.append(_finding(SOURCE_CMDLINE, opt.name, opt.value, detection, fingerprint))
    for index, arg in enumerate(argv):
        if index in judged:
            continue
        detection = _guarded(classify_value, SOURCE_CMDLINE, f"argv[{index}]", arg)
        if detection is not None:
            findings.append(_finding(SOURCE_CMDLINE, f"argv[{index}]", arg, detection, fingerprint))
    return findings


def _finding(source: str, name: str, value: str, detection: Detection, fingerprint: Fingerprint) -> Finding:
    return Finding(source, name, detection.rule, len(value), fingerprint(detection.secret), detection.detail)


def _guarded(fn: Callable[..., Detection | None], source: str, label: str, *args: Any, **kwargs: Any) -> Detection | None:
    # Exception texts may quote their input (UnicodeError, re errors): replace them with one that cannot.
    try:
        return fn(*args, **kwargs)
    except Exception:
        raise DetectionFailed(f"secret detection failed on {source} entry {label!r}") from None
