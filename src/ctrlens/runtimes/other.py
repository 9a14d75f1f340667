"""Platforms recognised by their ID format alone: AWS ECS, Cloud Foundry Garden, Mesos."""

from __future__ import annotations

import re

from .base import ECS, GARDEN, MESOS, CgroupMatch
from .plugin import DiffConvention, FixDialect, RuntimePlugin

_ECS = re.compile(r"[0-9a-f]{32}-\d+")
_UUID = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")
_GARDEN = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){4}")


def match_ecs(parts: list[str], i: int) -> CgroupMatch | None:
    if _ECS.fullmatch(parts[i]) and i > 0 and parts[i - 1] != "":
        return CgroupMatch(ECS, parts[i], "", "<ecs task>/<32hex>-<n>")
    return None


def match_garden(parts: list[str], i: int) -> CgroupMatch | None:
    if _GARDEN.fullmatch(parts[i]):
        return CgroupMatch(GARDEN, parts[i], "", "garden <8-4-4-4-4 hex>")
    return None


def match_mesos(parts: list[str], i: int) -> CgroupMatch | None:
    if i > 0 and parts[i - 1] == "mesos" and _UUID.fullmatch(parts[i]):
        return CgroupMatch(MESOS, parts[i], "", "/mesos/<uuid>")
    return None


RULES = (match_ecs, match_garden, match_mesos)

PLUGINS = (
    RuntimePlugin(ECS, (match_ecs,), diff_convention=DiffConvention.DOCKER, fix_dialect=FixDialect.DOCKER),
    RuntimePlugin(
        GARDEN, (match_garden,), diff_convention=DiffConvention.HEURISTIC, fix_dialect=FixDialect.NONE
    ),
    RuntimePlugin(
        MESOS, (match_mesos,), diff_convention=DiffConvention.HEURISTIC, fix_dialect=FixDialect.NONE
    ),
)
