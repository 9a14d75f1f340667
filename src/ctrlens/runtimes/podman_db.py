"""Podman's restart policy, restart count and labels, from its own database, without the socket.

Podman keeps them in its libpod database, never in the OCI bundle or the conmon command line:
- Podman 4 (BoltDB, `<storage root>/libpod/bolt_state.db`): bucket `ctr/<id>` holds `config` (JSON with
  `restart_policy`, `restart_retries`, `labels`) and `state` (JSON with `restartCount`).
- Podman 5 (SQLite, `<storage root>/db.sql`): tables ContainerConfig(ID, JSON) and ContainerState(ID, JSON),
  the same JSON documents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import metafile
from .boltdb import BoltDB

BOLT_PATH = "libpod/bolt_state.db"
SQLITE_PATH = "db.sql"


@dataclass(slots=True, frozen=True)
class PodmanRestart:
    policy: str  # "", no, always, on-failure, unless-stopped
    retries: int | None  # on-failure:N; None or 0 means no limit
    restart_count: int | None
    source: str
    labels: dict[str, str] = field(default_factory=dict)  # `podman run -l KEY=VALUE`


# path -> (mtime_ns, size, {container id: PodmanRestart}); the file is read again only when it changes.
_cache: dict[str, tuple[int, int, dict[str, PodmanRestart]]] = {}


def restart_info(
    storage_root_on_disk: str,
    container_id: str,
    *,
    shown_root: str | None = None,
    owners: frozenset[int] = metafile.ROOT_ONLY,
) -> PodmanRestart | None:
    """The restart settings of one container, or None when no database under this storage root knows it.

    `storage_root_on_disk` is where to read (host-root prefixed); `shown_root` is the host path to report as source.
    """
    for rel, reader in ((BOLT_PATH, _read_bolt), (SQLITE_PATH, _read_sqlite)):
        path = f"{storage_root_on_disk}/{rel}"
        try:
            st = os.stat(path)
        except OSError:
            continue
        cached = _cache.get(path)
        if st.st_uid not in owners:
            continue  # another user's database says nothing about these containers
        if cached is None or cached[:2] != (st.st_mtime_ns, st.st_size):
            source = f"{shown_root or storage_root_on_disk}/{rel}"
            try:
                table = reader(path, source, owners)
            except (OSError, ValueError, metafile.MetadataError):  # BoltError is a ValueError
                continue  # a torn read while podman writes, or another format: best effort
            cached = (st.st_mtime_ns, st.st_size, table)
            _cache[path] = cached
        found = cached[2].get(container_id)
        if found is not None:
            return found
    return None


def _entry(config: object, state: object, source: str) -> PodmanRestart | None:
    if not isinstance(config, dict):
        return None
    retries = config.get("restart_retries")
    count = state.get("restartCount") if isinstance(state, dict) else None
    return PodmanRestart(
        policy=str(config.get("restart_policy") or ""),
        retries=retries if isinstance(retries, int) else None,
        restart_count=count if isinstance(count, int) else (0 if isinstance(state, dict) else None),
        source=source,
        labels=metafile.str_dict(config.get("labels")),
    )


def _loads(raw: bytes | str | None) -> object:
    if raw is None:
        return None
    try:
        return metafile.parse_json(raw)
    except metafile.MetadataError:
        return None


def _read_bolt(path: str, source: str, owners: frozenset[int]) -> dict[str, PodmanRestart]:
    data = metafile.read_bytes(path, owners, metafile.DB_CAP)
    if data is None:
        return {}
    db = BoltDB(data)
    table: dict[str, PodmanRestart] = {}
    ctrs = db.bucket(b"ctr")
    if ctrs is None:
        return table
    for cid, bucket in ctrs.buckets():
        entry = _entry(_loads(bucket.get(b"config")), _loads(bucket.get(b"state")), source)
        if entry is not None:
            table[cid.decode("ascii", "replace")] = entry
    return table


def _read_sqlite(path: str, source: str, owners: frozenset[int]) -> dict[str, PodmanRestart]:
    import sqlite3  # only Podman 5 hosts need it; keep it out of every start-up

    with metafile.open_checked(path, owners, metafile.DB_CAP) as fd:
        if fd is None:
            return {}
    # By path, not by fd: SQLite finds the database's -wal file next to it (Podman 5 writes in WAL mode).
    return _query_sqlite(sqlite3, path, source)


def _query_sqlite(sqlite3: Any, path: str, source: str) -> dict[str, PodmanRestart]:
    # Read-only: never create a journal next to podman's database.
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1.0)
        try:
            states = dict(conn.execute("SELECT ID, JSON FROM ContainerState"))
            table: dict[str, PodmanRestart] = {}
            for cid, config in conn.execute("SELECT ID, JSON FROM ContainerConfig"):
                entry = _entry(_loads(config), _loads(states.get(cid)), source)
                if entry is not None:
                    table[cid] = entry
            return table
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise ValueError(f"podman database {source}: {exc}") from None
