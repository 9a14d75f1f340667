"""Which sources a collection runs: the exporter's own, then the features' (audit, secrets, drift) when present.

A feature package that cannot be imported (not installed, or its optional dependency missing) leaves its
metrics out; `missing` says which, so `serve` can say so once at start.
"""

from __future__ import annotations

from ..host import Host
from .sources import CgroupSource, PostureSource, Source


def default_sources(
    host: Host, skip: set[str] | None = None, missing: list[str] | None = None
) -> list[Source]:
    skip = skip or set()
    missing = missing if missing is not None else []
    features: list[Source] = []
    for stage in ("audit", "secrets", "drift"):
        if stage in skip:
            continue
        try:
            features.append(_feature(stage, host))
        except ImportError as exc:
            missing.append(f"{stage} ({exc.name or exc})")
    has_audit = any(s.stage == "audit" for s in features)
    sources: list[Source] = []
    if "cgroup" not in skip:
        sources.append(
            CgroupSource(host, limit_flags=not has_audit)
        )  # audit judges limits with parents in view
    if "posture" not in skip:
        sources.append(PostureSource(host))
    return sources + features


def _feature(stage: str, host: Host) -> Source:
    from . import features

    if stage == "audit":
        return features.AuditSource(host)
    if stage == "secrets":
        return features.SecretsSource(host)
    return features.DriftSource(host)
