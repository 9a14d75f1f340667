"""The kernel layer: every syscall Python's `os` lacks, and the only place ctypes and libc are used.

- `fs`: openat2(2), statx(2) mount ids, fstatfs(2) magic, renameat2(RENAME_NOREPLACE), fchownat(AT_EMPTY_PATH).
- `process`: setns(2), unshare(2), the pidfd exit-status ioctl, wait-status text.
- `bpf`: bpf(BPF_PROG_QUERY) for the device programs attached to a cgroup v2 directory.

Calls `os` has (pidfd_open, pidfd_send_signal, copy_file_range…) are used from `os` where they are needed.
"""
