"""How fast `ctrlens diff` lists a container's changes, side by side with `docker diff` and `podman diff`.

    sudo python bench/diff_speed.py [--files 10000] [--runs 5] [--engines docker,podman]

For each engine it starts one container in the testbed (python -m testbed up, or a running one), writes
--files new files in it (100 per directory) plus a few changes and deletions of image files, then times,
end to end (median of --runs, each a fresh process):
  docker diff / podman diff       the engine's own answer, through its API
  ctrlens diff -o json            a whole CLI run: start-up, /proc scan, REF, the walk, JSON out
  ctrlens diff --hash -o json     the same with SHA-256 of every added file
  diff_container() in process     the library call the exporter and `ctrlens watch` make (no start-up, no scan)
Both answers are checked to hold the same number of changes. Containers it made are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FILL = """
set -e
mkdir -p /bench && cd /bench
d=0
while [ $d -lt {dirs} ]; do
  mkdir $d; f=0
  while [ $f -lt {per_dir} ]; do echo $d-$f > $d/$f; f=$((f+1)); done
  d=$((d+1))
done
echo x >> /etc/passwd; rm /etc/group; cp /bin/busybox /tmp/dropped; chmod 755 /tmp/dropped
"""


def daemon_cpu(pid: int | None) -> float:
    """utime+stime of a daemon in seconds (dockerd does docker diff's work, outside our children)."""
    if not pid:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    return time.process_time()


def median_seconds(fn: Callable[[], object], runs: int, daemon: int | None = None) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds: ours, our children's and the daemon's). On a busy machine
    wall time measures the neighbours; CPU time is what the tool itself costs."""
    walls, cpus = [], []
    for _ in range(runs):
        c0, d0, t = self_cpu() + children_cpu(), daemon_cpu(daemon), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(self_cpu() + children_cpu() - c0 + daemon_cpu(daemon) - d0)
    return statistics.median(walls), statistics.median(cpus)


def ctrlens_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", *args], capture_output=True, text=True, check=True
    )


def bench_engine(bed, engine: str, files: int, runs: int, dockerd: int | None) -> list[tuple]:
    from ctrlens.diff import diff_container
    from ctrlens.host import Host
    from ctrlens.refs import resolve_ref
    from ctrlens.scanner import scan
    from testbed import unique_name

    per_dir = 100
    dirs = max(1, files // per_dir)
    run = bed.run_docker if engine == "docker" else bed.run_podman
    engine_cli = bed.docker if engine == "docker" else bed.podman
    started = run(unique_name("frn-bench"))
    try:
        t = time.perf_counter()
        engine_cli("exec", started.id, "sh", "-c", FILL.format(dirs=dirs, per_dir=per_dir), timeout=600)
        print(f"{engine}: wrote {dirs * per_dir} files in {time.perf_counter() - t:.1f}s", file=sys.stderr)
        theirs = len(engine_cli("diff", started.id).stdout.splitlines())
        mine = len(json.loads(ctrlens_cli("diff", started.name, "-o", "json").stdout)["changes"])
        if theirs != mine:
            print(f"warning: {engine} diff lists {theirs} changes, ctrlens {mine}", file=sys.stderr)
        host = Host.from_option(None)
        snapshot = scan(host)
        container = resolve_ref(snapshot, started.id).container
        assert container is not None
        daemon = dockerd if engine == "docker" else None
        return [
            (
                f"{engine} diff",
                engine,
                theirs,
                median_seconds(lambda: engine_cli("diff", started.id), runs, daemon),
            ),
            (
                "ctrlens diff -o json",
                engine,
                mine,
                median_seconds(lambda: ctrlens_cli("diff", started.name, "-o", "json"), runs),
            ),
            (
                "ctrlens diff --hash -o json",
                engine,
                mine,
                median_seconds(lambda: ctrlens_cli("diff", started.name, "--hash", "-o", "json"), runs),
            ),
            (
                "diff_container() in process",
                engine,
                mine,
                median_seconds(lambda: diff_container(snapshot, container, host), runs),
            ),
        ]
    finally:
        bed.remove(started)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--files", type=int, default=10_000, help="files to add in the container (default 10000)"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per tool; the median is shown (default 5)")
    parser.add_argument("--engines", default="docker,podman", help="comma-separated: docker, podman")
    args = parser.parse_args()

    from testbed import Testbed

    bed = Testbed.up()
    dockerd = bed.state.get("docker", {}).get("pid")
    rows = []
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
        rows += bench_engine(bed, engine, args.files, args.runs, dockerd)

    print(f"\n{'tool':<30} {'engine':<7} {'changes':>8} {'wall s':>8} {'vs':>7} {'cpu s':>8} {'vs':>7}")
    baseline: dict[str, tuple[float, float]] = {}
    for tool, engine, count, (wall, cpu) in rows:
        if tool.endswith(" diff") and not tool.startswith("ctrlens"):
            baseline[engine] = (wall, cpu)
        bw, bc = baseline.get(engine, (float("nan"), float("nan")))
        print(
            f"{tool:<30} {engine:<7} {count:>8} {wall:>8.3f} {wall / bw:>6.2f}x {cpu:>8.3f} {cpu / bc:>6.2f}x"
        )
    print(
        f"\nmedian of {args.runs} runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; "
        f"python {sys.version.split()[0]} ({sys.executable}).\n"
        "cpu = the tool's own CPU time: client and children, plus dockerd's for docker diff (podman does its "
        "work in its own process). diff_container() runs in this process, after one scan."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
