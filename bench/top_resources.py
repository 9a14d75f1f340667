"""What one `ctrlens top` refresh costs, and how much memory the app holds, with 200 containers and 2,000 processes.

    python bench/top_resources.py [--containers 200] [--processes 2000] [--refreshes 10] [--cgroup v1|v2|both]
                                  [--no-tmux] [--keep DIR]

The host is a FIXTURE tree used through --host-root (starting 200 real containers on a 2-core VM is slow, and would
disturb everyone else's tests): proc/<pid>/{stat,cmdline,cgroup,status,ns/*} for every process (containerd shims,
container processes in private PID namespaces, host daemons, kernel threads), Docker's config.v2.json and
hostconfig.json per container (so the runtime enrichment runs), and the cgroup counter files (v1 hybrid as on this
VM, or v2). A helper process rewrites every CPU counter between refreshes so rows change as on a busy host, and the
widget's line cache cannot hide the drawing cost; its own CPU is not counted. Files on disk are cheaper to read
than procfs: the `live` rows measure the same code on this machine's real /proc for comparison (per process).

Rows:
  pipeline      scan + redact + sample + model diff + visible rows, in process (time.process_time per refresh)
  app headless  TopApp under Textual's pilot (80x24), everything the process spends per refresh (timer, worker,
                diff, drawing), CPU from getrusage over N refreshes; RSS from /proc/self/status
  app in tmux   `ctrlens --host-root FIXTURE top` in a real 80x24 terminal: CPU of that process from
                /proc/PID/stat over N refreshes; VmRSS / VmHWM from /proc/PID/status
Budget (issue): under 200 ms of CPU per refresh, under 150 MB held.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

HOST_PID_NS = 0xEFFFFFFC
HOST_MNT_NS = 4026531841
CLK_TCK = os.sysconf("SC_CLK_TCK")


# -- the fixture host -------------------------------------------------------------------------------------------


class Fixture:
    """A host root with `containers` Docker containers and `processes` processes in total."""

    def __init__(self, root: Path, containers: int, processes: int, cgroup: str, seed: int = 7) -> None:
        self.root = root
        self.containers = containers
        self.processes = processes
        self.cgroup = cgroup
        self.rng = random.Random(seed)

    def build(self) -> None:
        proc = self.root / "proc"
        proc.mkdir(parents=True)
        (proc / "stat").write_text(f"cpu  1 2 3 4\nbtime {int(time.time()) - 86400}\n")
        self._cgroup_mounts()
        pid = 1
        self._process(pid, 0, "systemd", ["/sbin/init"], "/init.scope")
        self._process(2, 0, "kthreadd", [], "/", kernel=True)
        kthreads = 40
        for i in range(kthreads):
            self._process(3 + i, 2, f"kworker/{i}:0", [], "/", kernel=True)
        next_pid = 100
        self._process(next_pid, 1, "containerd", ["/usr/bin/containerd"], "/system.slice/containerd.service")
        self._process(
            next_pid + 1, 1, "dockerd", ["/usr/bin/dockerd", "-H", "fd://"], "/system.slice/docker.service"
        )
        next_pid += 2
        per = max((self.processes - kthreads - 4 - self.containers * 1) // max(self.containers, 1), 1)
        host_left = self.processes - kthreads - 4 - self.containers * (1 + per)
        for c in range(self.containers):
            cid = f"{self.rng.getrandbits(256):064x}"
            name = f"svc-{c:03d}"
            cgroup = f"/docker/{cid}"
            shim = next_pid
            self._process(
                shim,
                1,
                "containerd-shim",
                [
                    "/usr/bin/containerd-shim-runc-v2",
                    "-namespace",
                    "moby",
                    "-id",
                    cid,
                    "-address",
                    "/run/containerd/containerd.sock",
                ],
                "/system.slice/containerd.service",
            )
            ns = 4026532000 + c
            init = shim + 1
            self._process(
                init,
                shim,
                "nginx",
                ["nginx: master process nginx -g daemon off;"],
                cgroup,
                pid_ns=ns,
                nspid=1,
            )
            for w in range(per - 1):
                self._process(
                    init + 1 + w,
                    init,
                    "nginx",
                    [f"nginx: worker process {w}"],
                    cgroup,
                    pid_ns=ns,
                    nspid=2 + w,
                )
            self._docker_meta(cid, name)
            self._cgroup_dir(cgroup)
            next_pid = init + per + 3
        for h in range(max(host_left, 0)):
            self._process(
                next_pid + h,
                1,
                f"daemon{h}",
                [f"/usr/sbin/daemon{h}", "--config", f"/etc/d{h}.conf"],
                "/system.slice/daemons.service",
            )

    def _process(
        self,
        pid: int,
        ppid: int,
        comm: str,
        argv: list[str],
        cgroup: str,
        *,
        kernel: bool = False,
        pid_ns: int = HOST_PID_NS,
        nspid: int | None = None,
    ) -> None:
        d = self.root / "proc" / str(pid)
        d.mkdir()
        ticks = self.rng.randrange(0, 10_000)
        rss = 0 if kernel else self.rng.randrange(200, 20000)
        (d / "stat").write_text(
            f"{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 {ticks // 2} "
            f"{ticks - ticks // 2} 0 0 20 0 1 0 {1000 + pid} 12345678 {rss} 18446744073709551615\n"
        )
        (d / "cmdline").write_bytes(b"\0".join(a.encode() for a in argv) + (b"\0" if argv else b""))
        if self.cgroup == "v2":
            cg = f"0::{cgroup}\n"
        else:
            cg = "".join(
                f"{i}:{c}:{cgroup}\n"
                for i, c in enumerate(
                    (
                        "cpu",
                        "cpuacct",
                        "cpuset",
                        "memory",
                        "devices",
                        "freezer",
                        "blkio",
                        "pids",
                        "name=systemd",
                    ),
                    1,
                )
            )
            cg += f"0::{cgroup}\n"
        (d / "cgroup").write_text(cg)
        ns_ids = f"{pid}\t{nspid}" if nspid is not None else f"{pid}"
        (d / "status").write_text(
            f"Name:\t{comm}\nState:\tS (sleeping)\nPid:\t{pid}\nPPid:\t{ppid}\n"
            f"Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nNSpid:\t{ns_ids}\n"
        )
        ns = d / "ns"
        ns.mkdir()
        os.symlink(f"pid:[{pid_ns}]", ns / "pid")
        os.symlink(f"mnt:[{HOST_MNT_NS if pid_ns == HOST_PID_NS else pid_ns + 100000}]", ns / "mnt")
        os.symlink("net:[4026531840]", ns / "net")

    def _docker_meta(self, cid: str, name: str) -> None:
        d = self.root / "var/lib/docker/containers" / cid
        d.mkdir(parents=True)
        (d / "config.v2.json").write_text(
            json.dumps(
                {
                    "ID": cid,
                    "Name": "/" + name,
                    "Created": "2026-11-24T10:00:00.123456789Z",
                    "RestartCount": 0,
                    "Config": {
                        "Image": "nginx:1.27",
                        "Env": ["PATH=/usr/bin", "DB_PASSWORD=fixture"],
                        "Labels": {"com.example.team": "web", "com.example.tier": "front"},
                    },
                    "State": {"Running": True, "Pid": 0, "StartedAt": "2026-11-24T10:00:01.5Z"},
                }
            )
        )
        (d / "hostconfig.json").write_text(
            json.dumps({"RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0}})
        )

    def _cgroup_mounts(self) -> None:
        base = self.root / "sys/fs/cgroup"
        if self.cgroup == "v2":
            base.mkdir(parents=True)
            (base / "cgroup.controllers").write_text("cpu io memory pids\n")
        else:
            for c in ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "systemd"):
                (base / c).mkdir(parents=True)
            (base / "unified").mkdir()
            (base / "unified/cgroup.controllers").write_text("")

    def _cgroup_dir(self, cgroup: str) -> None:
        base = self.root / "sys/fs/cgroup"
        usage = self.rng.randrange(10**9, 10**12)
        mem = self.rng.randrange(10**7, 10**9)
        if self.cgroup == "v2":
            d = base / cgroup.lstrip("/")
            d.mkdir(parents=True)
            (d / "cpu.stat").write_text(f"usage_usec {usage // 1000}\nuser_usec 1\nsystem_usec 1\n")
            (d / "memory.current").write_text(f"{mem}\n")
            (d / "memory.max").write_text("max\n")
            (d / "memory.stat").write_text(
                f"anon {mem // 2}\nfile {mem // 2}\ninactive_file {mem // 8}\n"
                + "".join(f"stat_{i} {i}\n" for i in range(40))
            )
        else:
            cpu_dir = base / "cpuacct" / cgroup.lstrip("/")
            cpu_dir.mkdir(parents=True)
            (cpu_dir / "cpuacct.usage").write_text(f"{usage}\n")
            mem_dir = base / "memory" / cgroup.lstrip("/")
            mem_dir.mkdir(parents=True)
            (mem_dir / "memory.usage_in_bytes").write_text(f"{mem}\n")
            (mem_dir / "memory.limit_in_bytes").write_text("9223372036854771712\n")
            (mem_dir / "memory.stat").write_text(
                "".join(f"stat_{i} {i}\n" for i in range(30)) + f"total_inactive_file {mem // 8}\n"
            )


def counter_files(root: str) -> tuple[list[Path], list[Path]]:
    stats = sorted(Path(root, "proc").glob("[0-9]*/stat"))
    cpus = [p for p in Path(root, "sys/fs/cgroup").rglob("*") if p.name in ("cpuacct.usage", "cpu.stat")]
    return stats, cpus


def tick(stats: list[Path], cpus: list[Path], rng: random.Random, seconds: float = 1.0) -> None:
    """Advance every CPU counter as a second of a busy host would (files replaced whole: no torn reads)."""
    for path in stats:
        head, _, tail = path.read_text().rpartition(")")
        rest = tail.split()
        rest[11] = str(int(rest[11]) + rng.randrange(0, int(CLK_TCK * seconds * 0.2) + 1))  # utime
        _replace(path, f"{head}) {' '.join(rest)}\n")
    for path in cpus:
        text = path.read_text()
        if path.name == "cpu.stat":
            usec = int(text.split()[1]) + rng.randrange(0, int(seconds * 5e5))
            _replace(path, f"usage_usec {usec}\nuser_usec 1\nsystem_usec 1\n")
        else:
            _replace(path, f"{int(text) + rng.randrange(0, int(seconds * 5e8))}\n")


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def ticker_main(root: str, interval: float) -> None:
    """Child process: advance the counters every `interval` seconds until killed."""
    stats, cpus = counter_files(root)
    rng = random.Random(1)
    while True:
        time.sleep(interval)
        tick(stats, cpus, rng, interval)


# -- measurements -----------------------------------------------------------------------------------------------


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """VmRSS and VmHWM (peak) in MB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def pipeline(root: str, fixture: bool, refreshes: int) -> tuple[list[float], int, int]:
    from ctrlens.host import Host
    from ctrlens.scanner import scan
    from ctrlens.secrets.redact import Redactor
    from ctrlens.tui.resources import ResourceSampler
    from ctrlens.tui.rows import TopModel

    host = Host.from_option(root)
    sampler, redactor, model = ResourceSampler(host), Redactor.for_host(host), TopModel()
    model.collapsed.clear()
    samples = []
    snapshot = None
    stats, cpus = counter_files(root) if fixture else ([], [])
    rng = random.Random(2)
    for i in range(refreshes + 1):
        if fixture:
            tick(stats, cpus, rng)  # not timed: the host's work, not ours
        t = time.process_time()
        snapshot = scan(host)
        redactor.mask_snapshot(snapshot)
        usage = sampler.sample(snapshot)
        model.update(snapshot, usage)
        model.visible()
        if i:  # the first one judges every command line once and has no CPU deltas
            samples.append((time.process_time() - t) * 1000)
    assert snapshot is not None
    return samples, len(snapshot.containers), len(snapshot.processes)


