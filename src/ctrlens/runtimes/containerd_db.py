"""containerd's container labels, from its metadata database `<root>/io.containerd.metadata.v1.bolt/meta.db`.

Labels carry what containerd's restart monitor acts on (`containerd.io/restart.status`, `…restart.policy`, set by
`nerdctl run --restart` or `ctr run --label`). Layout: bucket `v1/<namespace>/containers/<id>/labels`.
"""

from __future__ import annotations

import os
import tomllib

from ..host import Host
from ..model import Process
from .boltdb import BoltDB, BoltError
from .context import option_value

META_DB = "io.containerd.metadata.v1.bolt/meta.db"
DEFAULT_ROOTS = ("/var/lib/containerd", "/var/lib/rancher/k3s/agent/containerd")

_cache: dict[str, tuple[int, int, BoltDB]] = {}


def containerd_roots(processes: dict[int, Process], host: Host) -> list[str]:
    """containerd's --root (or `root =` in its --config), for every containerd running, then the defaults."""
    roots: list[str] = []
    for proc in processes.values():
        if not proc.cmdline or os.path.basename(proc.cmdline[0]) != "containerd":
            continue
        root = option_value(proc.cmdline, "--root") or _toml_root(
            option_value(proc.cmdline, "--config", "-c"), host
        )
        if root and root not in roots:
            roots.append(root)
    roots.extend(r for r in DEFAULT_ROOTS if r not in roots)
    return roots


def _toml_root(config: str | None, host: Host) -> str | None:
    if not config:
        return None
    try:
        with open(host.path(config), "rb") as f:
            root = tomllib.load(f).get("root")
        return root if isinstance(root, str) else None
    except (OSError, ValueError):
        return None


def container_labels(
    host: Host, roots: list[str], namespace: str, container_id: str
) -> tuple[dict[str, str], str] | None:
    """(labels, the meta.db path they came from) or None when no metadata database knows the container."""
    for root in roots:
        path = f"{root}/{META_DB}"
        db = _open(host.path(path))
        if db is None:
            continue
        try:
            bucket = db.bucket(b"v1", namespace.encode(), b"containers", container_id.encode())
            if bucket is None:
                continue
            labels = bucket.bucket(b"labels")
            found = {
                k.decode(errors="replace"): v.decode(errors="replace")
                for k, v, sub in (labels.items() if labels else ())
                if not sub
            }
            return found, path
        except (BoltError, ValueError):
            continue
    return None


def _open(path: str) -> BoltDB | None:
    try:
        st = os.stat(path)
        cached = _cache.get(path)
        if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        db = BoltDB.open(path)
    except (OSError, BoltError, ValueError):
        return None
    _cache[path] = (st.st_mtime_ns, st.st_size, db)
    return db
