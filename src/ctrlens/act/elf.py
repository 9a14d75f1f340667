"""What kind of program a host file is, and where the host keeps its shared libraries.

Inside a container's mount namespace a host program's dynamic loader and libraries are not where its ELF
header says (PT_INTERP is an absolute path, looked up in the current root), so `exec` needs to know.
"""

from __future__ import annotations

import glob
import os
import struct

STATIC = "static"  # ELF without PT_INTERP: runs anywhere
DYNAMIC = "dynamic"  # ELF with a loader (PT_INTERP)
SCRIPT = "script"  # #! interpreter
OTHER = "other"

PT_INTERP = 3
DEFAULT_LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib")


def program_kind(fd: int) -> tuple[str, str | None]:
    """(kind, interpreter path) of the open file `fd`."""
    head = os.pread(fd, 64, 0)
    if head.startswith(b"#!"):
        line = os.pread(fd, 256, 0).split(b"\n", 1)[0][2:].strip()
        return SCRIPT, line.split()[0].decode(errors="replace") if line else None
    if len(head) < 52 or head[:4] != b"\x7fELF":
        return OTHER, None
    is64 = head[4] == 2
    end = "<" if head[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(end + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(end + "HH", head, 54)
    else:
        (phoff,) = struct.unpack_from(end + "I", head, 28)
        phentsize, phnum = struct.unpack_from(end + "HH", head, 42)
    table = os.pread(fd, phentsize * phnum, phoff)
    for i in range(phnum):
        entry = table[i * phentsize : (i + 1) * phentsize]
        if len(entry) < phentsize:
            break
        (p_type,) = struct.unpack_from(end + "I", entry, 0)
        if p_type != PT_INTERP:
            continue
        if is64:
            (offset,) = struct.unpack_from(end + "Q", entry, 8)
            (size,) = struct.unpack_from(end + "Q", entry, 32)
        else:
            (offset,) = struct.unpack_from(end + "I", entry, 4)
            (size,) = struct.unpack_from(end + "I", entry, 16)
        interp = os.pread(fd, min(size, 4096), offset).split(b"\0", 1)[0]
        return DYNAMIC, interp.decode(errors="replace")
    return STATIC, None


def host_library_dirs(loader: str | None = None, conf: str = "/etc/ld.so.conf") -> list[str]:
    """Directories the host's loader searches: ld.so.conf (with its includes), the loader's own, the defaults;
    each resolved to its real path on the host (the symlinks would resolve in the container's root)."""
    dirs: list[str] = []
    _read_conf(conf, dirs, depth=0)
    if loader:
        dirs.append(os.path.dirname(os.path.realpath(loader)))
    dirs.extend(DEFAULT_LIB_DIRS)
    seen: list[str] = []
    for d in dirs:
        real = os.path.realpath(d)
        if os.path.isdir(real) and real not in seen:
            seen.append(real)
    return seen


def _read_conf(path: str, dirs: list[str], depth: int) -> None:
    if depth > 8:
        return
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include "):
            pattern = line.split(None, 1)[1]
            if not pattern.startswith("/"):
                pattern = os.path.join(os.path.dirname(path), pattern)
            for inc in sorted(glob.glob(pattern)):
                _read_conf(inc, dirs, depth + 1)
        elif line.startswith("/"):
            dirs.append(line)