def headless(root: str, refreshes: int) -> tuple[float, float, float]:
    """The headless app in a fresh interpreter, so its memory is its own."""
    out = subprocess.run(
        [sys.executable, __file__, "--_headless", root, str(refreshes)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu, rss, peak = json.loads(out.strip().splitlines()[-1])
    return cpu, rss, peak


async def app_headless(root: str, refreshes: int) -> tuple[float, float, float]:
    from ctrlens.host import Host
    from ctrlens.tui.app import TopApp

    app = TopApp(Host.from_option(root), interval=1.0)
    app.model.collapsed.clear()
    async with app.run_test(size=(80, 24)) as pilot:
        while app.refreshes < 2:
            await pilot.pause(0.05)
        start_cpu = cpu_seconds()
        start = app.refreshes
        while app.refreshes < start + refreshes:
            await pilot.pause(0.05)
        per_refresh = (cpu_seconds() - start_cpu) / (app.refreshes - start) * 1000
        rss, peak = rss_mb()
        return per_refresh, rss, peak


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def app_in_tmux(root: str, refreshes: int) -> tuple[float, float, float] | None:
    if shutil.which("tmux") is None:
        return None
    session = f"tui-bench-{os.getpid()}"
    exe = shutil.which("ctrlens") or "ctrlens"
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            "80",
            "-y",
            "24",
            f"{exe} --host-root {root} top --interval 1; sleep 5",
        ],
        check=True,
    )
    try:
        shell = int(
            subprocess.run(
                ["tmux", "list-panes", "-t", session, "-F", "#{pane_pid}"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[0]
        )
        pid = None
        deadline = time.monotonic() + 20
        while pid is None and time.monotonic() < deadline:
            pid = top_process(shell)
            time.sleep(0.2)
        if pid is None:
            return None
        time.sleep(4)  # start-up and the first refreshes (every command line judged once)
        c0, t0 = proc_cpu(pid), time.monotonic()
        time.sleep(refreshes)
        c1, t1 = proc_cpu(pid), time.monotonic()
        rss, peak = rss_mb(pid)
        return (c1 - c0) / ((t1 - t0) / 1.0) * 1000, rss, peak
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], check=False)


