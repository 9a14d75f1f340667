"""How a live process treats signals: its status masks, read through its ProcHandle, plus the set it waits for.

SigBlk alone misses a process blocked in rt_sigtimedwait (busybox init works that way, with no handlers): while it
waits, the waited set is out of `blocked` (it is in `real_blocked`, which /proc does not show). That set is read
from the syscall's first argument (/proc/PID/syscall) in the process's memory (/proc/PID/mem, root only).
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass

from ..errors import PermissionDenied, ProcessGone
from ..procfs import ProcHandle, status_ids

# rt_sigtimedwait per architecture: a process blocked in it waits for the set its first argument points to.
_SIGTIMEDWAIT = {
    "x86_64": 128,
    "aarch64": 137,
    "riscv64": 137,
    "i686": 177,
    "i386": 177,
    "armv7l": 177,
    "ppc64le": 176,
    "s390x": 177,
}


def _blocked_mask(handle: ProcHandle, status: dict[str, str]) -> int:
    """SigBlk, plus what the process waits for in sigtimedwait (busybox init does: it has no handlers)."""
    mask = int(status.get("SigBlk", "0"), 16)
    number = _SIGTIMEDWAIT.get(platform.machine())
    try:
        fields = handle.read("syscall").split()
        if number is not None and len(fields) > 1 and fields[0] == str(number).encode():
            raw = handle.read_at("mem", int(fields[1], 16), 8)
            if len(raw) == 8:
                mask |= int.from_bytes(raw, sys.byteorder)
    except (ProcessGone, PermissionDenied, OSError, ValueError):
        pass  # not stopped in a syscall, or not readable: SigBlk alone
    return mask


@dataclass(slots=True, frozen=True)
class Disposition:
    caught: int  # SigCgt
    ignored: int  # SigIgn
    blocked: int  # SigBlk | the sigtimedwait set
    namespace_init: bool  # PID 1 of a PID namespace other than the caller's


def disposition(handle: ProcHandle, status: dict[str, str]) -> Disposition:
    nspid = status_ids(status["NSpid"]) if status.get("NSpid") else ()
    return Disposition(
        caught=int(status.get("SigCgt", "0"), 16),
        ignored=int(status.get("SigIgn", "0"), 16),
        blocked=_blocked_mask(handle, status),
        namespace_init=len(nspid) > 1 and nspid[-1] == 1,
    )
