"""The one safe way into a container's filesystem from the host (host-facts §1, §2, §7).

    from ctrlens.rootfs import ContainerRoot, walk, write_file
    with ContainerRoot.from_pid(pid, label="web (docker 3f2a…)") as root:
        data = root.read_bytes("/etc/os-release")          # devices, FIFOs, /proc files refused
        for entry in root.listdir("/etc"): ...            # lstat'ed Entry objects, mount points marked
        for step in walk(root, "/var/log"): ...           # fd-relative, symlinked dirs never entered
    with ContainerRoot.from_path(upperdir) as layer: ...  # any host directory as a root (overlay upperdir)

Resolution: openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS), retried on EAGAIN; the userspace walker in
`fallback` where openat2 is missing or denied ($CTRLENS_RESOLVER=walk forces it).
"""

from .atomic import CREATED, OVERWRITTEN, REPLACED, FileWriter, Meta
from .copyin import copy_in
from .copyout import copy_out
from .edit import EditSession, Fingerprint
from .entry import Entry, kind_of
from .errors import ContainerStopped, PathNotFound, RootfsError, UnsafeFile, WriteConflict
from .ids import Accounts, IdMap
from .report import CopyReport
from .resolve import Openat2Resolver, Resolver, WalkResolver, default_resolver
from .root import ContainerRoot, cpath, show
from .tario import read_tar, write_tar
from .walk import ENTER, ITEM, LEAVE, Step, relative, walk
from .write import Change, Owner, make_dirs, remove, set_metadata, touch, write_file

__all__ = [
    "CREATED",
    "ENTER",
    "ITEM",
    "LEAVE",
    "OVERWRITTEN",
    "REPLACED",
    "Accounts",
    "Change",
    "ContainerRoot",
    "ContainerStopped",
    "CopyReport",
    "EditSession",
    "Entry",
    "FileWriter",
    "Fingerprint",
    "IdMap",
    "Meta",
    "Openat2Resolver",
    "Owner",
    "PathNotFound",
    "Resolver",
    "RootfsError",
    "Step",
    "UnsafeFile",
    "WalkResolver",
    "WriteConflict",
    "copy_in",
    "copy_out",
    "cpath",
    "default_resolver",
    "kind_of",
    "make_dirs",
    "read_tar",
    "relative",
    "remove",
    "set_metadata",
    "show",
    "touch",
    "walk",
    "write_file",
    "write_tar",
]