def top_process(shell: int) -> int | None:
    """The `ctrlens` child of the pane's shell (python runs it, so look at the command line)."""
    try:
        with open(f"/proc/{shell}/task/{shell}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return None
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                if b"ctrlens" in f.read():
                    return child
        except OSError:
            continue
    return None


def proc_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as f:
        rest = f.read().rsplit(b")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


@contextlib.contextmanager
def sleepers(count: int) -> Iterator[None]:
    """`count` idle host processes (a copy of sleep, so `ps` shows them as tui-bench-sleep), killed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    exe = workdir / "tui-bench-sleep"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", exe)
    procs = [subprocess.Popen([str(exe), "600"]) for _ in range(count)]
    try:
        time.sleep(1)
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--processes", type=int, default=2000)
    parser.add_argument("--refreshes", type=int, default=10)
    parser.add_argument("--cgroup", choices=("v1", "v2", "both"), default="both")
    parser.add_argument("--no-tmux", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="build the fixture in DIR and keep it")
    parser.add_argument(
        "--live-procs",
        type=int,
        default=0,
        metavar="N",
        help="also measure on the real /proc with N extra host processes (a copy of sleep named "
        "tui-bench-sleep, killed at the end): real procfs costs at scale",
    )
    parser.add_argument("--_ticker", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--_headless", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._ticker:
        ticker_main(args._ticker[0], float(args._ticker[1]))
        return 0
    if args._headless:
        print(json.dumps(asyncio.run(app_headless(args._headless[0], int(args._headless[1])))))
        return 0

    rows: list[tuple[str, str, str, str, str]] = []
    budget_cpu, budget_mb = 200.0, 150.0
    layouts = ("v1", "v2") if args.cgroup == "both" else (args.cgroup,)
    for layout in layouts:
        base = Path(args.keep) / layout if args.keep else Path(tempfile.mkdtemp(prefix="tui-bench-"))
        if base.exists() and any(base.iterdir()):
            shutil.rmtree(base)
        fixture = Fixture(base, args.containers, args.processes, layout)
        fixture.build()
        root = str(base)
        samples, n_containers, n_procs = pipeline(root, True, args.refreshes)
        label = f"fixture {n_containers} ctrs / {n_procs} procs, cgroup {layout}"
        rows.append((label, "pipeline", f"{sum(samples) / len(samples):.0f}", f"{max(samples):.0f}", "-"))
        ticker = subprocess.Popen([sys.executable, __file__, "--_ticker", root, "1.0"])
        try:
            per_refresh, rss, peak = headless(root, args.refreshes)
            rows.append((label, "app headless", f"{per_refresh:.0f}", "-", f"{rss:.0f} (peak {peak:.0f})"))
            if not args.no_tmux:
                measured = app_in_tmux(root, args.refreshes)
                if measured is not None:
                    cpu, rss, peak = measured
                    rows.append((label, "app in tmux", f"{cpu:.0f}", "-", f"{rss:.0f} (peak {peak:.0f})"))
        finally:
            ticker.terminate()
            ticker.wait()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    live, n_containers, n_procs = pipeline("/", False, args.refreshes)
    mean = sum(live) / len(live)
    rows.append(
        (
            f"live /proc {n_containers} ctrs / {n_procs} procs",
            "pipeline",
            f"{mean:.0f}",
            f"{max(live):.0f}",
            "-",
        )
    )
    if args.live_procs:
        with sleepers(args.live_procs):
            live, n_containers, n_procs = pipeline("/", False, args.refreshes)
            label = f"live /proc {n_containers} ctrs / {n_procs} procs"
            rows.append((label, "pipeline", f"{sum(live) / len(live):.0f}", f"{max(live):.0f}", "-"))
            per_refresh, rss, peak = headless("/", args.refreshes)
            rows.append((label, "app headless", f"{per_refresh:.0f}", "-", f"{rss:.0f} (peak {peak:.0f})"))

    print(f"\nctrlens top, one refresh (budget: < {budget_cpu:.0f} ms CPU, < {budget_mb:.0f} MB)\n")
    header = ("host", "what", "CPU ms/refresh", "max ms", "RSS MB")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(5)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=False)))
    for r in rows:
        print("  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=False)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
