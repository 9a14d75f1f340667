"""`ctrlens pods`: one row a Kubernetes pod, its containers grouped under it, from /proc and runtime files."""

from __future__ import annotations

import argparse
import fnmatch
import os
from typing import Any

from ..errors import UsageError
from ..model import Container, Pod, Snapshot
from ..output import Column, OutputFormat, Result, add_output_option, render_table
from ._base import Context

NAME = "pods"
ORDER = 6
HELP = "list Kubernetes pods: their containers, sandbox, QoS class and processes"
DESCRIPTION = """\
One row a Kubernetes pod running on this host, whatever its CRI runtime (containerd, CRI-O, cri-dockerd):
namespace, name and uid, QoS class, the sandbox (pause) container, the pod's containers and processes.
The uid and QoS class come from the pod's cgroup path (always there); the name and namespace from the
runtime's files (containerd's OCI annotations, Docker labels), so a pod whose files are unreadable shows
its uid alone. Pod-level facts are read from the sandbox's namespaces: HOSTNET and HOSTPID mark pods that
share the node's network or pid namespace (spec.hostNetwork, spec.hostPID).

examples:
  ctrlens pods
  ctrlens pods -n kube-system -o wide       the containers of each pod too
  ctrlens pods --name 'web-*' -o json
"""

FORMATS = (OutputFormat.TABLE, OutputFormat.WIDE, OutputFormat.JSON, OutputFormat.NDJSON)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-n",
        "--namespace",
        action="append",
        metavar="NS",
        help="only pods of this Kubernetes namespace; repeatable",
    )
    parser.add_argument(
        "--name", action="append", metavar="GLOB", help="only pods whose name matches; repeatable"
    )
    parser.add_argument(
        "-l",
        "--label",
        action="append",
        metavar="KEY=VALUE",
        help="only pods whose sandbox carries this label (Docker labels; the io.kubernetes.* keys); repeatable",
    )
    parser.add_argument(
        "--reveal", action="store_true", help="show secrets in labels instead of redacting them"
    )
    add_output_option(parser, FORMATS)  # wide adds uid, sandbox and containers


def add_pod_filters(parser: argparse.ArgumentParser) -> None:
    """--namespace/--pod for commands that list containers or processes (ps, containers)."""
    parser.add_argument(
        "--namespace",
        action="append",
        metavar="NS",
        help="only containers of pods in this Kubernetes namespace; repeatable",
    )
    parser.add_argument(
        "--pod",
        action="append",
        metavar="GLOB",
        help="only containers of pods whose name (or uid) matches; repeatable",
    )


def in_pods(container: Container | None, args: argparse.Namespace) -> bool:
    """True if `container` passes --namespace/--pod (always, when neither is given)."""
    namespaces, names = getattr(args, "namespace", None), getattr(args, "pod", None)
    if not namespaces and not names:
        return True
    pod = container.pod if container else None
    if pod is None:
        return False
    if namespaces and pod.namespace not in namespaces:
        return False
    if names:
        keys = [k for k in (pod.name, pod.uid) if k]
        return any(fnmatch.fnmatchcase(k, g) for k in keys for g in names)
    return True


def _pod_key(container: Container) -> str | None:
    pod = container.pod
    if pod is None:
        return None
    if pod.uid:
        return f"uid:{pod.uid}"
    if pod.sandbox_id:
        return f"sandbox:{pod.sandbox_id}"
    if pod.name:
        return f"name:{pod.namespace}/{pod.name}"
    return None


def _ns_inode(proc_dir: str, pid: int | None, ns: str) -> int | None:
    if pid is None:
        return None
    try:
        target = os.readlink(f"{proc_dir}/{pid}/ns/{ns}")
    except OSError:
        return None
    start = target.find("[")
    return int(target[start + 1 : -1]) if start >= 0 and target.endswith("]") else None


def _shares_host(proc_dir: str, host_ns: dict[str, int], pid: int | None, ns: str) -> bool | None:
    """True if the process is in the host's `ns` namespace, None if either side is unreadable."""
    inode, host = _ns_inode(proc_dir, pid, ns), host_ns.get(ns)
    if inode is None or host is None:
        return None
    return inode == host


def _container_record(c: Container) -> dict[str, Any]:
    return {
        "id": c.id,
        "short_id": c.short_id,
        "name": c.kube_container,
        "runtime_name": c.name,
        "runtime": c.runtime,
        "image": c.image,
        "sandbox": c.sandbox,
        "init_pid": c.init_pid,
        "pids": list(c.pids),
        "process_count": len(c.pids),
        "started": c.started,
    }


