"""Podman: `libpod-<id>[.scope]` payloads, `libpod-conmon-<id>.scope` monitors; names from conmon and containers.json."""

from __future__ import annotations

from ..host import Host
from ..model import Container, RestartPolicy, Snapshot
from .base import PODMAN, CgroupMatch, is_hex64, strip_suffix
from .context import MetaContext, normalize_time, owners_of
from .metafile import MetadataError, parse_json, str_dict, text_or_none
from .plugin import DiffConvention, FixDialect, RuntimePlugin
from .podman_db import restart_info
from .restart_rules import RestartForecast, policy_rules

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
    owners = owners_of(container)
    for root in storage_roots(container, meta):
        listing = meta.read_json(f"{root}/overlay-containers/containers.json", owners)
        if not isinstance(listing, list):
            continue
        for entry in listing:
            if not isinstance(entry, dict) or entry.get("id") != container.id:
                continue
            container.metadata_files.append(f"{root}/overlay-containers/containers.json")
            names = entry.get("names")
            first = names[0] if isinstance(names, list) and names else None
            container.name = container.name or text_or_none(first)
            container.created = normalize_time(text_or_none(entry.get("created"))) or container.created
            extra = _metadata_field(entry.get("metadata"))
            container.image = text_or_none(extra.get("image-name")) or container.image
            container.name = container.name or text_or_none(extra.get("name"))
            break
        bundle = container.bundle or f"{root}/overlay-containers/{container.id}/userdata"
        spec = meta.read_json(f"{bundle}/config.json", owners)
        if isinstance(spec, dict):
            container.bundle = bundle
            container.metadata_files.append(f"{bundle}/config.json")
            container.annotations.update(str_dict(spec.get("annotations")))
        _libpod_database(container, meta, root, owners)
        if container.metadata_files:
            return


def _metadata_field(raw: object) -> dict[str, object]:
    """containers.json's `metadata` is JSON inside a JSON string: parsed with the same limits."""
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        value = parse_json(raw, "containers.json metadata")
    except MetadataError:
        return {}
    return value if isinstance(value, dict) else {}


def _libpod_database(container: Container, meta: MetaContext, root: str, owners: frozenset[int]) -> None:
    """Restart policy and labels live only in Podman's libpod database (runtimes/podman_db.py)."""
    if container.restart_policy is not None:
        return
    found = restart_info(meta.host.path(root), container.id, shown_root=root, owners=owners)
    if found is not None:
        container.restart_policy = RestartPolicy(
            name=found.policy or "no",
            max_retries=found.retries,
            restart_count=found.restart_count,
            source=found.source,
        )
        container.labels.update(found.labels)
        container.metadata_files.append(found.source)


def _conmon_exit_command(container: Container, snapshot: Snapshot) -> int | None:
    """conmon runs `podman container cleanup` (which applies the policy) only when given --exit-command."""
    shim = snapshot.processes.get(container.shim_pid) if container.shim_pid else None
    if shim is not None and "--exit-command" in shim.cmdline:
        return shim.pid
    return None


def forecast_restart(
    container: Container, snapshot: Snapshot, exit_code: int | None, host: Host
) -> RestartForecast:
    """Docker's policy names and rules, applied by `podman container cleanup`, which conmon runs on exit."""
    return policy_rules(
        container.restart_policy,
        exit_code,
        daemon=_conmon_exit_command(container, snapshot),
        by="conmon (podman container cleanup)",
        what="Podman",
    )


PLUGINS = (RuntimePlugin(PODMAN, RULES, enrich, forecast_restart, DiffConvention.PODMAN, FixDialect.PODMAN),)
