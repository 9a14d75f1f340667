"""containerd's container labels, from its metadata database `<root>/io.containerd.metadata.v1.bolt/meta.db`.

Labels carry what containerd's restart monitor acts on (`containerd.io/restart.status`, `…restart.policy`, set by
`nerdctl run --restart` or `ctr run --label`). Layout: bucket `v1/<namespace>/containers/<id>/labels`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..host import Host
from ..model import Process
from . import metafile
from .boltdb import BoltDB, BoltError
from .context import option_value, toml_string
from .executables import is_engine_daemon

META_DB = "io.containerd.metadata.v1.bolt/meta.db"
DEFAULT_ROOTS = ("/var/lib/containerd", "/var/lib/rancher/k3s/agent/containerd")

_cache: dict[str, tuple[int, int, BoltDB]] = {}


def containerd_roots(processes: dict[int, Process], host: Host) -> list[str]:
    """containerd's --root (or `root =` in its --config), for every containerd running, then the defaults."""
    roots: list[str] = []
    for proc in processes.values():
        if not proc.cmdline or not is_engine_daemon(proc, "containerd"):
            continue
        root = option_value(proc.cmdline, "--root") or toml_string(
            option_value(proc.cmdline, "--config", "-c"), "root", host
        )
        if root and root not in roots:
            roots.append(root)
    roots.extend(r for r in DEFAULT_ROOTS if r not in roots)
    return roots


@dataclass(slots=True, frozen=True)
class ContainerRecord:
    """What containerd's metadata store holds for one container (`ctr container info` shows the same)."""

    labels: dict[str, str]
    image: str | None
    source: str  # the meta.db path


def container_labels(
    host: Host, roots: list[str], namespace: str, container_id: str
) -> tuple[dict[str, str], str] | None:
    """(labels, the meta.db path they came from) or None when no metadata database knows the container."""
    record = container_record(host, roots, namespace, container_id)
    return (record.labels, record.source) if record is not None else None


def container_record(
    host: Host, roots: list[str], namespace: str, container_id: str
) -> ContainerRecord | None:
    """The container's labels and image from the first metadata database that knows it."""
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
            image = bucket.get(b"image")
            return ContainerRecord(found, image.decode(errors="replace") if image else None, path)
        except (BoltError, ValueError):
            continue
    return None


def _open(path: str) -> BoltDB | None:
    """The database when it is root's regular file under the size cap (metafile checks), else None."""
    try:
        st = os.stat(path)
        cached = _cache.get(path)
        if cached is not None and cached[:2] == (st.st_mtime_ns, st.st_size):
            return cached[2]
        data = metafile.read_bytes(path, metafile.ROOT_ONLY, metafile.DB_CAP)
        if data is None:
            return None
        db = BoltDB(data)
    except (OSError, BoltError, ValueError, metafile.MetadataError):
        return None
    _cache[path] = (st.st_mtime_ns, st.st_size, db)
    return db
