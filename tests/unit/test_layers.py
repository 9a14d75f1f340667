"""The layering holds where import-linter cannot look: what a light command loads at run time, and who names
the passwd/group files. (The import contracts themselves are in pyproject.toml, run by `lint-imports`.)"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "ctrlens"
FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "proc" / "testbed-real"
HEAVY = ("textual", "rich", "prometheus_client", "detect_secrets")

# Runs one CLI invocation in a fresh interpreter, then reports which heavy libraries it loaded.
PROBE = f"""
import contextlib, io, json, sys
from ctrlens.cli import main
out = io.StringIO()
code = 0
with contextlib.redirect_stdout(out):
    try:
        code = main(sys.argv[1:])
    except SystemExit as exc:
        code = exc.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {set(HEAVY)!r})
print(json.dumps({{"code": code, "heavy": heavy, "out": out.getvalue()[:200]}}))
"""


def _loaded_by(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=60, check=True
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "argv",
    [
        ("--version",),
        ("--host-root", str(FIXTURE_ROOT), "ps", "-o", "json"),
        ("--host-root", str(FIXTURE_ROOT), "containers", "-o", "json"),
        ("--host-root", str(FIXTURE_ROOT), "containers"),
    ],
    ids=["version", "ps-json", "containers-json", "containers-table"],
)
def test_light_commands_import_no_heavy_library(argv: tuple[str, ...]) -> None:
    result = _loaded_by(*argv)
    assert result["code"] in (0, None), result
    assert result["out"], "the command printed nothing: the probe did not run it"
    assert result["heavy"] == [], f"{' '.join(argv)} imported {result['heavy']}"


def _string_constants(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_bytes())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            value = node.value.decode() if isinstance(node.value, bytes) else node.value
            found.add(value.strip())
    return found


ACCOUNT_FILES = {"/etc/passwd", "/etc/group", "etc/passwd", "etc/group"}
# The container's own files, read through the safe root (`rootfs`), parsed by `ctrlens.accounts`.
CONTAINER_ACCOUNTS_READER = SRC / "rootfs" / "root.py"


def test_only_the_accounts_module_opens_passwd_and_group() -> None:
    naming = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p not in (SRC / "accounts.py", CONTAINER_ACCOUNTS_READER) and _string_constants(p) & ACCOUNT_FILES
    )
    assert naming == []
    assert (
        _string_constants(SRC / "accounts.py") & ACCOUNT_FILES
    )  # the check can see a path when there is one


_LOADS_LIBC = re.compile(r"^\s*(import|from)\s+ctypes\b|\bCDLL\(|\bcdll\.", re.MULTILINE)


def test_only_the_kernel_layer_loads_libc() -> None:
    # import-linter checks `import ctypes`; this also catches ctypes reached through importlib or __import__.
    outside = sorted(
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "linux" not in p.relative_to(SRC).parts
        and ({"ctypes", "libc.so.6"} & _string_constants(p) or _LOADS_LIBC.search(p.read_text()))
    )
    assert outside == []
