"""The BoltDB reader and Podman's restart settings from its database, on files built here byte by byte.

The writer below follows bbolt's page layout (page.go): 16-byte page headers, meta pages 0 and 1 with an FNV-64a
checksum, leaf elements {flags, pos, ksize, vsize}, branch elements {pos, ksize, pgid}, inline sub-buckets.
The same reader is checked against the testbed's real Podman database in tests/integration/test_kill_runtimes.py.
"""

from __future__ import annotations

import json
import sqlite3
import struct
from pathlib import Path

import pytest

from ctrlens.runtimes.boltdb import BoltDB, BoltError
from ctrlens.runtimes.podman_db import restart_info

PAGE = 4096
CID = "c" * 64
OTHER = "d" * 64


def fnv64a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def leaf(items: list[tuple[bytes, bytes, int]], pgid: int = 0) -> bytes:
    """A leaf page: (key, value, flags) with flags 1 for a sub-bucket."""
    header = struct.pack("<QHHI", pgid, 0x02, len(items), 0)
    elements, data = b"", b""
    base = 16 * len(items)
    for i, (k, v, flags) in enumerate(items):
        pos = base - 16 * i + len(data)  # from this element to its key
        elements += struct.pack("<IIII", flags, pos, len(k), len(v))
        data += k + v
    return header + elements + data


def branch(children: list[tuple[bytes, int]], pgid: int) -> bytes:
    header = struct.pack("<QHHI", pgid, 0x01, len(children), 0)
    elements, data = b"", b""
    base = 16 * len(children)
    for i, (k, child) in enumerate(children):
        elements += struct.pack("<IIQ", base - 16 * i + len(data), len(k), child)
        data += k
    return header + elements + data


def bucket_ref(root: int) -> bytes:
    return struct.pack("<QQ", root, 0)


def inline_bucket(items: list[tuple[bytes, bytes, int]]) -> bytes:
    return bucket_ref(0) + leaf(items)


def meta(pgid: int, root: int, txid: int, *, corrupt: bool = False) -> bytes:
    body = struct.pack("<IIII QQ QQQ", 0xED0CDAED, 2, PAGE, 0, root, 0, 2, 8, txid)
    checksum = fnv64a(body) ^ (1 if corrupt else 0)
    return struct.pack("<QHHI", pgid, 0x04, 0, 0) + body + struct.pack("<Q", checksum)


def podman_entry(policy: str, retries: int | None, count: int | None) -> bytes:
    config = {"id": CID, "name": "web", "restart_policy": policy}
    if retries is not None:
        config["restart_retries"] = retries
    state = {"state": 3, "pid": 4242} | ({"restartCount": count} if count is not None else {})
    return inline_bucket(
        [(b"config", json.dumps(config).encode(), 0), (b"state", json.dumps(state).encode(), 0)]
    )


def build(pages: dict[int, bytes]) -> bytes:
    out = bytearray(PAGE * (max(pages) + 1))
    for pgid, page in pages.items():
        assert len(page) <= PAGE
        out[pgid * PAGE : pgid * PAGE + len(page)] = page
    return bytes(out)


def podman_db(*, newer_meta_corrupt: bool = False) -> bytes:
    """Tx 1 (root page 3) says restart_policy "no"; tx 2 (root page 5) says "on-failure:5" restarted twice."""
    old_ctr = leaf([(CID.encode(), podman_entry("no", None, None), 1)], pgid=4)
    new_ctr_left = leaf([(CID.encode(), podman_entry("on-failure", 5, 2), 1)], pgid=6)
    new_ctr_right = leaf([(OTHER.encode(), podman_entry("always", None, 0), 1)], pgid=7)
    return build({
        0: meta(0, 3, 1),
        1: meta(1, 5, 2, corrupt=newer_meta_corrupt),
        2: struct.pack("<QHHI", 2, 0x10, 0, 0),  # empty freelist
        3: leaf([(b"ctr", bucket_ref(4), 1), (b"runtime-config", inline_bucket([]), 1)], pgid=3),
        4: old_ctr,
        5: leaf([(b"ctr", bucket_ref(8), 1)], pgid=5),
        6: new_ctr_left,
        7: new_ctr_right,
        8: branch([(CID.encode(), 6), (OTHER.encode(), 7)], pgid=8),
    })  # fmt: skip


def test_the_newest_valid_meta_page_wins_and_stale_pages_are_not_read():
    db = BoltDB(podman_db())
    entry = db.bucket(b"ctr", CID.encode())
    assert entry is not None
    assert json.loads(entry.get(b"config"))["restart_policy"] == "on-failure"
    assert [k for k, _ in db.bucket(b"ctr").buckets()] == [CID.encode(), OTHER.encode()]  # through the branch


def test_a_torn_newer_meta_falls_back_to_the_older_one():
    db = BoltDB(podman_db(newer_meta_corrupt=True))
    entry = db.bucket(b"ctr", CID.encode())
    assert json.loads(entry.get(b"config"))["restart_policy"] == "no"


def test_garbage_and_truncation_are_bolt_errors():
    with pytest.raises(BoltError):
        BoltDB(b"\0" * 8192)
    cut = podman_db()[: 5 * PAGE]  # the newer tree's pages are missing
    with pytest.raises(BoltError):
        list(BoltDB(cut).root.items())


def test_podman_restart_info_from_bolt(tmp_path: Path):
    (tmp_path / "libpod").mkdir()
    (tmp_path / "libpod" / "bolt_state.db").write_bytes(podman_db())
    found = restart_info(str(tmp_path), CID)
    assert found is not None
    assert (found.policy, found.retries, found.restart_count) == ("on-failure", 5, 2)
    assert found.source == f"{tmp_path}/libpod/bolt_state.db"
    other = restart_info(str(tmp_path), OTHER)
    assert other is not None and other.policy == "always"
    assert restart_info(str(tmp_path), "e" * 64) is None


def test_podman_5_sqlite_database(tmp_path: Path):
    conn = sqlite3.connect(tmp_path / "db.sql")
    conn.execute(
        "CREATE TABLE ContainerConfig(ID TEXT PRIMARY KEY NOT NULL, Name TEXT, PodID TEXT, JSON TEXT)"
    )
    conn.execute("CREATE TABLE ContainerState(ID TEXT PRIMARY KEY NOT NULL, JSON TEXT)")
    conn.execute(
        "INSERT INTO ContainerConfig VALUES (?, 'web', NULL, ?)",
        (CID, json.dumps({"restart_policy": "unless-stopped"})),
    )
    conn.execute("INSERT INTO ContainerState VALUES (?, ?)", (CID, json.dumps({"restartCount": 3})))
    conn.commit()
    conn.close()
    found = restart_info(str(tmp_path), CID, shown_root="/var/lib/containers/storage")
    assert found is not None and (found.policy, found.restart_count) == ("unless-stopped", 3)
    assert found.source == "/var/lib/containers/storage/db.sql"


def test_no_database_means_none(tmp_path: Path):
    assert restart_info(str(tmp_path), CID) is None
