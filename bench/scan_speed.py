"""How fast `ctrlens ps` sees the host, side by side with ps, the Docker CLI and psutil, in one run.

    sudo python bench/scan_speed.py [--containers 0,50,200] [--host-procs 2000] [--runs 5]

For each container count it starts that many tiny Docker containers in the testbed (plus --host-procs extra host
`sleep` processes), then times, end to end (median of --runs):
  ctrlens ps -o json                     every process with its container, runtime, pod
  ps -e -o pid,ppid,user,cgroup,args     the kernel's facts, no names
  docker ps + inspect + top              the Docker CLI gathering the same facts (Docker containers only)
  psutil + cgroup                        psutil.process_iter plus reading each /proc/PID/cgroup
and, in process, the scan cost per process against a C program doing the same reads (bench/scan_reads.c).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _timing import ctrlens_command, precompile, timed, timed_call  # noqa: E402 - after the sys.path set-up

PSUTIL_SNIPPET = """
import psutil
rows = []
for p in psutil.process_iter(['pid', 'ppid', 'username', 'cmdline']):
    try:
        with open(f'/proc/{p.pid}/cgroup') as f:
            cg = f.read()
    except OSError:
        continue
    rows.append((p.info, cg))
print(len(rows))
"""


def docker_gather(bed) -> None:
    """The Docker CLI's way to the same facts: list, inspect (name, image, pid), top (processes) per container."""
    ids = bed.docker("ps", "-q", "--no-trunc").stdout.split()
    if ids:
        bed.docker("inspect", *ids, check=False)
    for cid in ids:
        bed.docker("top", cid, "-eo", "pid,ppid,user,args", check=False)  # a container may stop meanwhile


def c_scan_seconds(rounds: int = 20) -> tuple[int, float]:
    exe = Path(tempfile.gettempdir()) / "ctrlens-scan-reads"
    subprocess.run(["cc", "-O2", "-o", str(exe), str(REPO / "bench" / "scan_reads.c")], check=True)
    count, secs = subprocess.run(
        [str(exe), str(rounds)], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(count), float(secs)


def python_scan_seconds(rounds: int = 20) -> tuple[int, float, float]:
    from ctrlens.host import Host
    from ctrlens.scanner import read_processes, scan

    host = Host()
    t = time.perf_counter()
    for _ in range(rounds):
        n = len(read_processes("/proc"))
    reads = (time.perf_counter() - t) / rounds
    t = time.perf_counter()
    for _ in range(rounds):
        scan(host)
    full = (time.perf_counter() - t) / rounds
    return n, reads, full


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--containers", default="0,50,200")
    parser.add_argument("--host-procs", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/scan_speed.py: run as root (it starts containers in the testbed)", file=sys.stderr)
        return 2
    from testbed import Testbed

    precompile()
    bed = Testbed.up()
    ctrlens = ctrlens_command()
    sleepers = [subprocess.Popen(["sleep", "3600"]) for _ in range(args.host_procs)]
    started: list = []
    rows = []
    try:
        for target in [int(n) for n in args.containers.split(",")]:
            while len(started) < target:
                started.append(bed.run_docker(f"bench-scan-{len(started)}", cmd=("sleep", "1000000")))
            nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
            running = len(bed.docker("ps", "-q").stdout.split())
            t_ctrlens = timed([*ctrlens, "ps", "-o", "json"], args.runs)
            t_ps = timed(["ps", "-e", "-o", "pid,ppid,user,cgroup,args"], args.runs)
            t_docker = timed_call(lambda: docker_gather(bed), max(1, args.runs // 2))
            t_psutil = timed([sys.executable, "-c", PSUTIL_SNIPPET], args.runs)
            n_c, c_secs = c_scan_seconds()
            n_py, py_reads, py_full = python_scan_seconds()
            rows.append(
                (
                    running,
                    nproc,
                    t_ctrlens,
                    t_ps,
                    t_docker,
                    t_psutil,
                    c_secs / n_c,
                    py_reads / n_py,
                    py_full / n_py,
                )
            )
    finally:
        for proc in sleepers:
            proc.kill()
        for proc in sleepers:
            proc.wait()
        for s in started:
            bed.remove(s)
    print()
    print("end to end, median wall seconds (ratio = ctrlens / other)")
    print(
        f"{'ctrs':>5} {'procs':>6} {'ctrlens ps':>11} {'ps -e':>8} {'ratio':>6} {'docker CLI':>11} {'ratio':>6} "
        f"{'psutil':>8} {'ratio':>6}"
    )
    for r in rows:
        print(
            f"{r[0]:>5} {r[1]:>6} {r[2]:>11.3f} {r[3]:>8.3f} {r[2] / r[3]:>6.2f} {r[4]:>11.3f} {r[2] / r[4]:>6.3f} "
            f"{r[5]:>8.3f} {r[2] / r[5]:>6.2f}"
        )
    print()
    print("in-process scan cost per process (microseconds)")
    print(f"{'ctrs':>5} {'C reads':>8} {'py reads':>9} {'ratio':>6} {'py full scan':>13} {'ratio':>6}")
    for r in rows:
        print(
            f"{r[0]:>5} {r[6] * 1e6:>8.1f} {r[7] * 1e6:>9.1f} {r[7] / r[6]:>6.2f} {r[8] * 1e6:>13.1f} {r[8] / r[6]:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
