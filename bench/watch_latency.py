#!/usr/bin/env python3
"""Start/exit latency of `ctrlens watch` in kernel mode (process events connector) vs poll mode, next to
`docker events`, for the same containers in one run.

Each container (`docker run --rm … sh -c 'stamp; sleep; stamp'`) writes its own timestamps from /proc/uptime with
a shell builtin (CLOCK_BOOTTIME, which the container shares with the host; 10 ms resolution). Start latency =
the event's time - the container's first stamp; exit latency = the event's time - its last stamp. Negative values
mean the event came before the container got to its first stamp (the exec is seen before `sh` runs).

    CTRLENS_TESTBED_DIR=/tmp/ctrlens-testbed-shared python bench/watch_latency.py [--containers 20] [--interval 2]

Needs root and the testbed (python -m testbed up).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testbed import DOCKER_IMAGE, Testbed, default_state_dir, unique_name

STAMP = "read up idle </proc/uptime; echo {label} $up"


class Stream:
    """A background command writing one JSON object a line; lines kept with the time they were read."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace", bufsize=1
        )
        self.lines: queue.Queue[dict] = queue.Queue()
        self.stderr = ""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                continue

    def all(self) -> list[dict]:
        out = []
        while not self.lines.empty():
            out.append(self.lines.get())
        return out

    def stop(self) -> None:
        self.proc.terminate()
        try:
            _, self.stderr = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def epoch(ts: str) -> float:
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()


def boot_epoch() -> float:
    return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


def summary(values: list[float]) -> str:
    if not values:
        return f"{'-':>8} {'-':>8} {'-':>8}"
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"{statistics.median(ms):8.1f} {p95:8.1f} {ms[-1]:8.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--containers", type=int, default=20)
    parser.add_argument("--interval", type=float, default=2.0, help="poll mode's --interval (default 2)")
    parser.add_argument("--life", type=float, default=0.5, help="seconds each container lives (default 0.5)")
    args = parser.parse_args()

    tb = Testbed.load(default_state_dir())
    ctrlens = shutil.which("ctrlens") or "ctrlens"
    types = ["--type", "container.started", "--type", "container.stopped"]
    kernel = Stream([ctrlens, "watch", "--mode", "kernel", *types])
    poll = Stream([ctrlens, "watch", "--mode", "poll", "--interval", str(args.interval), *types])
    docker_cli = str(tb.paths.bin / "docker") if hasattr(tb.paths, "bin") else "docker"
    engine = Stream([docker_cli, "events", "--filter", "type=container", "--format", "{{json .}}"])
    time.sleep(max(5.0, 2 * args.interval))  # both watches past their baseline scan

    runs: dict[str, tuple[float, float]] = {}  # name -> (first stamp, last stamp), epoch seconds
    script = f"{STAMP.format(label='start')}; sleep {args.life}; {STAMP.format(label='end')}"
    for _ in range(args.containers):
        name = unique_name("bench-wl")
        out = tb.docker("run", "--rm", "--name", name, "--network", "none", DOCKER_IMAGE, "sh", "-c", script)
        base = boot_epoch()
        stamps = {line.split()[0]: base + float(line.split()[1]) for line in out.stdout.splitlines()}
        runs[name] = (stamps["start"], stamps["end"])
    time.sleep(2 * args.interval + 2)  # the last poll has seen the last exit
    for s in (kernel, poll, engine):
        s.stop()

    rows = []
    for label, stream in (
        ("ctrlens watch (kernel)", kernel),
        (f"ctrlens watch (poll {args.interval:g}s)", poll),
    ):
        events = stream.all()
        starts = {e["container"]["name"]: epoch(e["ts"]) for e in events if e["type"] == "container.started"}
        stops = {e["container"]["name"]: epoch(e["ts"]) for e in events if e["type"] == "container.stopped"}
        rows.append((label, starts, stops))
    engine_events = engine.all()
    starts, stops = {}, {}
    for e in engine_events:
        name = e.get("Actor", {}).get("Attributes", {}).get("name")
        at = e.get("timeNano", 0) / 1e9
        if e.get("Action") == "start":
            starts[name] = at
        elif e.get("Action") == "die":
            stops[name] = at
    rows.append(("docker events", starts, stops))

    print(f"{args.containers} containers, `docker run --rm` living {args.life:g}s each; latency in ms vs the")
    print("container's own stamps (10 ms resolution; negative: before the container's first instruction ran)")
    print(
        f"{'source':26} {'start: median':>14} {'p95':>8} {'max':>8}   {'exit: median':>13} {'p95':>8} {'max':>8}  missed"
    )
    for label, starts, stops in rows:
        start_lat = [starts[n] - r[0] for n, r in runs.items() if n in starts]
        stop_lat = [stops[n] - r[1] for n, r in runs.items() if n in stops]
        missed = sum(1 for n in runs if n not in starts) + sum(1 for n in runs if n not in stops)
        print(f"{label:26} {summary(start_lat):>32}   {summary(stop_lat):>31}  {missed}")
    mode_line = [line for line in kernel.stderr.splitlines() if "watch:" in line]
    print("kernel watch said:", mode_line[0] if mode_line else "(nothing)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
