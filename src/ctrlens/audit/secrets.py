"""Secrets a container exposes in its environment or arguments, through `ctrlens.secrets` (values never reach
this module's output: a finding carries the name, rule, length and keyed fingerprint only).

The seam: when the secrets package (or detect-secrets) cannot be loaded, or `--no-secrets` was given, the layer
is skipped with a note instead of failing the audit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import CtrlensError
from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, HIGH, INFO, LOW, MEDIUM, SECRETS, Finding, Fix, rule

ENV = rule(
    "CTRL-SECRET-ENV", SECRETS, "secret in the environment",
    "/proc/PID/environ is readable by host root, by host users with the same uid when no user namespace "
    "separates them, and by containers sharing its PID namespace; it also ends up in `docker inspect`, crash "
    "dumps and support bundles.",
    Fix(docker="pass it as a file: docker run --secret (swarm) or -v a 0400 file, and read it from the app",
        podman="podman secret create, then podman run --secret NAME (mounted under /run/secrets)",
        kubernetes="mount the Secret as a volume (volumes[].secret) instead of env/envFrom",
        lxc="bind a 0400 file with lxc.mount.entry instead of lxc.environment"),
)  # fmt: skip
ARGV = rule(
    "CTRL-SECRET-ARGV", SECRETS, "secret on the command line",
    "/proc/PID/cmdline is world-readable: every host user (and every --pid=host container) can read it.",
    Fix(docker="pass it as a file or through the environment of a file-reading wrapper, never as an argument",
        podman="use podman secret (a file under /run/secrets), never an argument",
        kubernetes="read it from a mounted Secret file; do not put it in args/command",
        lxc="read it from a file inside the container"),
)  # fmt: skip
NONE = rule(
    "CTRL-SECRETS-NONE",
    SECRETS,
    "no secrets found",
    "No variable or argument of its processes looks like a secret.",
)
TRUNCATED = rule(
    "CTRL-SECRETS-TRUNCATED",
    SECRETS,
    "secrets scanned in part",
    "A value is longer than the secrets scan reads (16384 characters a value, 4096 arguments a command line): "
    "only its start was checked.",
)
SKIPPED = rule(
    "CTRL-SECRETS-SKIPPED", SECRETS, "secrets not checked", "The secrets scan did not run (see title)."
)

_UNAVAILABLE: list[str] = []  # why the scanner could not be made, remembered for the rest of the run


def scanner(ctx: AuditContext) -> Any | None:
    """The run's SecretScanner, made once; None (with the reason kept) when the secrets package is unusable."""
    if ctx.secrets is None and not _UNAVAILABLE:
        try:
            from ..secrets import SecretScanner

            ctx.secrets = SecretScanner(ctx.snapshot, host=ctx.host)
        except ImportError as exc:
            _UNAVAILABLE.append(f"secrets scanner not available ({exc.name or exc})")
        except CtrlensError as exc:
            _UNAVAILABLE.append(str(exc))
    return ctx.secrets


def skipped(facts: ContainerFacts, reason: str) -> Finding:
    return SKIPPED.finding(INFO, f"secrets skipped: {reason}", [], facts.pid)


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    found = scanner(ctx)
    if found is None:
        yield skipped(facts, _UNAVAILABLE[0] if _UNAVAILABLE else "scanner not available")
        return
    try:
        report = found.scan(facts.container)
    except CtrlensError as exc:  # DetectionFailed names the variable, never the value
        yield skipped(facts, str(exc))
        return
    except Exception as exc:  # noqa: BLE001 - a scanner bug must not stop the audit; its text may quote a value
        yield skipped(facts, f"the secrets scanner failed ({type(exc).__name__})")
        return
    for cut in report.truncated:
        yield TRUNCATED.finding(LOW, f"value truncated for scanning: {cut.note}", [], facts.pid)
    if not report.records:
        if report.processes_read:
            yield NONE.finding(GOOD, f"no secrets in the environment or arguments of {report.processes_read} "
                                     "process(es)", [], facts.pid)  # fmt: skip
        else:
            yield skipped(facts, "no process could be read")
        return
    for record in report.records:
        secret = record.finding
        readers = ", ".join(r.label for r in record.readers) or "root"
        pid = record.pids[0] if record.pids else facts.pid
        shown = f"{secret.name}={secret.redacted}"
        evidence = [f"/proc/{pid}/{secret.source}: {shown}", f"readable by: {readers}"]
        if secret.source == "cmdline":
            yield ARGV.finding(
                HIGH, f"secret on the command line: {secret.name} ({secret.rule})", evidence, pid
            )
        else:
            wide = any(r.kind != "root" for r in record.readers)
            yield ENV.finding(HIGH if wide else MEDIUM, f"secret in the environment: {secret.name} ({secret.rule})",
                              evidence, pid)  # fmt: skip
