"""`ctrlens audit [REF…]`: the isolation each container really has, layer by layer, with evidence and fixes."""

from __future__ import annotations

import argparse
import fnmatch
from typing import Any

from ..errors import EXIT_FINDINGS, NotFound, UsageError
from ..output import WITH_SARIF, Result, add_output_option, terminal_width
from ._base import Context

NAME = "audit"
ORDER = 40
HELP = (
    "audit each container's isolation: namespaces, caps, seccomp, LSM, user, mounts, devices, limits, secrets"
)
DESCRIPTION = """\
Reads what the kernel enforces for each container, from /proc and cgroupfs alone (no runtime socket), and
reports every weakness with a stable ID, a severity, the evidence (the exact /proc field or mount line), why it
matters, the fix in the container runtime's own terms (docker/podman flag, Kubernetes securityContext field,
LXC config key) and the CIS Docker Benchmark v1.6.0 check it corresponds to.

Layers (the columns of the summary):
  NS       namespaces shared with the host (pid, net, ipc, uts, mnt, cgroup, user, time)
  CAPS     effective caps vs the runtime's default set and the host's bounding set (privileged, dangerous caps)
  SECCOMP  seccomp mode and no_new_privs, for every process of the container
  LSM      AppArmor / SELinux label ("n/a" when the host has neither: never a finding)
  USER     root in host terms, through the uid map
  ROOTFS   writable /, unmasked or writable /proc and /sys paths
  MOUNTS   runtime sockets, sensitive host paths, rw submounts under a read-only bind, shared propagation
  DEVICES  the devices cgroup allow-list (v1) or its eBPF program (v2)
  LIMITS   memory, pids and CPU limits (a parent cgroup's limit counts)
  SECRETS  secrets in the environment or arguments (from `ctrlens secrets`; values are never shown)

Severities: high > medium > low > info > good. The summary cell is the worst finding of the layer.

examples:
  ctrlens audit                            summary matrix, then the findings of every container
  ctrlens audit web                        one container, with evidence, why and fix for each finding
  ctrlens audit --summary                  the matrix alone
  ctrlens audit --fail-on high             CI gate: exit 1 if any container has a high finding
  ctrlens audit -o sarif > audit.sarif     SARIF 2.1.0 for code-scanning dashboards
  ctrlens audit -o json --severity good | jq '.[] | {name, summary}'
  ctrlens audit --explain CTRL-MOUNT-RW-SUBMOUNT
"""
EPILOG = (
    "Exit codes: 0 ok, 1 a finding at or above --fail-on, 2 usage, 3 REF not found, 5 permission: no container "
    "could be read in full (with --fail-on: any container)."
)

LEVELS = ("high", "medium", "low", "info", "good")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("refs", nargs="*", metavar="REF", help="containers to audit (default: all)")
    parser.add_argument(
        "--severity",
        choices=LEVELS,
        default="low",
        help="show findings at or above this severity (default low)",
    )
    parser.add_argument(
        "--fail-on",
        choices=LEVELS,
        metavar="SEVERITY",
        help="exit 1 when any finding is at or above SEVERITY (high, medium, low, info)",
    )
    view = parser.add_mutually_exclusive_group()
    view.add_argument("--summary", action="store_true", help="only the containers × layers matrix")
    view.add_argument(
        "--full",
        action="store_true",
        help="evidence, why and fix under every finding (the default when REFs are given)",
    )
    parser.add_argument(
        "--ignore",
        metavar="ID",
        action="append",
        default=[],
        help="drop findings whose ID matches (glob, e.g. 'CTRL-LIMIT-*'); repeatable",
    )
    parser.add_argument("--no-secrets", action="store_true", help="skip the secrets layer (it reads environ)")
    parser.add_argument(
        "--explain", metavar="ID", help="print what a rule checks, why and how to fix it; no scan"
    )
    parser.add_argument("--rules", action="store_true", help="list every rule ID; no scan")
    add_output_option(parser, WITH_SARIF)


def run(args: argparse.Namespace, ctx: Context) -> Result | int:
    from ..audit import RULES, audit_snapshot
    from ..audit.render import explain

    if args.rules:
        for rule in sorted(RULES.values(), key=lambda r: (r.layer, r.id)):
            ctx.out.write(f"{rule.id:<32} {rule.layer:<8} {rule.cis or '-':<5} {rule.name}\n")
        return 0
    if args.explain:
        explained = RULES.get(args.explain.strip().upper())
        if explained is None:
            raise UsageError(f"no audit rule {args.explain!r} (`ctrlens audit --rules` lists them)")
        ctx.out.write(explain(explained) + "\n")
        return 0
    from ..refs import require_containers

    snapshot = ctx.scan()
    chosen = require_containers(args.refs, ctx.resolve) if args.refs else None
    audits = audit_snapshot(snapshot, ctx.host, chosen, secrets_scan=not args.no_secrets)
    if args.ignore:
        for audit in audits:
            audit.findings = [f for f in audit.findings if not any(fnmatch.fnmatchcase(f.id, p.upper())
                                                                   for p in args.ignore)]  # fmt: skip
    gone = [a for a in audits if a.gone]
    if args.refs and gone:
        raise NotFound(f"container {gone[0].container.display_name} exited during the audit")
    audits = [a for a in audits if not a.gone] if not args.refs else audits
    from ..blind import require_sight

    blind = sum(1 for a in audits if a.denied)
    warning = require_sight(len(audits), blind, "containers' facts", gate=args.fail_on is not None)
    if warning:
        ctx.error(warning)
    floor = args.severity

    def sarif() -> dict[str, Any]:
        from ..audit.sarif import to_sarif

        return to_sarif(audits, floor)

    return Result(
        document=lambda: [a.to_dict(floor) for a in audits],
        table=lambda: _table(args, ctx, audits),
        sarif=sarif,
        exit_code=_exit_code(audits, args.fail_on),
    )


def _table(args: argparse.Namespace, ctx: Context, audits: list[Any]) -> str:
    from ..audit import render

    floor = args.severity
    width = terminal_width(ctx.out)
    if not audits:
        ctx.error("no running containers to audit")
        return ""
    lines: list[str] = []
    if not args.refs:
        lines += [render.matrix(audits, width), render.LEGEND, ""]
    full = args.full or bool(args.refs)
    if not args.summary:
        for audit in audits:
            lines += [*render.findings(audit, floor, width, full=full), ""]
    lines.append(render.totals(audits, floor, full=full or args.summary))
    return "\n".join(line for line in lines if line is not None)


def _exit_code(audits: list[Any], fail_on: str | None) -> int:
    if fail_on is None:
        return 0
    from ..audit import at_least

    failed = any(at_least(f.severity, fail_on) for a in audits for f in a.findings)
    return EXIT_FINDINGS if failed else 0
