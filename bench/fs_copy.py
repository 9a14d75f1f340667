"""Copying a big file into and out of a container: `ctrlens fs cp` against host `cp` and `docker cp`.

    sudo python bench/fs_copy.py [--size-mib 1024] [--runs 3]

Starts one Docker container in the testbed (Testbed.up(): attaches to a running one), writes a --size-mib file of
random bytes on the host, then times (median of --runs, `sync` before each so no write-back is inherited):
  cp                       host dir -> host dir, the floor
  ctrlens fs cp (in|out)   the CLI end to end: start-up, the scan that resolves REF, the copy
  rootfs copy_in|copy_out  the library alone (what the CLI spends on the copy itself)
  docker cp (in|out)       through the testbed's dockerd (a tar stream over its API)
and checks every copy byte for byte. Targets (the issue): within 1.5x of cp, faster than docker cp.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "src"))


def timed(action: Callable[[], object], cleanup: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        cleanup()
        os.sync()
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def make_source(path: Path, size_mib: int) -> None:
    with open("/dev/urandom", "rb") as rnd, open(path, "wb") as out:
        block = rnd.read(1 << 20)
        # Rotated copies: not all the same MiB, so nothing can dedup or compress it away.
        out.writelines(block[i % 7 :] + block[: i % 7] for i in range(size_mib))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (the testbed and /proc/PID/root)", file=sys.stderr)
        return 2

    from ctrlens.rootfs import ContainerRoot, copy_in, copy_out
    from testbed import Testbed, unique_name

    bed = Testbed.up()
    c = bed.run_docker(unique_name("bench-fscp"))
    work = Path(tempfile.mkdtemp(prefix="ctrlens-bench-fscp-"))
    ctrlens = shutil.which("ctrlens") or "ctrlens"
    src, host_out, ctr_path = work / "src.bin", work / "out.bin", "/tmp/big.bin"
    try:
        make_source(src, args.size_mib)

        def rm_host() -> None:
            host_out.unlink(missing_ok=True)

        def rm_ctr() -> None:
            bed.docker("exec", c.name, "rm", "-f", ctr_path)

        def dk(*a: str) -> None:
            bed.docker(*a)  # Debian's docker client against the testbed's dockerd

        rows: list[tuple[str, float]] = []
        rows.append(
            ("cp (host -> host)", timed(lambda: run("cp", str(src), str(host_out)), rm_host, args.runs))
        )
        rows.append(
            (
                "ctrlens fs cp host -> ctr",
                timed(lambda: run(ctrlens, "fs", "cp", str(src), f"{c.name}:{ctr_path}"), rm_ctr, args.runs),
            )
        )
        assert filecmp.cmp(src, f"/proc/{c.pid}/root{ctr_path}", shallow=False)
        rows.append(
            (
                "ctrlens fs cp ctr -> host",
                timed(
                    lambda: run(ctrlens, "fs", "cp", f"{c.name}:{ctr_path}", str(host_out)),
                    rm_host,
                    args.runs,
                ),
            )
        )
        assert filecmp.cmp(src, host_out, shallow=False)
        with ContainerRoot.from_pid(c.pid, label=c.name) as root:
            rows.append(
                ("rootfs copy_in (library)", timed(lambda: copy_in(root, src, ctr_path), rm_ctr, args.runs))
            )
            rows.append(
                (
                    "rootfs copy_out (library)",
                    timed(lambda: copy_out(root, ctr_path, host_out), rm_host, args.runs),
                )
            )
        rows.append(
            (
                "docker cp host -> ctr",
                timed(lambda: dk("cp", str(src), f"{c.name}:{ctr_path}"), rm_ctr, args.runs),
            )
        )
        rows.append(
            (
                "docker cp ctr -> host",
                timed(lambda: dk("cp", f"{c.name}:{ctr_path}", str(host_out)), rm_host, args.runs),
            )
        )
        assert filecmp.cmp(src, host_out, shallow=False)
    finally:
        bed.remove(c)
        shutil.rmtree(work, ignore_errors=True)

    base = rows[0][1]
    docker_in, docker_out = rows[5][1], rows[6][1]
    print(f"{args.size_mib} MiB, median of {args.runs} runs, page cache warm, sync before each run")
    print(f"{'method':<28} {'wall s':>8} {'x cp':>6} {'x docker cp':>12}")
    for label, secs in rows:
        versus = docker_in if "host -> ctr" in label or "copy_in" in label else docker_out
        vs_docker = f"{secs / versus:.2f}" if "docker" not in label and "(host -> host)" not in label else "-"
        print(f"{label:<28} {secs:>8.3f} {secs / base:>6.2f} {vs_docker:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
