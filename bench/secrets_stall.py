"""Can one container stall the host's monitoring? (issue 12 "Stall")

    python bench/secrets_stall.py [--runs 3]          # as root, on the running testbed ($CTRLENS_TESTBED_DIR)

Times (CPU seconds, user + system, median) `ctrlens secrets`, `ctrlens audit`, `ctrlens watch --initial` (1 s) and top's first refresh (scan, redaction,
resource sample and table model, in-process as `top` does it) on the testbed as it is, then again with one
Docker container holding a 1 MB command line and a 4 MB environment, and prints the ratio (target <= 1.5x).

How the container gets there: execve limits each string to MAX_ARG_STRLEN (128 kB) and argv+envp together to
ARG_MAX (a quarter of the stack limit: `getconf ARG_MAX` = 2 MB with the usual 8 MB stack). So the container runs
with `--ulimit stack=64 MB` (ARG_MAX 16 MB); its shell builds a 131,000-byte string, exports it under 32 names
(4.0 MB of environment) and execs `sh -c 'sleep …; :' huge S S S S S S S S` (8 arguments: 1.0 MB of argv).
A single 1 MB argument cannot pass execve at all; a process rewriting its own argv area could show one, but
busybox has no such tool, and the scan's per-value limit (16 kB) makes the two shapes cost the same.
`--shape` picks the content of the string: `a` (one letter), `hostile` (`://` `eyJ` `:@` ` password='` … repeated,
every rule's anchor) or `random` (base64 noise).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _timing import ctrlens_command, precompile

STRING = 131_000  # under MAX_ARG_STRLEN (131,072 with the NUL)
ENV_VARS = 32  # 32 x 131,000 = 4.0 MB
ARGS = 8  # 8 x 131,000 = 1.0 MB
SHAPES = {
    "a": "a",
    "hostile": '://eyJ:@ password="AKC sk-ghp_-----BEGIN //:_authToken= {[',
    "random": "Zq3+/x9Lm0Pw7Rt2Ks8Vb1Nc4Hy6Gf5",
}


def holder_script(unit: str) -> str:
    """sh that builds the string by doubling (no tools needed), exports it 32 times and execs the holder."""
    exports = " ".join(f"E{i}=$s" for i in range(ENV_VARS))
    args = " ".join(['"$s"'] * ARGS)
    return (
        f"s='{unit}'; while [ ${{#s}} -lt {STRING} ]; do s=$s$s; done; s=${{s:0:{STRING}}}; "
        f"export {exports}; exec sh -c 'sleep 1000000; :' huge {args}"
    )


def timed(cmd: list[str], runs: int) -> float:
    """Median CPU seconds (user + system) of the command: on a shared machine wall time measures the neighbours."""
    samples = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=900)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        samples.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(samples)


def top_first_refresh(runs: int) -> float:
    code = (
        "import time\nfrom ctrlens.host import Host\nfrom ctrlens.scanner import scan\n"
        "from ctrlens.secrets.redact import Redactor\nfrom ctrlens.tui.resources import ResourceSampler\n"
        "from ctrlens.tui.rows import TopModel\nhost = Host.from_option(None)\nt = time.process_time()\n"
        "snapshot = scan(host)\nRedactor.for_host(host).mask_snapshot(snapshot)\n"
        "TopModel().update(snapshot, ResourceSampler(host).sample(snapshot))\nprint(time.process_time() - t)\n"
    )
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=900
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def measure(runs: int) -> dict[str, float]:
    exe = ctrlens_command()
    return {
        "secrets": timed([*exe, "secrets", "-o", "json"], runs),
        "audit": timed([*exe, "audit", "-o", "json"], runs),
        "watch --initial (1 s)": timed([*exe, "watch", "--initial", "--duration", "1"], runs),
        "top first refresh": top_first_refresh(runs),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shape", choices=sorted(SHAPES), default="hostile")
    args = parser.parse_args()
    from testbed import Testbed, unique_name

    precompile()
    tb = Testbed.load(os.environ.get("CTRLENS_TESTBED_DIR") or None)
    print(
        f"ARG_MAX here: {os.sysconf('SC_ARG_MAX')} bytes; shape {args.shape!r}; median of {args.runs} runs\n"
    )
    base = measure(args.runs)
    started = tb.run_docker(
        unique_name("stall"),
        "--ulimit",
        "stack=67108864:67108864",
        cmd=("sh", "-c", holder_script(SHAPES[args.shape])),
    )
    try:
        time.sleep(0.5)
        env_bytes = len(Path(f"/proc/{started.pid}/environ").read_bytes())
        argv_bytes = len(Path(f"/proc/{started.pid}/cmdline").read_bytes())
        print(f"holder PID {started.pid}: environ {env_bytes:,} bytes, cmdline {argv_bytes:,} bytes\n")
        loaded = measure(args.runs)
    finally:
        tb.remove(started)
    print(f"{'command':<24} {'without':>9} {'with':>9} {'ratio':>7}")
    for key, seconds in base.items():
        print(f"{key:<24} {seconds:>8.2f}s {loaded[key]:>8.2f}s {loaded[key] / seconds:>6.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
