"""Podman: `libpod-<id>[.scope]` payloads, `libpod-conmon-<id>.scope` monitors; names from conmon and containers.json."""

from __future__ import annotations

import json

from ..model import Container, RestartPolicy
from .base import PODMAN, CgroupMatch, is_hex64, strip_suffix
from .context import MetaContext, normalize_time
from .podman_db import restart_info

NAME = PODMAN


def match_libpod(parts: list[str], i: int) -> CgroupMatch | None:
    comp = parts[i]
    if not comp.startswith("libpod-"):
        return None
    rest = comp[len("libpod-") :]
    shim = rest.startswith("conmon-")
    if shim:
        rest = rest[len("conmon-") :]
    elif rest.startswith("payload-"):  # podman's "split" cgroup mode
        rest = rest[len("payload-") :]
    cid = strip_suffix(rest, ".scope") or rest
    if is_hex64(cid):
        rule = (
            "libpod-conmon-<id>.scope"
            if shim
            else ("libpod-<id>.scope" if comp.endswith(".scope") else "/libpod_parent/libpod-<id>")
        )
        return CgroupMatch(PODMAN, cid, "", rule, shim=shim)
    return None


RULES = (match_libpod,)


def storage_roots(container: Container, meta: MetaContext) -> list[str]:
    roots = []
    if container.bundle and "/overlay-containers/" in container.bundle:
        roots.append(container.bundle.split("/overlay-containers/")[0])
    roots.extend(r for r in meta.dirs.containers_storage if r not in roots)
    return roots


def enrich(container: Container, meta: MetaContext) -> None:
    for root in storage_roots(container, meta):
        listing = meta.read_json(f"{root}/overlay-containers/containers.json")
        if not isinstance(listing, list):
            continue
        for entry in listing:
            if not isinstance(entry, dict) or entry.get("id") != container.id:
                continue
            container.metadata_files.append(f"{root}/overlay-containers/containers.json")
            names = entry.get("names") or []
            container.name = container.name or (names[0] if names else None)
            container.created = normalize_time(entry.get("created")) or container.created
            try:
                extra = json.loads(entry.get("metadata") or "{}")
            except ValueError:
                extra = {}
            container.image = extra.get("image-name") or container.image
            container.name = container.name or extra.get("name")
            break
        bundle = container.bundle or f"{root}/overlay-containers/{container.id}/userdata"
        spec = meta.read_json(f"{bundle}/config.json")
        if isinstance(spec, dict):
            container.bundle = bundle
            container.metadata_files.append(f"{bundle}/config.json")
            container.annotations.update(spec.get("annotations") or {})
        _restart_policy(container, meta, root)
        if container.metadata_files:
            return


def _restart_policy(container: Container, meta: MetaContext, root: str) -> None:
    """Podman's restart policy lives only in its libpod database (runtimes/podman_db.py)."""
    if container.restart_policy is not None:
        return
    found = restart_info(meta.host.path(root), container.id, shown_root=root)
    if found is not None:
        container.restart_policy = RestartPolicy(
            name=found.policy or "no",
            max_retries=found.retries,
            restart_count=found.restart_count,
            source=found.source,
        )
        container.metadata_files.append(found.source)
