"""Walks and copies against hostile tree shapes, side by side with `find` and `cp` (host fixture trees, no testbed).

    sudo python bench/walk_depth.py [--depths 100,1000,3000,10000] [--wide 100000] [--runs 3]

For each directory-chain depth (one directory per level, a file at the bottom) and for one wide tree (--wide
files, 500 per directory), it times (median of --runs) under `ulimit -n 1024`:
  find -P                   the floor: walks by path, one fd per level
  rootfs.walk               the walk `fs ls -R`, `fs cp -r`, tar and the LXC diff use (lstat + mount id per entry)
  rootfs.layerwalk          the walk of an overlay upper layer (`diff` on Docker/Podman/containerd)
  copy_out -r               `fs cp -r` of the tree to the host
with the most fds each held at once (the fd window keeps that flat whatever the depth), and a 1 TiB sparse file
copied by `copy_out` and by `cp --sparse=always`: seconds and bytes on disk.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from ctrlens.rootfs import ContainerRoot, copy_out  # noqa: E402
from ctrlens.rootfs.atomic import remove_tree_at  # noqa: E402
from ctrlens.rootfs.layerwalk import walk_layer  # noqa: E402
from ctrlens.rootfs.walk import walk  # noqa: E402


def make_chain(base: Path, depth: int) -> None:
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)


def make_wide(base: Path, files: int) -> None:
    for start in range(0, files, 500):
        d = base / f"d{start // 500}"
        d.mkdir()
        for i in range(min(500, files - start)):
            (d / f"f{i}").touch()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def timed(fn: Callable[[], int], runs: int) -> tuple[float, int]:
    """(median seconds, most fds open during a run) of fn."""
    samples, most = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        most = max(most, fn())
        samples.append(time.perf_counter() - t)
    samples.sort()
    return samples[len(samples) // 2], most


def run_walk(top: Path) -> int:
    most = 0
    with ContainerRoot.from_path(top) as root:
        for n, _ in enumerate(walk(root, "/")):
            if n % 512 == 0:
                most = max(most, open_fds())
    return most


def run_layerwalk(top: Path) -> int:
    fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    most = 0
    try:
        for n, _ in enumerate(walk_layer(fd)):
            if n % 512 == 0:
                most = max(most, open_fds())
    finally:
        os.close(fd)
    return most


def run_copy(top: Path, dest: Path) -> int:
    with ContainerRoot.from_path(top) as root:
        copy_out(root, "/d" if (top / "d").exists() else "/", dest / "copy", recursive=True)
    remove(dest / "copy")
    return 0


def remove(path: Path) -> None:
    if not path.exists():
        return
    fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        remove_tree_at(fd, os.fsencode(path.name), stay_on_mount=False)
    finally:
        os.close(fd)


def run_find(top: Path) -> int:
    done = subprocess.run(
        ["find", "-P", str(top)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    return -1 if done.returncode else 0


def row(label: str, secs: float, fds: int | str) -> None:
    print(f"  {label:<22} {secs:>9.3f} s   max fds {fds}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--depths", default="100,1000,3000,10000")
    ap.add_argument("--wide", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))
    work = Path(tempfile.mkdtemp(prefix="ctrlens-bench-walk-"))
    try:
        shapes: list[tuple[str, Callable[[Path], None]]] = [
            (f"chain of {d} levels", lambda p, d=int(d): make_chain(p, d)) for d in args.depths.split(",")
        ]
        shapes.append((f"{args.wide} files, 500 a directory", lambda p: make_wide(p, args.wide)))
        for label, make in shapes:
            tree, dest = work / "tree", work / "dest"
            tree.mkdir()
            dest.mkdir()
            make(tree)
            print(label)
            secs, status = timed(lambda tree=tree: run_find(tree), args.runs)
            row("find -P", secs, "n/a" if status == 0 else "(failed)")
            row("rootfs.walk", *timed(lambda tree=tree: run_walk(tree), args.runs))
            row("rootfs.layerwalk", *timed(lambda tree=tree: run_layerwalk(tree), args.runs))
            secs, _ = timed(lambda tree=tree, dest=dest: run_copy(tree, dest), 1)
            row("copy_out -r", secs, "(window)")
            remove(tree)
            remove(dest)
        sparse = work / "sparse"
        sparse.mkdir()
        with open(sparse / "tib", "wb") as f:
            f.truncate(1 << 40)
            f.seek(1 << 30)
            f.write(b"data")
        print("1 TiB sparse file, 4 bytes of data")
        (work / "out").mkdir()
        t = time.perf_counter()
        with ContainerRoot.from_path(sparse) as root:
            copy_out(root, "/tib", work / "out" / "ctrlens")
        row_disk = os.stat(work / "out" / "ctrlens").st_blocks * 512
        print(f"  {'copy_out':<22} {time.perf_counter() - t:>9.3f} s   {row_disk} bytes on disk")
        t = time.perf_counter()
        subprocess.run(["cp", "--sparse=always", str(sparse / "tib"), str(work / "out" / "cp")], check=True)
        disk = os.stat(work / "out" / "cp").st_blocks * 512
        print(f"  {'cp --sparse=always':<22} {time.perf_counter() - t:>9.3f} s   {disk} bytes on disk")
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        for name in ("tree", "dest"):
            remove(work / name)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
