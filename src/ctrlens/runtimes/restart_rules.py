"""Restart forecasts, the part every runtime shares: verdicts, the forecast record, Docker's policy rules.

Each runtime module says what brings its containers back (`Runtime.forecast_restart`); `act.restart` picks the
runtime's plugin. Docker, Podman and containerd's restart monitor share moby's policy names and rules
(restartmanager.ShouldRestart), applied here once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..model import RestartPolicy, Snapshot
from .executables import is_engine_daemon


class Verdict(StrEnum):
    YES = "yes"
    NO = "no"
    MAYBE = "maybe"  # depends on what the program does with the signal, or on settings the host does not show
    UNKNOWN = "unknown"


YES = Verdict.YES
NO = Verdict.NO
MAYBE = Verdict.MAYBE
UNKNOWN = Verdict.UNKNOWN


@dataclass(slots=True)
class RestartForecast:
    """Will the container come back, who does it, and why we think so."""

    verdict: Verdict
    reason: str  # one sentence for the user
    by: str | None = None  # dockerd, conmon, kubelet, containerd restart monitor
    policy: RestartPolicy | None = None
    sources: list[str] = field(default_factory=list)  # files read

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "reason": self.reason,
            "by": self.by,
            "policy": self.policy.to_dict() if self.policy else None,
            "sources": list(self.sources),
        }


def engine_daemon(snapshot: Snapshot, name: str) -> int | None:
    """The pid of root's `name` daemon, proven by its executable (a user's script called dockerd is not one)."""
    for proc in snapshot.processes.values():
        if is_engine_daemon(proc, name):
            return proc.pid
    return None


def policy_rules(
    policy: RestartPolicy | None, exit_code: int | None, *, daemon: int | None, by: str, what: str
) -> RestartForecast:
    """Docker's and Podman's shared policy names: no, always, unless-stopped, on-failure[:N]."""
    sources = [policy.source] if policy and policy.source else []
    if policy is None:
        return RestartForecast(
            UNKNOWN, f"{what}'s restart policy could not be read (not root, or its files moved)"
        )
    name = policy.name or "no"
    if name == "no":
        return RestartForecast(NO, f"restart policy 'no': {what} leaves it stopped", by, policy, sources)
    if daemon is None:
        missing = "dockerd is not running" if by == "dockerd" else "its conmon has no exit command"
        return RestartForecast(
            NO, f"restart policy '{name}', but {missing}: nothing will restart it now", by, policy, sources
        )
    if name == "always":
        return RestartForecast(YES, f"restart policy 'always': {by} starts it again", by, policy, sources)
    if name == "unless-stopped":
        return RestartForecast(
            YES,
            f"restart policy 'unless-stopped': {by} starts it again (a kill from the host is not a "
            f"`{what.lower()} stop`)",
            by,
            policy,
            sources,
        )
    if name == "on-failure":
        limit = policy.max_retries or 0
        count = policy.restart_count or 0
        shown = f"on-failure:{limit}" if limit else "on-failure"
        so_far = f"restarted {count} of {limit} times so far" if limit else f"restarted {count} times so far"
        if limit and count >= limit:
            return RestartForecast(
                NO, f"restart policy '{shown}' and {so_far}: the limit is reached", by, policy, sources
            )
        if exit_code is None:
            return RestartForecast(
                MAYBE,
                f"restart policy '{shown}' ({so_far}): it restarts only if the program exits with a "
                "non-zero code, and it handles this signal itself",
                by,
                policy,
                sources,
            )
        if exit_code == 0:
            return RestartForecast(NO, f"restart policy '{shown}' and exit code 0", by, policy, sources)
        return RestartForecast(
            YES,
            f"restart policy '{shown}' ({so_far}): exit code {exit_code} counts as a failure",
            by,
            policy,
            sources,
        )
    return RestartForecast(UNKNOWN, f"unrecognised restart policy {name!r}", by, policy, sources)
