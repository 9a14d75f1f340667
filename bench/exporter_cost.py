"""What `ctrlens serve` costs with many containers: scrape latency, memory, and idle CPU at a 15 s interval.

    sudo python bench/exporter_cost.py [--containers 200] [--scrapes 20] [--idle 60] [--interval 15]

Starts --containers busybox containers in the testbed's dockerd (python -m testbed up, or a running one), then
`ctrlens serve` on 127.0.0.1 with --cache-ttl 0 (every scrape is a new collection) and measures, end to end over
HTTP as Prometheus sees it:
  start-up                     the first collection, every source for every container (audit, secrets, drift)
  warm scrapes                 what each later scrape costs: the scan and cgroup counters, the rest cached;
                               wall time as Prometheus sees it, and the exporter's CPU time (load-independent)
  memory                       the exporter's RSS after the scrapes, and its peak (VmHWM)
  idle CPU                     CPU time over --idle seconds of one scrape every --interval seconds, as % of a core
next to `docker stats --no-stream` and `docker ps` (the engine's own per-container listing) and a psutil walk
of every process. Targets: scrape < 250 ms, RSS < 100 MB, idle CPU < 1 % of a core. The containers it made are
removed at the end.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> tuple[float, str]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as resp:
        body = resp.read().decode()
    return time.perf_counter() - started, body


def metric(body: str, name: str) -> float | None:
    for line in body.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return None


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=60) as resp:
            return resp.status == 200
    except OSError:
        return False


def hangup_storm(port: int, hangups: int, idle: int) -> dict[str, float]:
    """`idle` connections held open, `hangups` clients asking for /metrics then resetting (curl -m 0.05 does
    the same), then scrapes and /healthz timed while the idle ones are still open."""
    import struct

    started = time.perf_counter()
    held = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(idle)]

    def hang_up(i: int) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            if i % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(hang_up, range(hangups)))
    seconds = time.perf_counter() - started
    url = f"http://127.0.0.1:{port}"
    scrapes = [scrape(f"{url}/metrics") for _ in range(5)]
    healthz_started = time.perf_counter()
    urllib.request.urlopen(f"{url}/healthz", timeout=10).read()
    healthz = time.perf_counter() - healthz_started
    for s in held:
        s.close()
    return {
        "seconds": seconds,
        "scrape": statistics.median(t for t, _ in scrapes),
        "healthz": healthz,
        "dropped": metric(scrapes[-1][1], "ctrlens_exporter_connections_dropped_total") or 0.0,
    }


def timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, timeout=600, env=env)
    return time.perf_counter() - started


def start_fleet(tb, count: int, prefix: str) -> list:
    from testbed import unique_name

    with ThreadPoolExecutor(6) as pool:
        return list(pool.map(lambda i: tb.run_docker(unique_name(f"{prefix}{i}")), range(count)))


def remove_fleet(tb, started: list) -> None:
    ids = [s.id for s in started]
    for i in range(0, len(ids), 50):
        tb.docker("rm", "-f", *ids[i : i + 50], check=False, timeout=600)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--containers", type=int, default=200, help="containers to start (default 200)")
    parser.add_argument("--scrapes", type=int, default=20, help="warm scrapes to time (default 20)")
    parser.add_argument(
        "--idle", type=float, default=60.0, help="seconds of the idle CPU measure (default 60)"
    )
    parser.add_argument(
        "--interval", type=float, default=15.0, help="scrape interval for idle CPU (default 15)"
    )
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("exporter_cost: needs root (the testbed and a full /proc view)", file=sys.stderr)
        return 2

    from testbed import Testbed

    tb = Testbed.up()
    print(f"starting {args.containers} containers…", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    fleet = start_fleet(tb, args.containers, "fleet-bench-")
    print(f"  started in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    port = free_port()
    load_before = os.getloadavg()[0]
    launched = time.perf_counter()
    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ctrlens.cli",
            "serve",
            "--listen",
            f"127.0.0.1:{port}",
            "--cache-ttl",
            "0",
            "--slow-budget",
            "60",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    rows: list[tuple[str, str, str]] = []
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
                break
            except OSError:
                if serve.poll() is not None or time.monotonic() > deadline:
                    print(f"exporter_cost: serve did not start: {serve.stderr.read()}", file=sys.stderr)
                    return 1
                time.sleep(0.002)
        healthz = time.perf_counter() - launched
        while not ready(port):
            time.sleep(0.01)
        startup = time.perf_counter() - launched
        interpreter = timed([sys.executable, "-c", "pass"])
        storm = hangup_storm(port, hangups=200, idle=500)
        if serve.poll() is not None:
            print(f"exporter_cost: serve died in the storm ({serve.returncode})", file=sys.stderr)
            return 1
        first, body = scrape(url)
        total = int(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in body.splitlines()
                if line.startswith("ctrlens_containers{")
            )
        )
        series = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
        warm, collection = [], []
        cpu_before = cpu_seconds(serve.pid)
        for _ in range(args.scrapes):
            seconds, body = scrape(url)
            warm.append(seconds)
            collection.append(metric(body, "ctrlens_exporter_collection_duration_seconds") or 0.0)
        cpu_per_scrape = (cpu_seconds(serve.pid) - cpu_before) / args.scrapes
        warm.sort()
        p95 = warm[min(len(warm) - 1, int(len(warm) * 0.95))]
        rss, hwm = status_kb(serve.pid, "VmRSS") / 1024, status_kb(serve.pid, "VmHWM") / 1024
        before, began = cpu_seconds(serve.pid), time.monotonic()
        scrapes = 0
        while time.monotonic() - began < args.idle:
            scrape(url)
            scrapes += 1
            time.sleep(max(0.0, began + scrapes * args.interval - time.monotonic()))
        idle_cpu = (cpu_seconds(serve.pid) - before) / (time.monotonic() - began) * 100
        rss_after = status_kb(serve.pid, "VmRSS") / 1024

        docker = [
            *tb._docker_cmd(),
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.CPUPerc}} {{.MemUsage}}",
        ]
        docker_stats = timed(docker, tb._docker_env())
        docker_ps = timed([*tb._docker_cmd(), "ps", "-q"], tb._docker_env())
        walk = timed(
            [
                sys.executable,
                "-c",
                (
                    "import psutil\n"
                    "for p in psutil.process_iter(['pid', 'cmdline', 'memory_info', 'cpu_times']): pass"
                ),
            ]
        )

        rows = [
            ("containers on the host (all runtimes)", f"{total}", ""),
            ("series in one scrape", f"{series}", ""),
            ("/healthz answered, from launch", f"{healthz * 1000:.0f} ms", "< 100 ms"),
            ("  of which the interpreter's own start-up", f"{interpreter * 1000:.0f} ms", "python -c pass"),
            ("start-up: first collection, every source", f"{startup * 1000:.0f} ms", "in the background"),
            (
                "200 early hang-ups + 500 idle connections",
                f"{storm['seconds'] * 1000:.0f} ms, serve alive",
                "stays up",
            ),
            ("  scrape during them (median of 5)", f"{storm['scrape'] * 1000:.0f} ms", ""),
            ("  /healthz during them", f"{storm['healthz'] * 1000:.1f} ms", ""),
            ("  connections dropped (counted)", f"{storm['dropped']:.0f}", ""),
            ("first scrape", f"{first * 1000:.0f} ms", ""),
            ("warm scrape: median", f"{statistics.median(warm) * 1000:.0f} ms", "< 250 ms"),
            ("warm scrape: p95 / max", f"{p95 * 1000:.0f} / {warm[-1] * 1000:.0f} ms", "< 250 ms"),
            ("  of which collection (median)", f"{statistics.median(collection) * 1000:.0f} ms", ""),
            ("warm scrape: exporter CPU time (mean)", f"{cpu_per_scrape * 1000:.0f} ms", "< 250 ms"),
            ("exporter RSS after scrapes", f"{rss:.1f} MB", "< 100 MB"),
            ("exporter peak RSS (VmHWM)", f"{hwm:.1f} MB", "< 100 MB"),
            (
                f"idle CPU, 1 scrape / {args.interval:g} s over {args.idle:g} s",
                f"{idle_cpu:.2f} % of a core",
                "< 1 %",
            ),
            ("exporter RSS after idle", f"{rss_after:.1f} MB", ""),
            ("docker stats --no-stream (engine API)", f"{docker_stats * 1000:.0f} ms", "reference"),
            ("docker ps -q (engine API)", f"{docker_ps * 1000:.0f} ms", "reference"),
            ("psutil: every process, one pass (+start-up)", f"{walk * 1000:.0f} ms", "reference"),
        ]
    finally:
        serve.terminate()
        serve.wait(10)
        print("removing the containers…", file=sys.stderr, flush=True)
        remove_fleet(tb, fleet)
    width = max(len(r[0]) for r in rows)
    print(
        f"ctrlens serve cost, {args.containers} bench containers, {os.cpu_count()} cores, "
        f"load average {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at the end"
    )
    print(f"{'what':<{width}}  {'figure':>22}  target")
    for what, figure, target in rows:
        print(f"{what:<{width}}  {figure:>22}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
