"""How long `ctrlens audit` takes next to `ctrlens ps` on the same host, in one run.

    sudo python bench/audit_speed.py [--containers 200] [--runs 3] [--jobs 6]

Starts --containers tiny Docker containers in the testbed (as many as start, if fewer fit), then times, end to
end (median of --runs), each command printing JSON to /dev/null:
  ctrlens ps -o json                   the baseline: one pass over /proc
  ctrlens audit -o json --no-secrets   the audit without the secrets layer
  ctrlens audit -o json                the full audit (environ and cmdline scanned for secrets)
and, in process, the audit's own cost per container (facts read + checks, secrets off and on) after one scan.
The issue's bar: the full audit under three times `ctrlens ps`. Everything started is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def in_process(runs: int) -> tuple[int, float, float, float]:
    """(containers, scan s, audit s without secrets, audit s with secrets): medians, one scan shared."""
    from ctrlens.audit import audit_snapshot
    from ctrlens.host import Host
    from ctrlens.scanner import scan

    host = Host.from_option(None)
    scans, plain, full = [], [], []
    count = 0
    for _ in range(runs):
        t = time.perf_counter()
        snapshot = scan(host)
        scans.append(time.perf_counter() - t)
        count = len(snapshot.containers)
        t = time.perf_counter()
        audit_snapshot(snapshot, host, secrets_scan=False)
        plain.append(time.perf_counter() - t)
        t = time.perf_counter()
        audit_snapshot(snapshot, host)
        full.append(time.perf_counter() - t)
    return count, statistics.median(scans), statistics.median(plain), statistics.median(full)


def start_fleet(bed, count: int, jobs: int) -> list:
    def one(i: int):
        try:
            return bed.run_docker(f"bench-audit-{os.getpid()}-{i}", cmd=("sleep", "1000000"))
        except Exception as exc:  # noqa: BLE001 - a host that fits fewer containers is a result, not a crash
            print(f"  container {i} did not start: {str(exc).splitlines()[0][:100]}", file=sys.stderr)
            return None

    with ThreadPoolExecutor(jobs) as pool:
        return [s for s in pool.map(one, range(count)) if s is not None]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=6, help="containers started in parallel")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print(
            "bench/audit_speed.py: needs root (it starts containers and reads every /proc/PID)",
            file=sys.stderr,
        )
        return 2
    from testbed import Testbed

    bed = Testbed.up()
    exe = shutil.which("ctrlens") or "ctrlens"
    started = []
    try:
        t = time.perf_counter()
        started = start_fleet(bed, args.containers, args.jobs)
        print(f"started {len(started)} of {args.containers} containers in {time.perf_counter() - t:.0f} s")
        ps = timed([exe, "ps", "-o", "json"], args.runs)
        plain = timed([exe, "audit", "-o", "json", "--no-secrets"], args.runs)
        full = timed([exe, "audit", "-o", "json"], args.runs)
        count, scan_s, audit_plain, audit_full = in_process(args.runs)
        print()
        print(f"{'command (end to end, median of ' + str(args.runs) + ')':<44} {'seconds':>8} {'× ps':>6}")
        for label, secs in (("ctrlens ps -o json", ps), ("ctrlens audit -o json --no-secrets", plain),
                            ("ctrlens audit -o json", full)):  # fmt: skip
            print(f"{label:<44} {secs:>8.3f} {secs / ps:>6.2f}")
        print()
        print(f"in process, {count} containers (after one scan):")
        print(f"{'':<44} {'seconds':>8} {'ms/ctr':>7}")
        print(f"{'scan (what ps does)':<44} {scan_s:>8.3f} {1000 * scan_s / max(count, 1):>7.2f}")
        print(
            f"{'audit_snapshot, secrets off':<44} {audit_plain:>8.3f} {1000 * audit_plain / max(count, 1):>7.2f}"
        )
        print(
            f"{'audit_snapshot, secrets on':<44} {audit_full:>8.3f} {1000 * audit_full / max(count, 1):>7.2f}"
        )
        verdict = "meets" if full < 3 * ps else "MISSES"
        print(f"\nfull audit / ps = {full / ps:.2f} ({verdict} the < 3× bar)")
    finally:
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(bed.remove, started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
