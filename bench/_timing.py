"""What the command-line benchmarks share: the ctrlens to time, byte-compiled first, and median wall times."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path


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
    """The console script itself, not a version-manager shim in front of it."""
    script = Path(sys.executable).parent / "ctrlens"
    return [str(script) if script.exists() else shutil.which("ctrlens") or "ctrlens"]


def timed_call(fn: Callable[[], object], runs: int) -> float:
    """Median wall seconds of `runs` calls."""
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


def timed(cmd: list[str], runs: int, *, check: bool = True) -> float:
    """Median wall seconds of running `cmd`, output discarded."""
    return timed_call(
        lambda: subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=check), runs
    )
