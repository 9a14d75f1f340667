"""`ctrlens secrets [REF…]`: secrets in containers' environments and command lines, and who can read them."""

from __future__ import annotations

import argparse
from typing import Any

from ..output import WITH_SARIF, Column, Result, add_output_option, render_table
from ._base import Context

NAME = "secrets"
ORDER = 31
HELP = "secrets in containers' environments and command lines, and who can read them"
DESCRIPTION = """\
Every container's processes, host-wide (or the containers named): variables and arguments that hold a
secret, the rule that found it, its length and a fingerprint (the same secret gives the same fingerprint in
every container on this host), and who on the host can read it: root, the host users whose uid and gid match
the process (no user-namespace remap, no capabilities), containers sharing the host's PID namespace whose
capabilities cover the target's, and everyone for command-line arguments. Values are never printed.

Rules (built in, docs/secrets.md): provider token formats (aws-access-key, github-token, slack-token,
stripe-key…), private-key, jwt, url-password, secret-name (the name says secret: DB_PASSWORD, API_TOKEN…, also
inside JSON, .env/INI, YAML-ish and pgpass values), high-entropy (a random-looking value under any other name).

examples:
  ctrlens secrets
  ctrlens secrets web db --fail-on
  ctrlens secrets -o sarif > secrets.sarif
"""
EPILOG = """\
JSON keys (one record per container): container, fingerprint_scope (host: stable on this host; run: this
report only), secrets (source, name, rule, length, fingerprint, detail, pids, readers (kind, name, uid,
container_id, why)), processes_read, processes_gone, processes_denied, truncated (source, name, length,
scanned: values longer than the scan reads, 16384 characters each, 4096 arguments a command line).
Exit codes: 0, or 1 with --fail-on when a secret is found (--fail-on error ignores high-entropy); 5 when
no process could be read (not root), or with --fail-on when any could not.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", metavar="REF", nargs="*", help="containers to check (default: all)")
    parser.add_argument(
        "--fail-on",
        nargs="?",
        const="any",
        choices=("any", "error"),
        metavar="LEVEL",
        help="exit 1 if a secret is found (LEVEL error: ignore high-entropy warnings)",
    )
    add_output_option(parser, WITH_SARIF)


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..errors import EXIT_FINDINGS
    from ..refs import require_containers
    from ..secrets import SecretScanner

    snapshot = ctx.scan()
    containers = require_containers(args.refs, ctx.resolve) if args.refs else None
    scanner = SecretScanner(snapshot, host=ctx.host)
    reports = scanner.scan_all(containers)

    cut = sum(len(r.truncated) for r in reports)
    if cut:
        ctx.error(f"note: {cut} value(s) were longer than the scan reads and were scanned only in part "
                  "(see 'truncated' in -o json)")  # fmt: skip
    records = [{**r.to_dict(), "fingerprint_scope": scanner.fingerprint.scope} for r in reports]

    def table() -> str:
        rows = [_row(r, s) for r in reports for s in r.records]
        if not rows:
            ctx.err.write(f"no secrets found in {len(reports)} container(s)\n")
        return render_table(rows, COLUMNS) if rows else ""

    from ..blind import require_sight

    denied = sum(r.processes_denied for r in reports)
    needed = denied + sum(r.processes_read for r in reports)
    warning = require_sight(needed, denied, "container processes", gate=args.fail_on is not None)
    if warning:
        ctx.error(warning)
    return Result(
        document=records,
        table=table,
        sarif=lambda: to_sarif(reports, scanner.fingerprint.scope),
        exit_code=EXIT_FINDINGS if args.fail_on and _fails(reports, args.fail_on) else 0,
    )


def _fails(reports: list[Any], level: str) -> bool:
    from ..secrets import RULES

    return any(level == "any" or RULES[s.finding.rule].level == "error" for r in reports for s in r.records)


def _row(report: Any, record: Any) -> dict[str, Any]:
    f = record.finding
    return {
        "container": report.container.display_name,
        "source": "env" if f.source == "environ" else "argv",
        "name": f.name + (f" ({f.detail})" if f.detail else ""),
        "rule": f.rule,
        "length": f.length,
        "fingerprint": f.fingerprint,
        "readers": ", ".join(r.label for r in record.readers),
    }


COLUMNS = [
    Column("CONTAINER", "container", min_width=8, max_width=24),
    Column("SRC", "source", max_width=4),
    Column("NAME", "name", min_width=8, max_width=40),
    Column("RULE", "rule", max_width=20),
    Column("LEN", "length", max_width=5, align=">"),
    Column("FINGERPRINT", "fingerprint", max_width=12),
    Column("READERS", "readers", min_width=10),
]


def to_sarif(reports: list[Any], scope: str) -> dict[str, Any]:
    from ..sarif import LogicalLocation, SarifResult, SarifRule, container_location, sarif_log
    from ..secrets import RULES

    rules = [
        SarifRule(r.id, r.id, r.title, r.description, r.level, tags=("security", "secrets", r.family))
        for r in RULES.values()
    ]
    results = []
    for report in reports:
        c = report.container
        for record in report.records:
            f = record.finding
            where = "environment variable" if f.source == "environ" else "command-line argument"
            readers = ", ".join(r.label for r in record.readers)
            message = (
                f"{where} {f.name}{f' ({f.detail})' if f.detail else ''} of container {c.display_name} "
                f"holds a {RULES[f.rule].title.lower()} ({f.length} chars, fingerprint {f.fingerprint}); "
                f"readable by {readers}"
            )
            results.append(
                SarifResult(
                    rule_id=f.rule,
                    message=message,
                    locations=[
                        LogicalLocation(f.name, f"container/{c.id}/{f.source}/{f.name}", "variable"),
                        container_location(c.id, c.display_name),
                    ],
                    fingerprints={"ctrlensSecret/v1": f"{c.id}/{f.source}/{f.name}/{f.fingerprint}"},
                    properties={
                        "length": f.length,
                        "fingerprint": f.fingerprint,
                        "fingerprintScope": scope,
                        "pids": list(record.pids),
                        "readers": [r.to_dict() for r in record.readers],
                    },
                )
            )
    return sarif_log(rules, results)
