"""cgroup limits: memory, pids and CPU. A limit set on a parent (a Kubernetes pod's cgroup) counts: the
smallest value on the way up to the hierarchy root is the one the kernel enforces. And the restart limit: a
container restarted without end (restart policy `always`, `unless-stopped`, `on-failure` with no or a high
retry count) turns a crash loop into a host-wide denial of service (CIS 5.15)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from .cgroupfs import CgroupDir, controller_dir, read_value
from .context import AuditContext
from .facts import ContainerFacts
from .finding import GOOD, INFO, LIMITS, LOW, MEDIUM, Finding, Fix, rule

V1_UNLIMITED_MEMORY = 1 << 62  # memory.limit_in_bytes reads 9223372036854771712 when unlimited

NO_MEMORY = rule(
    "CTRL-LIMIT-MEMORY", LIMITS, "no memory limit",
    "Without a memory limit one container can push the whole host into the OOM killer.",
    Fix(docker="docker run --memory 512m", podman="podman run --memory 512m",
        kubernetes="resources.limits.memory: 512Mi", lxc="lxc.cgroup.memory.limit_in_bytes = 512M "
                                                        "(lxc.cgroup2.memory.max on cgroup v2)"),
)  # fmt: skip
NO_PIDS = rule(
    "CTRL-LIMIT-PIDS", LIMITS, "no pids limit",
    "Without a pids limit a fork bomb in the container exhausts the host's process table.",
    Fix(docker="docker run --pids-limit 200", podman="podman run --pids-limit 200",
        kubernetes="the kubelet's podPidsLimit (KubeletConfiguration)", lxc="lxc.cgroup.pids.max = 200"),
)  # fmt: skip
NO_CPU = rule(
    "CTRL-LIMIT-CPU", LIMITS, "no CPU limit",
    "Without a CPU quota it can take every core; shares still weigh it against others under contention.",
    Fix(docker="docker run --cpus 1", podman="podman run --cpus 1", kubernetes="resources.limits.cpu: 1",
        lxc="lxc.cgroup.cpu.cfs_quota_us = 100000"),
)  # fmt: skip
NO_RESTART_LIMIT = rule(
    "CTRL-LIMIT-RESTART", LIMITS, "restarted without a limit",
    "A container restarted whatever happens (`always`, `unless-stopped`) or on failure without a small limit "
    "retries a crash forever: a denial of service of the host, and nobody looks at why it died.",
    Fix(docker="docker update --restart on-failure:5 <container>", podman="podman run --restart on-failure:5"),
)  # fmt: skip
RESTART_LIMIT = 5  # the retries CIS 5.15 allows ("set to '5'": at most 5)
UNBOUNDED_POLICIES = ("always", "unless-stopped")
LIMITED = rule(
    "CTRL-LIMIT-SET", LIMITS, "resource limit set", "The kernel caps what it can take from the host."
)
UNKNOWN = rule(
    "CTRL-LIMIT-UNKNOWN",
    LIMITS,
    "limit not readable",
    "The controller is not mounted where ctrlens looks (or its files are unreadable).",
)


def _memory(text: str, version: int) -> int | None:
    if text == "max":
        return None
    value = int(text)
    return None if version == 1 and value >= V1_UNLIMITED_MEMORY else value


def _pids(text: str, version: int) -> int | None:
    return None if text == "max" else int(text)


def _cpu_v2(text: str) -> float | None:
    quota, _, period = text.partition(" ")
    return None if quota == "max" else int(quota) / int(period or "100000")


def _smallest(ctx: AuditContext, cdir: CgroupDir, name: str, parse: Callable[[str, int], int | None]
              ) -> tuple[int | None, str | None, str]:  # fmt: skip
    """(smallest limit on the way up or None, where it is set, evidence for the container's own file)."""
    best: int | None = None
    where = None
    own = ""
    for i, path in enumerate(cdir.ancestors()):
        text = read_value(ctx, f"{path}/{name}", shared=i > 0)
        if text is None:
            continue
        if not own:
            own = f"{path}/{name}: {text}"
        try:
            value = parse(text, cdir.version)
        except ValueError:
            continue
        if value is not None and (best is None or value < best):
            best, where = value, path
    return best, where, own


def _cpu(ctx: AuditContext, cdir: CgroupDir) -> tuple[float | None, str | None, str]:
    best: float | None = None
    where = None
    own = ""
    for i, path in enumerate(cdir.ancestors()):
        if cdir.version == 2:
            text = read_value(ctx, f"{path}/cpu.max", shared=i > 0)
            shown = f"{path}/cpu.max: {text}"
            cpus = _cpu_v2(text) if text else None
        else:
            text = read_value(ctx, f"{path}/cpu.cfs_quota_us", shared=i > 0)
            shown = f"{path}/cpu.cfs_quota_us: {text}"
            cpus = None
            if text and text.lstrip("-").isdigit() and int(text) > 0:
                period = read_value(ctx, f"{path}/cpu.cfs_period_us", shared=i > 0) or "100000"
                cpus = int(text) / int(period)
        if text is None:
            continue
        own = own or shown
        if cpus is not None and (best is None or cpus < best):
            best, where = cpus, path
    return best, where, own


def _size(value: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value} B"


def check(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    specs = (
        ("memory", "memory.max", "memory.limit_in_bytes", NO_MEMORY, MEDIUM, _memory, _size),
        ("pids", "pids.max", "pids.max", NO_PIDS, MEDIUM, _pids, str),
    )
    for controller, v2_file, v1_file, missing, severity, parse, show in specs:
        cdir = controller_dir(facts, ctx, controller, v2_file)
        if cdir is None:
            yield UNKNOWN.finding(INFO, f"{controller} limit unknown: controller not found", [], facts.pid)
            continue
        name = v2_file if cdir.version == 2 else v1_file
        value, where, own = _smallest(ctx, cdir, name, parse)
        if not own:
            yield UNKNOWN.finding(
                INFO, f"{controller} limit unknown: {cdir.path}/{name} unreadable", [], facts.pid
            )
        elif value is None:
            yield missing.finding(severity, f"no {controller} limit", [own], facts.pid)
        else:
            at = "" if where == cdir.path else f" (set on {where})"
            yield LIMITED.finding(GOOD, f"{controller} limit {show(value)}{at}", [own], facts.pid)
    yield from _cpu_limit(facts, ctx)
    yield from _restart(facts)


def _cpu_limit(facts: ContainerFacts, ctx: AuditContext) -> Iterator[Finding]:
    cdir = controller_dir(facts, ctx, "cpu", "cpu.max")
    if cdir is None:
        yield UNKNOWN.finding(INFO, "CPU limit unknown: controller not found", [], facts.pid)
        return
    cpus, where, own = _cpu(ctx, cdir)
    if cpus is None:
        # INFO, not a warning: a CPU quota is about fairness, not isolation; shares still apply.
        yield NO_CPU.finding(INFO, "no CPU quota", [own] if own else [], facts.pid)
    else:
        at = "" if where == cdir.path else f" (set on {where})"
        yield LIMITED.finding(GOOD, f"CPU limit {cpus:g} CPUs{at}", [own], facts.pid)


def _restart(facts: ContainerFacts) -> Iterator[Finding]:
    """Docker's and Podman's restart policy (from their own files, runtimes/docker.py and podman.py). The
    kubelet's, containerd's restart monitor and LXC autostart are not restart loops of this kind."""
    policy = facts.container.restart_policy
    if policy is None or policy.name not in (*UNBOUNDED_POLICIES, "on-failure"):
        return
    retries = policy.max_retries or 0  # on-failure with 0 (or no) count: no limit
    evidence = [f"{policy.source or 'restart policy'}: RestartPolicy {policy.name}"
                + (f", MaximumRetryCount {retries}" if policy.name == "on-failure" else "")]  # fmt: skip
    if policy.name in UNBOUNDED_POLICIES:
        yield NO_RESTART_LIMIT.finding(LOW, f"restart policy {policy.name}: restarted without a limit", evidence,
                                       facts.pid)  # fmt: skip
    elif retries == 0:
        yield NO_RESTART_LIMIT.finding(
            LOW, "restart policy on-failure without a retry limit", evidence, facts.pid
        )
    elif retries > RESTART_LIMIT:
        yield NO_RESTART_LIMIT.finding(LOW, f"restart policy on-failure:{retries}, more than {RESTART_LIMIT} "
                                            "retries", evidence, facts.pid)  # fmt: skip
    else:
        yield LIMITED.finding(GOOD, f"restart policy on-failure:{retries}", evidence, facts.pid)
