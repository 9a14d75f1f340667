"""`ctrlens secrets` across many containers, side by side with `ctrlens ps` on the same host, in one run.

    sudo python bench/secrets_speed.py [--containers 200] [--runs 5]

Starts N tiny Docker containers in the testbed, each with a few harmless variables and two secrets (a password
variable and a token-shaped value), then times end to end (median of --runs): `ctrlens ps -o json`,
`ctrlens secrets -o json`, and prints the ratio. The issue's bar: secrets under twice ps.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _timing import ctrlens_command, precompile, timed  # noqa: E402 - after the sys.path set-up


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
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
            started.append(
                bed.run_docker(
                    f"bench-secrets-{i}",
                    "-e",
                    "LANG=C.UTF-8",
                    "-e",
                    "APP_VERSION=1.2.3",
                    "-e",
                    f"DB_PASSWORD=pw-{i}-x9Kq2",
                    "-e",
                    f"GITHUB_TOKEN=ghp_{'a1B2c3D4e5' * 3}{i:06d}",
                )
            )
        running = len(bed.docker("ps", "-q").stdout.split())
        nproc = sum(1 for d in os.listdir("/proc") if d.isdigit())
        t_ps = timed([*ctrlens, "ps", "-o", "json"], args.runs, check=False)
        t_secrets = timed([*ctrlens, "secrets", "-o", "json"], args.runs, check=False)
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