def _pod_labels(sandbox: Container | None) -> dict[str, str]:
    """The sandbox's labels without the `annotation.*` copies cri-dockerd adds (a pod's annotations can hold
    its whole applied spec, env values included)."""
    if sandbox is None:
        return {}
    return {k: v for k, v in sandbox.labels.items() if not k.startswith("annotation.")}


def pod_records(snapshot: Snapshot, proc_dir: str) -> list[dict[str, Any]]:
    """Every pod of the snapshot: the containers that carry the same pod uid (else sandbox id, else name)."""
    groups: dict[str, list[Container]] = {}
    for container in snapshot.containers.values():
        key = _pod_key(container)
        if key is not None:
            groups.setdefault(key, []).append(container)
    records = []
    for members in groups.values():
        members.sort(key=lambda c: (not c.sandbox, c.kube_container or "", c.id))
        sandbox = next((c for c in members if c.sandbox), None)
        pods = [c.pod for c in members if c.pod is not None]

        def first(attr: str, pods: list[Pod] = pods) -> Any:
            return next((getattr(p, attr) for p in pods if getattr(p, attr)), None)

        probe = sandbox or members[0]
        started = [c.started for c in members if c.started]
        pids = sorted(p for c in members for p in c.pids)
        runtimes = sorted({c.runtime for c in members})
        records.append(
            {
                "namespace": first("namespace"),
                "name": first("name"),
                "uid": first("uid"),
                "qos": first("qos"),
                "sandbox_id": first("sandbox_id") or (sandbox.id if sandbox else None),
                "runtime": ",".join(runtimes),
                "host_network": _shares_host(proc_dir, snapshot.host_namespaces, probe.init_pid, "net"),
                "host_pid": _shares_host(proc_dir, snapshot.host_namespaces, probe.init_pid, "pid"),
                "container_count": sum(1 for c in members if not c.sandbox),
                "process_count": len(pids),
                "pids": pids,
                "started": (sandbox.started if sandbox and sandbox.started else min(started, default=None)),
                "labels": _pod_labels(sandbox),
                "containers": [_container_record(c) for c in members],
            }
        )
    records.sort(key=lambda r: (r["namespace"] or "", r["name"] or "", r["uid"] or ""))
    return records


def _label_filter(specs: list[str]) -> dict[str, str]:
    wanted = {}
    for spec in specs:
        key, eq, value = spec.partition("=")
        if not eq or not key:
            raise ValueError(spec)
        wanted[key] = value
    return wanted


