"""pytest wiring shared by every ctrlens test.

* The repo root goes on sys.path, so tests can `import testbed` (real engines, see testbed/__init__.py).
* Every test under tests/integration/ is marked `integration`. Integration tests need root: without it they
  are SKIPPED with the reason, except when CI=true, where they FAIL (CI must never skip them silently).
* The session fixture `testbed` gives a running `testbed.Testbed`:
    - CTRLENS_TESTBED_REUSE=1: the testbed at $CTRLENS_TESTBED_DIR (default /tmp/ctrlens-testbed) is used and
      left running; it is started first if it is not up (fast edit-test loops);
    - otherwise the session starts its own with `Testbed.up()` and tears it down at the end. If someone else's
      testbed already runs at that dir, the session uses `<dir>-pytest-<pid>` instead and leaves theirs alone.
  If the testbed cannot start, the tests that need it fail with the engine's log tail.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

INTEGRATION_DIR = Path(__file__).resolve().parent / "integration"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.integration)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("integration") is None or os.geteuid() == 0:
        return
    reason = "integration test: needs root to run real container engines (run scripts/test as root)"
    if _in_ci():
        pytest.fail(f"{reason}; CI=true forbids skipping it", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def testbed():
    """The running testbed of real engines (docker, podman, containerd/ctr, lxc). See the module docstring."""
    from testbed import Testbed, TestbedError, default_state_dir

    state_dir = default_state_dir()
    reuse = os.environ.get("CTRLENS_TESTBED_REUSE") == "1"
    if not reuse and (state_dir / "state.json").exists():
        state_dir = state_dir.with_name(f"{state_dir.name}-pytest-{os.getpid()}")
    try:
        tb = Testbed.up(state_dir)  # with REUSE: attaches to the running one, or starts one and leaves it up
    except TestbedError as e:
        pytest.fail(f"the testbed did not start:\n{e}", pytrace=False)
    try:
        yield tb
    finally:
        if not reuse and not tb.reused:
            tb.down()


def pytest_configure(config: pytest.Config) -> None:
    # A cancelled CI job gets SIGTERM: turn it into Ctrl-C so pytest still runs the teardown (testbed down).
    signal.signal(signal.SIGTERM, _sigterm)


def _sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
