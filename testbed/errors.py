"""Errors the testbed raises: one line saying what failed, plus evidence (stderr, the engine's log tail)."""

from __future__ import annotations

import subprocess


class TestbedError(RuntimeError):
    """The testbed could not do what was asked; the message names the engine and carries its log tail."""

    __test__ = False  # not a pytest test class, despite the name


class CommandError(TestbedError):
    """An engine command (docker, podman, ctr, lxc-*) exited non-zero."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        args = result.args if isinstance(result.args, list) else [str(result.args)]
        stderr = (result.stderr or "").strip() or (result.stdout or "").strip()
        super().__init__(f"`{' '.join(map(str, args))}` exited {result.returncode}: {stderr}")

    @property
    def returncode(self) -> int:
        return self.result.returncode

    @property
    def stderr(self) -> str:
        return self.result.stderr or ""
