"""Signal names and numbers, and what one signal will do to one process given its /proc/PID/status masks.

A namespace's init is special (pid_namespaces(7)): from an ancestor namespace only SIGKILL and SIGSTOP are
forced on it; any other signal reaches it only if it installed a handler, else the kernel drops it. That is why
`kill <container init>` with the default SIGTERM so often does nothing to a container running `sleep`.
"""

from __future__ import annotations

import signal

from ..errors import UsageError

# What the kernel does by default (signal(7)); everything not listed terminates the process.
_DEFAULT_IGNORE = {signal.SIGCHLD, signal.SIGURG, signal.SIGWINCH}
_DEFAULT_STOP = {signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU}
_UNCATCHABLE = {signal.SIGKILL, signal.SIGSTOP}

# Effects, as plain strings (they end up in JSON).
TERMINATES = "terminates"  # the process dies of it
STOPS = "stops"  # the process is frozen (SIGSTOP-like), not ended
CONTINUES = "continues"  # SIGCONT resumes a stopped process
CAUGHT = "caught"  # a handler runs: the process decides what happens
BLOCKED = "blocked"  # blocked or waited for (sigwait, signalfd): queued, the process decides when it acts
IGNORED = "ignored"  # SIG_IGN, or a signal whose default is to do nothing
DROPPED = "dropped"  # namespace init without a handler: the kernel discards it
PROBE = "probe"  # signal 0: only checks that the process exists


def parse_signal(text: str) -> int:
    """`TERM`, `SIGTERM`, `sigterm`, `15`, `RTMIN+2` -> signal number; UsageError for anything else."""
    raw = text.strip()
    if raw.isdigit():
        number = int(raw)
        if number == 0 or number in _valid_numbers():
            return number
        raise UsageError(
            f"no signal number {number} on this system (valid: 0-{signal.SIGRTMAX}; `kill -l` lists them)"
        )
    name = raw.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    for base in ("SIGRTMIN", "SIGRTMAX"):
        if name.startswith(base) and name != base:
            offset = name[len(base) :]
            if offset[:1] in "+-" and offset[1:].isdigit():
                number = int(getattr(signal, base)) + int(offset)
                if signal.SIGRTMIN <= number <= signal.SIGRTMAX:
                    return number
    value = getattr(signal, name, None)
    if isinstance(value, signal.Signals):
        return int(value)
    raise UsageError(
        f"unknown signal {text!r}: give a name such as TERM, KILL, HUP, INT, USR1, STOP, CONT or a number "
        "(`kill -l` lists them)"
    )


def _valid_numbers() -> set[int]:
    return set(range(1, int(signal.SIGRTMAX) + 1)) & ({int(s) for s in signal.valid_signals()})


def signal_name(sig: int) -> str:
    if sig == 0:
        return "signal 0"
    try:
        return signal.Signals(sig).name
    except ValueError:
        if signal.SIGRTMIN < sig < signal.SIGRTMAX:
            return f"SIGRTMIN+{sig - signal.SIGRTMIN}"
        return f"signal {sig}"


def exit_code_after(sig: int) -> int:
    """The exit code runtimes record for a process killed by `sig` (Docker shows 137 for SIGKILL)."""
    return 128 + sig


def _has(mask: int, sig: int) -> bool:
    return bool(mask >> (sig - 1) & 1)


def effect_of(
    sig: int, caught_mask: int, ignored_mask: int, *, namespace_init: bool, blocked_mask: int = 0
) -> str:
    """What `sig` sent from the host does to a process with these SigCgt / SigIgn / SigBlk masks.

    `blocked_mask` should include the set a process waits for in sigtimedwait: the kernel queues a blocked
    signal even for a namespace init (a blocked signal is never "ignored", signal.c: sig_ignored)."""
    if sig == 0:
        return PROBE
    if sig in _UNCATCHABLE:
        return TERMINATES if sig == signal.SIGKILL else STOPS
    if sig == signal.SIGCONT:
        return CONTINUES  # the kernel resumes a stopped process before any handler or init rule applies
    if _has(caught_mask, sig):
        return CAUGHT
    if _has(blocked_mask, sig):
        return BLOCKED
    if _has(ignored_mask, sig):
        return IGNORED
    if namespace_init:
        return DROPPED
    if sig in _DEFAULT_IGNORE:
        return IGNORED
    if sig in _DEFAULT_STOP:
        return STOPS
    return TERMINATES


def describe_effect(effect: str, sig: int) -> str:
    """A few words: what `sig` does to one process (the plan's summary says what follows for the container)."""
    name = signal_name(sig)
    return {
        TERMINATES: f"{name} ends it",
        STOPS: f"{name} stops (freezes) it; it does not end",
        CONTINUES: f"{name} resumes it if it was stopped",
        CAUGHT: f"it has a handler for {name}: the program decides",
        BLOCKED: f"it blocks {name} or waits for it (sigwait, signalfd): the program decides",
        IGNORED: f"it ignores {name}",
        DROPPED: f"{name} is dropped by the kernel (a namespace init with no handler for it)",
        PROBE: "signal 0 only checks that it exists",
    }[effect]
