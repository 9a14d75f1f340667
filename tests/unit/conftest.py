"""Fixtures of the rootfs unit tests: a hostile fake container root (tests/unit/rootfs_tree.py), opened through
each resolver in turn, so that every case is proven for openat2 and for the per-component fallback walker.
A test module that defines its own `tree` or `root` (attribution layouts, edit) overrides these."""

from __future__ import annotations

import pytest

from ctrlens.rootfs import ContainerRoot, Openat2Resolver, WalkResolver
from tests.unit import rootfs_tree as rt

RESOLVERS = {"openat2": Openat2Resolver, "walk": WalkResolver}

tree = pytest.fixture(rt.fixture)


@pytest.fixture(params=sorted(RESOLVERS))
def resolver(request: pytest.FixtureRequest):
    return RESOLVERS[request.param]()


@pytest.fixture
def root(tree: rt.Tree, resolver):
    with ContainerRoot.from_path(tree.root, resolver=resolver, label="fake") as r:
        yield r
