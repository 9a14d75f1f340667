"""User names come from the host's own /etc/passwd, under --host-root too (the DaemonSet's /host), never from
the passwd of the machine ctrlens runs on."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ctrlens.accounts import ACCOUNTS_LIMIT, Accounts, HostAccounts, parse_names
from ctrlens.host import Host
from ctrlens.scanner import scan

FIXTURE_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "proc" / "testbed-real"


@pytest.fixture
def host_root(tmp_path: Path) -> Path:
    """The testbed-real fixture host, copied so that its /etc and the owners of its /proc entries can be set."""
    root = tmp_path / "host"
    shutil.copytree(FIXTURE_ROOT, root, symlinks=True)
    return root


def _ps(root: Path) -> list[dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-m", "ctrlens.cli", "--host-root", str(root), "ps", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    records: list[dict[str, object]] = json.loads(done.stdout)
    return records


def test_ps_under_host_root_names_users_from_that_hosts_passwd(host_root: Path) -> None:
    my_uid = os.stat(host_root / "proc").st_uid  # the copy's owner: what /proc/PID reports as the uid
    here = pwd.getpwuid(my_uid).pw_name
    (host_root / "etc").mkdir()
    (host_root / "etc/passwd").write_text(f"node-{my_uid}:x:{my_uid}:0::/:/bin/sh\n")
    records = _ps(host_root)
    assert records
    assert {r["user"] for r in records} == {f"node-{my_uid}"}, f"names from this machine ({here}) leaked in"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown of the fixture's /proc entries needs root")
def test_each_process_gets_its_own_uids_name_from_the_host_root(host_root: Path) -> None:
    pids = sorted(int(p.name) for p in (host_root / "proc").iterdir() if p.name.isdigit())
    other = pids[-1]
    os.chown(host_root / "proc" / str(other), 4242, 4242)
    (host_root / "etc").mkdir()
    (host_root / "etc/passwd").write_text("noderoot:x:0:0::/root:/bin/sh\nnodeapp:x:4242:4242::/:/bin/sh\n")
    users = {r["pid"]: r["user"] for r in _ps(host_root)}
    assert users[other] == "nodeapp"
    assert {u for pid, u in users.items() if pid != other} == {"noderoot"}


def test_a_host_root_without_passwd_shows_numbers_not_this_machines_names(host_root: Path) -> None:
    my_uid = os.stat(host_root / "proc").st_uid
    assert {r["user"] for r in _ps(host_root)} == {str(my_uid)}


def test_scan_gives_every_process_the_scanned_hosts_accounts(host_root: Path) -> None:
    (host_root / "etc").mkdir()
    (host_root / "etc/passwd").write_text("a:x:0:0::/:/bin/sh\n")
    snapshot = scan(Host(str(host_root)))
    assert snapshot.processes
    assert {p.user for p in snapshot.processes.values()} <= {"a", str(os.getuid())}


def test_host_accounts_reads_passwd_and_group_through_host(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(
        "# comment\nroot:x:0:0::/root:/bin/sh\nbad\nbob:x:1000:1000::/:/bin/sh\n"
    )
    (tmp_path / "etc/group").write_text("wheel:x:10:bob\nstaff:x:50:bob,carol\n")
    accounts = HostAccounts(Host(str(tmp_path)))
    assert accounts.user_name(1000) == "bob"
    assert accounts.user_name(7) == "7"
    assert accounts.name_of(7) is None
    assert accounts.users() == [("root", 0, 0), ("bob", 1000, 1000)]
    assert accounts.group_members() == {"bob": {10, 50}, "carol": {50}}


def test_an_oversized_passwd_is_read_only_up_to_the_limit(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    filler = b"x" * (ACCOUNTS_LIMIT + 10)
    (tmp_path / "etc/passwd").write_bytes(b"early:x:5:5::/:/bin/sh\n" + filler + b"\nlate:x:6:6::/:/bin/sh\n")
    accounts = HostAccounts(Host(str(tmp_path)))
    assert accounts.name_of(5) == "early"
    assert accounts.name_of(6) is None


def test_container_accounts_first_name_for_an_id_wins() -> None:
    names = parse_names(b"root:x:0:0::/:/bin/sh\ntoor:x:0:0::/:/bin/sh\n#x:x:9:9\nweird:x:nan:0\n")
    assert names == {0: "root"}
    acc = Accounts.parse(b"app:x:100:100::/:/bin/sh\n", b"app:x:100:\n")
    assert (acc.user(100), acc.group(100), acc.user(5), acc.uid_of("app")) == ("app", "app", "5", 100)
