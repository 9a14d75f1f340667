"""`ctrlens secrets` across many containers, side by side with `ctrlens ps` on the same host, in one run.

    sudo python bench/secrets_speed.py [--containers 200] [--runs 5]

Starts N tiny Docker containers in the testbed, each with a few harmless variables and two secrets (a password
variable and a token-shaped value), then times end to end (median of --runs): `ctrlens ps -o json`,
`ctrlens secrets -o json`, and prints the ratio. The issue's bar: secrets under twice ps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def precompile() -> None:
    """Byte-compile ctrlens and detect-secrets first: a pip install does, but PYTHONDONTWRITEBYTECODE (set on
    some machines) would otherwise make every timed run recompile the sources."""
    import compileall
    import importlib.util

    for name in ("ctrlens", "detect_secrets"):
        spec = importlib.util.find_spec(name)
        if spec and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                compileall.compile_dir(location, quiet=1)


def ctrlens_command() -> list[str]:
    script = Path(sys.executable).parent / "ctrlens"  # the console script, not a version-manager shim
    return [str(script) if script.exists() else shutil.which("ctrlens") or "ctrlens"]


def timed(cmd: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--containers", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/secrets_speed.py: run as root (it starts containers in the testbed)", file=sys.stderr)
        return 2
    from testbed import Testbed

    precompile()
    bed = Testbed.up()
    ctrlens = ctrlens_command()
    started = []
    try:
        for i in range(args.containers):
            started.append(bed.run_docker(
                f"bench-secrets-{i}",
                "-e", "LANG=C.UTF-8", "-e", "APP_VERSION=1.2.3", "-e", f"DB_PASSWORD=pw-{i}-x9Kq2",
                "-e", f"GITHUB_TOKEN=ghp_{'a1B2c3D4e5' * 3}{i:06d}",
            ))
        running = len(bed.docker("ps", "-q").stdout.split())
        nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
        t_ps = timed([*ctrlens, "ps", "-o", "json"], args.runs)
        t_secrets = timed([*ctrlens, "secrets", "-o", "json"], args.runs)
    finally:
        for s in started:
            bed.remove(s)
    print()
    print(f"{running} docker containers running, {nproc} processes; median of {args.runs} runs, wall seconds")
    print(f"{'ctrlens ps -o json':>22} {'ctrlens secrets -o json':>24} {'ratio':>6}")
    print(f"{t_ps:>22.3f} {t_secrets:>24.3f} {t_secrets / t_ps:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
