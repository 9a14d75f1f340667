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


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def ctrlens_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ctrlens.cli", *args], capture_output=True, text=True, check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, help="files to add in the container (default 10000)")
    parser.add_argument("--runs", type=int, default=5, help="runs per tool; the median is shown (default 5)")
    parser.add_argument("--engines", default="docker,podman", help="comma-separated: docker, podman")
    args = parser.parse_args()

    from ctrlens.diff import diff_container
    from ctrlens.host import Host
    from ctrlens.refs import resolve_ref
    from ctrlens.scan import scan
    from testbed import Testbed, unique_name

    bed = Testbed.up()
    per_dir = 100
    dirs = max(1, args.files // per_dir)
    rows: list[tuple[str, str, int, float]] = []
    for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
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
            container = resolve_ref(scan(host), started.id).container
            assert container is not None

            rows.append((f"{engine} diff", engine, theirs,
                         median_seconds(lambda: engine_cli("diff", started.id), args.runs)))
            rows.append(("ctrlens diff -o json", engine, mine,
                         median_seconds(lambda: ctrlens_cli("diff", started.name, "-o", "json"), args.runs)))
            rows.append(("ctrlens diff --hash -o json", engine, mine,
                         median_seconds(lambda: ctrlens_cli("diff", started.name, "--hash", "-o", "json"),
                                        args.runs)))
            snapshot = scan(host)
            rows.append(("diff_container() in process", engine, mine,
                         median_seconds(lambda: diff_container(snapshot, container, host), args.runs)))
        finally:
            bed.remove(started)

    print(f"\n{'tool':<30} {'engine':<7} {'changes':>8} {'median s':>9} {'vs engine':>10}")
    baseline: dict[str, float] = {}
    for tool, engine, count, secs in rows:
        if tool.endswith(" diff") and not tool.startswith("ctrlens"):
            baseline[engine] = secs
        ratio = secs / baseline[engine] if baseline.get(engine) else float("nan")
        print(f"{tool:<30} {engine:<7} {count:>8} {secs:>9.3f} {ratio:>9.2f}x")
    print(f"\n{args.runs} runs each; python {sys.version.split()[0]} ({sys.executable}); "
          "the engine CLIs run through the testbed's wrappers (one subprocess each).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
