"""From variables and arguments to `Finding`s: name, rule, length and fingerprint, never the value."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import CtrlensError
from .argv import option_pairs
from .detector import Detection, classify, classify_value

# Enough shell to find options inside `sh -c` scripts: commands split at separators, words at blanks.
_COMMANDS = re.compile(r"[;&|()`\n]+")
_BLANK = re.compile(r"\s")
_WRAPPERS = {":", "exec", "nohup", "sudo", "env", "time", "command", "builtin", "nice", "then", "do", "else"}

SOURCE_ENVIRON = "environ"
SOURCE_CMDLINE = "cmdline"
# What the detectors read of one process: a container sets the sizes, we bound the cost. What lies past a
# limit is reported (`Truncation`), and redaction hides it (it was not judged).
SCAN_LIMIT = 16 * 1024  # characters of one value (a PEM key is ~3 kB, a service-account JWT ~1 kB)
ARG_LIMIT = 4096  # arguments of one command line
SCRIPT_FINDINGS = 32  # secrets judged in one `sh -c` script: past that, the whole argument is hidden
BUDGET = 64 * 1024  # characters judged per process and source (environ, cmdline): values past it are not read


def scan_lengths(values: list[str]) -> list[int]:
    """How much of each value the detectors read: SCAN_LIMIT each, BUDGET in all (in order)."""
    left = BUDGET
    lengths = []
    for value in values:
        n = min(len(value), SCAN_LIMIT, left)
        left -= n
        lengths.append(n)
    return lengths


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


@dataclass(frozen=True, slots=True)
class Truncation:
    """A value (or a command line) longer than the detectors read: only its start was judged."""

    source: str
    name: str  # the variable, "argv[N]", or "argv" (more arguments than ARG_LIMIT)
    length: int  # characters (or arguments) there are
    scanned: int  # characters (or arguments) judged

    @property
    def note(self) -> str:
        unit = "arguments" if self.name == "argv" else "chars"
        why = f"truncated at {self.scanned}" if self.scanned else f"not read (past the {BUDGET}-char budget)"
        return f"{self.source} {self.name}: {self.length} {unit}, {why} for scanning"

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "name": self.name, "length": self.length, "scanned": self.scanned}


def truncations(environ: list[tuple[str, str]], argv: list[str]) -> list[Truncation]:
    """What the limits cut from one process's environment and command line."""
    env_read = scan_lengths([v for _, v in environ])
    found = [
        Truncation(SOURCE_ENVIRON, n, len(v), r)
        for (n, v), r in zip(environ, env_read, strict=True)
        if len(v) > r
    ]
    args = argv[:ARG_LIMIT]
    found += [
        Truncation(SOURCE_CMDLINE, f"argv[{i}]", len(a), r)
        for i, (a, r) in enumerate(zip(args, scan_lengths(args), strict=True))
        if len(a) > r
    ]
    if len(argv) > ARG_LIMIT:
        found.append(Truncation(SOURCE_CMDLINE, "argv", len(argv), ARG_LIMIT))
    return found


def judge_environ(pairs: list[tuple[str, str]], fingerprint: Fingerprint) -> list[Finding | None]:
    """One verdict per pair, in order: a name may appear twice in an environ block with different values."""
    verdicts: list[Finding | None] = []
    for (name, value), length in zip(pairs, scan_lengths([v for _, v in pairs]), strict=True):
        if not length:
            verdicts.append(None)  # past the budget: not judged (`truncations` reports it, `redact` hides it)
            continue
        detection = _guarded(classify, SOURCE_ENVIRON, name, name[-SCAN_LIMIT:], value[:length])
        verdicts.append(
            None if detection is None else _finding(SOURCE_ENVIRON, name, value, detection, fingerprint)
        )
    return verdicts


def scan_environ(pairs: list[tuple[str, str]], fingerprint: Fingerprint) -> list[Finding]:
    """The findings of an environment."""
    return [f for f in judge_environ(pairs, fingerprint) if f is not None]


@dataclass(frozen=True, slots=True)
class Located:
    """A command-line finding with where its value sits: the argument's index and the value itself (in memory
    only, for `redact` to find and replace it; never printed)."""

    finding: Finding
    index: int
    value: str = field(repr=False)


def scan_argv(argv: list[str], fingerprint: Fingerprint) -> list[Finding]:
    """Findings in a command line. argv[0] is the program and decides program-specific options (-p, -a).
    An argument holding several words (`sh -c "mysql -pSECRET db"`) is scanned as a command line of its own."""
    return [located.finding for located in locate_argv(argv, fingerprint)]


def locate_argv(argv: list[str], fingerprint: Fingerprint) -> list[Located]:
    """`scan_argv`, with the argument each finding sits in. Reads at most ARG_LIMIT arguments of SCAN_LIMIT
    characters each (see `truncations`)."""
    args = argv[:ARG_LIMIT]
    args = [a[:n] for a, n in zip(args, scan_lengths(args), strict=True)]
    return _unique(_locate(args, fingerprint, bare=True))


def _locate(argv: list[str], fingerprint: Fingerprint, *, bare: bool) -> list[Located]:
    found: list[Located] = []
    judged: set[int] = set()
    for opt in option_pairs(argv):
        judged.add(opt.index)
        judged_as = "PASSWORD" if opt.password else opt.name
        detection = _guarded(classify, SOURCE_CMDLINE, opt.name, judged_as, opt.value, entropy=False)
        if detection is not None:
            finding = _finding(SOURCE_CMDLINE, opt.name, opt.value, detection, fingerprint)
            found.append(Located(finding, opt.index, opt.value))
            if not bare and len(found) >= SCRIPT_FINDINGS:
                break
    if not bare:
        return found  # words of a script: the whole script is judged for bare tokens once, by the caller
    for index, arg in enumerate(argv):
        if index in judged:
            continue
        label = f"argv[{index}]"
        inner = [Located(x.finding, index, x.value) for x in _scan_script(arg, fingerprint)]
        found += inner
        detection = _guarded(classify_value, SOURCE_CMDLINE, label, arg)
        if detection is not None:
            finding = _finding(SOURCE_CMDLINE, label, arg, detection, fingerprint)
            if finding.fingerprint not in {x.finding.fingerprint for x in inner}:
                found.append(Located(finding, index, detection.secret if detection.secret in arg else arg))
    return found


def _scan_script(arg: str, fingerprint: Fingerprint) -> list[Located]:
    """An argument holding words (`sh -c "sleep 1; mysql -pSECRET db"`): each command in it is a command line."""
    if not _BLANK.search(arg.strip()):
        return []
    found: list[Located] = []
    for command in _COMMANDS.split(arg):
        words = command.split()
        while words and words[0] in _WRAPPERS:
            words = words[1:]
        if words:
            found += _locate(words, fingerprint, bare=False)
        if len(found) >= SCRIPT_FINDINGS:
            # A script of secrets (or one built to cost us): stop judging it. The first finding is located at
            # the whole argument, so redaction hides all of it.
            return [Located(found[0].finding, 0, arg), *found[1:SCRIPT_FINDINGS]]
    return found


def _unique(found: list[Located]) -> list[Located]:
    seen: set[tuple[str, str, str, str]] = set()
    out = []
    for located in found:
        if located.finding.key not in seen:
            seen.add(located.finding.key)
            out.append(located)
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
