"""bpf(2), the one command ctrlens needs: BPF_PROG_QUERY on a cgroup (root only)."""

from __future__ import annotations

import ctypes
import platform
import struct

from ._libc import libc

# bpf has no number shared by all architectures (it predates the unified table).
_BPF_SYSCALL = {"x86_64": 321, "aarch64": 280, "armv7l": 386, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_BPF_PROG_QUERY = 16
BPF_CGROUP_DEVICE = 6
BPF_F_QUERY_EFFECTIVE = 1


def attached_program_count(cgroup_fd: int, attach_type: int, query_flags: int = 0) -> int | None:
    """How many programs of `attach_type` apply to the cgroup directory open at `cgroup_fd`; None when the
    kernel refuses (not root, no bpf syscall, not a cgroup v2 directory, unknown architecture)."""
    number = _BPF_SYSCALL.get(platform.machine())
    if number is None:
        return None
    # union bpf_attr, query: target_fd, attach_type, query_flags, attach_flags, prog_ids (u64), prog_cnt.
    attr = ctypes.create_string_buffer(
        struct.pack("=IIIIQI", cgroup_fd, attach_type, query_flags, 0, 0, 0), 128
    )
    if libc.syscall(number, _BPF_PROG_QUERY, attr, ctypes.c_uint(128)) != 0:
        return None
    count: int = struct.unpack_from("=I", attr.raw, 24)[0]
    return count
