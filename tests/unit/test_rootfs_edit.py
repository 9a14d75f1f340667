"""fs edit's engine: a private copy, written back atomically with owner and mode kept, refused when the container
changed the file meanwhile."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ctrlens.errors import CtrlensError
from ctrlens.rootfs import ContainerRoot, EditSession, IdMap, WriteConflict
from ctrlens.rootfs.ids import Accounts
from tests.unit import rootfs_tree as rt


@pytest.fixture
def root(tree: rt.Tree):
    with ContainerRoot.from_path(tree.root, label="fake") as r:
        yield r


def _edit(copy: str, data: bytes) -> None:
    with open(copy, "wb") as f:
        f.write(data)


def test_edit_writes_back_keeping_owner_and_mode(root: ContainerRoot, tree: rt.Tree) -> None:
    path = tree.root / "etc" / "shadow"
    os.chown(path, 1000, 1001)
    os.chmod(path, 0o640)
    session = EditSession(root, "/etc/shadow")
    copy = session.fetch()
    assert stat.S_IMODE(os.stat(os.path.dirname(copy)).st_mode) == 0o700
    assert Path(copy).read_bytes() == rt.CTR_SHADOW
    assert not session.changed()
    _edit(copy, b"edited\n")
    assert session.changed()
    change = session.write_back()
    session.discard()
    assert path.read_bytes() == b"edited\n"
    st = os.stat(path)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o640)
    assert change.action == "replaced" and (change.uid, change.gid) == (1000, 1001)
    assert not os.path.exists(copy)


def test_edit_refuses_when_the_container_changed_the_file(root: ContainerRoot, tree: rt.Tree) -> None:
    session = EditSession(root, "/etc/hostname")
    copy = session.fetch()
    _edit(copy, b"mine\n")
    (tree.root / "etc" / "hostname").write_bytes(b"theirs\n")  # the container wrote meanwhile
    with pytest.raises(WriteConflict, match="changed in fake while you edited it"):
        session.write_back()
    assert (tree.root / "etc" / "hostname").read_bytes() == b"theirs\n"
    assert Path(copy).read_bytes() == b"mine\n"  # kept for the user
    session.discard()


def test_edit_refuses_a_same_size_same_mtime_swap(root: ContainerRoot, tree: rt.Tree) -> None:
    path = tree.root / "etc" / "hostname"
    session = EditSession(root, "/etc/hostname")
    copy = session.fetch()
    _edit(copy, b"mine\n")
    st = os.stat(path)
    path.write_bytes(rt.CTR_HOSTNAME.lower())  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: only the sha256 tells
    with pytest.raises(WriteConflict, match="sha256"):
        session.write_back()
    session.discard()


def test_edit_through_a_link_edits_the_containers_file(root: ContainerRoot, tree: rt.Tree) -> None:
    session = EditSession(root, "/abs_etc")  # -> /etc/hostname inside the root
    copy = session.fetch()
    _edit(copy, b"via link\n")
    session.write_back()
    session.discard()
    assert os.path.islink(tree.root / "abs_etc")
    assert (tree.root / "etc" / "hostname").read_bytes() == b"via link\n"
    rt.host_intact(tree)


@pytest.mark.parametrize("path", ["/fifo", "/kmsg", "/etc", "/victim"])
def test_edit_refuses_what_it_cannot_safely_read(root: ContainerRoot, tree: rt.Tree, path: str) -> None:
    session = EditSession(root, path)
    with pytest.raises(CtrlensError):  # refused, a directory, or not inside the root: one-line errors
        session.fetch()
    session.discard()
    rt.host_intact(tree)


def test_edit_of_a_bind_mounted_file_is_in_place(root: ContainerRoot, tree: rt.Tree) -> None:
    target = tree.root / "etc" / "hosts"
    target.write_bytes(b"image\n")
    source = tree.base / "hosts-src"
    source.write_bytes(b"127.0.0.1 localhost\n")
    if not rt.mount("--bind", source, target):
        pytest.skip("bind mount failed")
    try:
        session = EditSession(root, "/etc/hosts")
        _edit(session.fetch(), b"127.0.0.1 localhost edited\n")
        assert session.write_back().action == "overwrote in place"
        session.discard()
    finally:
        rt.umount(target)
    assert source.read_bytes() == b"127.0.0.1 localhost edited\n"


# --- ids -------------------------------------------------------------------------------------------------------


def test_id_maps() -> None:
    ids = IdMap.from_bytes(b"         0     100000      65536\n", b"0 200000 1000\n1000 300000 10\n")
    assert not ids.is_identity
    assert ids.uid_to_host(0) == 100000 and ids.uid_to_host(65536) is None
    assert ids.gid_to_host(1005) == 300005
    assert ids.uid_from_host(100007) == 7
    assert ids.uid_from_host(0) == 65534  # unmapped: the overflow id, as the container sees it
    assert IdMap.from_bytes(b"0 0 4294967295\n", b"0 0 4294967295\n").is_identity
    assert IdMap.from_bytes(b"", b"").is_identity


def test_accounts_parse_hostile_lines() -> None:
    accounts = Accounts.parse(
        b"root:x:0:0::/:/bin/sh\n#comment:x:5:5\nbad\n:x:9:9\nroot2:x:0:0\nweird:x:notanumber:1\n\xff\xfe:x:7:7\n",
        b"wheel:x:10:\n",
    )
    assert accounts.user(0) == "root"  # the first name wins, as getpwuid does
    assert accounts.user(5) == "5" and accounts.user(9) == "9"
    assert accounts.user(7) == "\ufffd\ufffd"
    assert (
        accounts.uid_of("root") == 0 and accounts.gid_of("wheel") == 10 and accounts.uid_of("nobody") is None
    )
