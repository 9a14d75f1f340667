"""Secrets a container exposes through its environment and command line, and who on the host can read them.

Detection is a built-in rule set (`providers`: the token formats of detect-secrets' plugins and more, each
pattern linear-time) plus a layer tuned for environments (`names`, `values`, `argv`, `structured`), with reported
limits on what it reads (`findings.SCAN_LIMIT`, `BUDGET`). `redact` is the one redaction rule every face uses.
Values never leave this package: a `Finding` holds a name, a rule id, a length and a keyed fingerprint;
exceptions name variables, never values. See docs/secrets.md.

    from ctrlens.secrets import SecretScanner
    report = SecretScanner(snapshot).scan(container)      # ContainerSecrets: records, each with readers
    classify("DB_PASSWORD", "hunter2").rule                # "secret-name"
    scan_environ(pairs, Fingerprinter.for_host())          # [Finding(name="DB_PASSWORD", ...)]
"""

from __future__ import annotations

from .collect import ProcessData, proc_hides_pids, read_process
from .detector import Detection, classify, classify_value
from .findings import (
    SOURCE_CMDLINE,
    SOURCE_ENVIRON,
    DetectionFailed,
    Finding,
    judge_environ,
    scan_argv,
    scan_environ,
)
from .fingerprint import SCOPE_HOST, SCOPE_RUN, Fingerprinter
from .names import is_allowlisted, is_secret_name
from .readers import (
    Creds,
    HostUser,
    Reader,
    cmdline_readers,
    environ_readers,
    host_users,
    may_read_environ,
)
from .report import ContainerSecrets, SecretRecord, SecretScanner
from .rules import FAMILIES, RULES, Rule, family

__all__ = [
    "FAMILIES",
    "RULES",
    "SCOPE_HOST",
    "SCOPE_RUN",
    "SOURCE_CMDLINE",
    "SOURCE_ENVIRON",
    "ContainerSecrets",
    "Creds",
    "Detection",
    "DetectionFailed",
    "Finding",
    "Fingerprinter",
    "HostUser",
    "ProcessData",
    "Reader",
    "Rule",
    "SecretRecord",
    "SecretScanner",
    "classify",
    "classify_value",
    "cmdline_readers",
    "environ_readers",
    "family",
    "host_users",
    "is_allowlisted",
    "is_secret_name",
    "judge_environ",
    "may_read_environ",
    "proc_hides_pids",
    "read_process",
    "scan_argv",
    "scan_environ",
]
