"""Errors with a meaning. The CLI turns each into one line on stderr and a documented exit code."""

from __future__ import annotations

# Exit codes (documented in docs/cli.md).
EXIT_OK = 0
EXIT_FINDINGS = 1  # --fail-on matched
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_FAILED = 4  # the operation was refused or failed (unsafe file, vanished container, I/O error)
EXIT_PERMISSION = 5


class CtrlensError(Exception):
    """An error the user should see as one line; `exit_code` says how the process ends."""

    exit_code = EXIT_FAILED


class UsageError(CtrlensError):
    exit_code = EXIT_USAGE


class NotFound(CtrlensError):
    exit_code = EXIT_NOT_FOUND


class AmbiguousRef(CtrlensError):
    exit_code = EXIT_USAGE


class PermissionDenied(CtrlensError):
    exit_code = EXIT_PERMISSION


class ProcessGone(CtrlensError):
    """The process (or the container it belonged to) exited: normal during a scan, an error for an action."""

    exit_code = EXIT_NOT_FOUND