def select(records: list[dict[str, Any]], args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.namespace:
        records = [r for r in records if r["namespace"] in args.namespace]
    if args.name:
        records = [
            r for r in records if r["name"] and any(fnmatch.fnmatchcase(r["name"], g) for g in args.name)
        ]
    if args.label:
        wanted = _label_filter(args.label)
        records = [r for r in records if all(r["labels"].get(k) == v for k, v in wanted.items())]
    return records


def _flag(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


COLUMNS = [
    Column("NAMESPACE", "namespace", 9, 20),
    Column("NAME", "display_name", 4, 40),
    Column("QOS", "qos", 3, 10),
    Column("RUNTIME", "runtime", 7, 12),
    Column("CONTAINERS", "container_count", 10, 10, ">"),
    Column("PROCS", "process_count", 5, 5, ">"),
    Column("HOSTNET", lambda r: _flag(r["host_network"]), 7, 7),
    Column("HOSTPID", lambda r: _flag(r["host_pid"]), 7, 7),
    Column("STARTED", "age", 7, 9),
]
WIDE_COLUMNS = [
    *COLUMNS[:2],
    Column("UID", "uid", 36, 36),
    *COLUMNS[2:4],
    Column("SANDBOX", lambda r: (r["sandbox_id"] or "")[:12] or None, 12, 12),
    *COLUMNS[5:],
    Column("CONTAINERS(PROCS)", "container_list", 17, None),
]


def _container_list(record: dict[str, Any]) -> str:
    return ",".join(
        f"{c['name'] or c['short_id']}({c['process_count']})"
        for c in record["containers"]
        if not c["sandbox"]
    )


def run(args: argparse.Namespace, ctx: Context) -> Result:
    from ..secrets.redact import Redactor

    snapshot = ctx.scan()
    Redactor.for_host(ctx.host, reveal=args.reveal).mask_snapshot(snapshot)  # secrets in labels
    try:
        records = select(pod_records(snapshot, ctx.host.proc), args)
    except ValueError as e:
        raise UsageError(f"--label wants KEY=VALUE, not {str(e)!r}") from None

    def table(columns: list[Column]) -> str:
        from .containers import age  # containers imports this module's filters

        if not records:
            ctx.err.write(
                "no Kubernetes pods found"
                + (" (not root: some may be hidden)\n" if snapshot.warnings else "\n")
            )
        rows = []
        for rec in records:
            row = dict(rec, age=age(rec["started"]), container_list=_container_list(rec))
            # a pod whose runtime files are unreadable is still named, by the uid in its cgroup path
            row["display_name"] = rec["name"] or (f"pod{rec['uid']}" if rec["uid"] else None)
            rows.append(row)
        return render_table(rows, columns)

    return Result(document=records, table=lambda: table(COLUMNS), wide=lambda: table(WIDE_COLUMNS))


# ---- pod/NAME for `kill`: a pod is refused unless --all, then every container of it is signalled -------------


def pod_ref(snapshot: Snapshot, ref: str) -> tuple[str, list[Container]] | None:
    """`pod/NAME`, `pod/NAMESPACE/NAME` or `pod/UID`: (namespace/name, the pod's containers, its sandbox last);
    None if `ref` is not a pod REF. Raises NotFound, or UsageError when several namespaces have that pod."""
    from ..errors import NotFound, UsageError

    if not ref.startswith("pod/"):
        return None
    spec = ref[len("pod/") :]
    ns, _, name = spec.rpartition("/")
    groups: dict[str, list[Container]] = {}
    for c in snapshot.containers.values():
        pod, key = c.pod, _pod_key(c)
        if pod is None or key is None:
            continue
        if (pod.name == name and (not ns or pod.namespace == ns)) or (not ns and pod.uid == name):
            groups.setdefault(key, []).append(c)
    if not groups:
        raise NotFound(f"no pod matches {spec!r} (`ctrlens pods` lists them)")
    if len(groups) > 1:
        raise UsageError(f"{len(groups)} pods are called {name!r}: name its namespace, pod/NAMESPACE/{name}")
    (members,) = groups.values()
    members.sort(key=lambda c: (c.sandbox, c.kube_container or "", c.id))  # the sandbox last
    pod = members[0].pod or Pod(None, None, None)  # every member has one: grouped by pod
    label = f"{pod.namespace}/{pod.name}" if pod.namespace and pod.name else (pod.name or f"pod{pod.uid}")
    return label, members


def kill_pod(
    args: argparse.Namespace, ctx: Context, snapshot: Snapshot, label: str, members: list[Container]
) -> Result:
    """`ctrlens kill pod/NAME`: refused without --all (one container's end does not stop a pod, its kubelet
    recreates it); with --all, one plan per container (every process of each), one confirmation, then each
    container in turn, the sandbox last."""
    from contextlib import ExitStack

    from ..act import Refused, execute, parse_signal, plan_kill
    from ..output import safe_text
    from .kill import _confirm

    names = ", ".join(c.kube_container or c.short_id for c in members)
    if not args.all:
        example = next((c.name for c in members if not c.sandbox and c.name), None)
        raise Refused(
            f"pod {label} ({names}) is not one process: signalling it would not stop the pod (its kubelet "
            "recreates what dies); pass --all to signal every process of every container of the pod"
            + (f", or name one container ({example})" if example else "")
        )
    sig = parse_signal(args.signal)
    text = ctx.person_reads_stdout
    results: list[str] = []
    with ExitStack() as stack:
        plans = [
            stack.enter_context(plan_kill(snapshot, c.id, sig, all=True, host=ctx.host)) for c in members
        ]
        stream = ctx.out if text else ctx.err
        if text or not args.yes:
            stream.write(f"pod {safe_text(label)}: {len(plans)} containers ({safe_text(names)})\n")
            for plan in plans:
                stream.write("\n".join(plan.lines()) + "\n")
        outcomes: list[Any] = [None] * len(plans)
        if not args.dry_run:
            if not args.yes and not _confirm(f"Send {plans[0].signal_name} to pod {label}?", ctx):
                raise Refused("nothing sent")
            outcomes = [execute(plan, wait=args.wait) for plan in plans]
            if text:
                for plan, outcome in zip(plans, outcomes, strict=True):
                    who = plan.container.display_name if plan.container else "?"
                    results.append(f"result: {safe_text(who)}: {safe_text(outcome.message)}")
        records = [
            {"plan": p.to_dict(), "outcome": o.to_dict() if o else None}
            for p, o in zip(plans, outcomes, strict=True)
        ]
    sent = args.dry_run or any(o is not None and o.state != "not-sent" for o in outcomes)
    return Result(document=records, table=lambda: "\n".join(results), exit_code=0 if sent else 3)
