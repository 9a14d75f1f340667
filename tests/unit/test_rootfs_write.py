"""Writes into a hostile fake root: nothing outside it is ever created or changed, writes are atomic, new files
belong to the container's (mapped) root, a stopped container or a full disk leaves nothing half-written."""

from __future__ import annotations

import errno
import os
import stat
import tempfile

import pytest

from ctrlens.errors import CtrlensError
from ctrlens.rootfs import (
    ContainerRoot,
    ContainerStopped,
    IdMap,
    Owner,
    RootfsError,
    UnsafeFile,
    make_dirs,
    remove,
    touch,
    write_file,
)
from ctrlens.rootfs.atomic import TEMP_PREFIX, overwrite_in_place
from tests.unit import rootfs_tree as rt


@pytest.fixture
def outside(tree: rt.Tree):
    """Snapshot of everything in T except the fake root: must be identical after each test."""
    before = rt.state(tree.base, exclude=("root",))
    yield
    assert rt.state(tree.base, exclude=("root",)) == before
    rt.host_intact(tree)


def _src(data: bytes) -> int:
    fd = os.open(tempfile.gettempdir(), os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _write(root: ContainerRoot, path: str | bytes, data: bytes, **kw: object):
    fd = _src(data)
    try:
        with root.guard(path):
            return write_file(root, path, fd, **kw)  # type: ignore[arg-type]
    finally:
        os.close(fd)


def _no_temp_files(top) -> None:
    for dirpath, dirnames, filenames in os.walk(os.fsencode(top)):
        dirnames[:] = [d for d in dirnames if d != b"proc"]  # the fake root's procfs: huge, and not ours
        for name in dirnames + filenames:
            assert not name.startswith(TEMP_PREFIX), os.path.join(dirpath, name)


def test_write_through_an_absolute_host_link_stays_inside(root, tree, outside) -> None:
    change = _write(root, "/victim", b"NEW\n")
    assert change.action == "created"
    assert (tree.root / str(tree.host / "victim").lstrip("/")).read_bytes() == b"NEW\n"
    assert os.path.islink(tree.root / "victim")


def test_write_through_a_directory_link_stays_inside(root, tree, outside) -> None:
    _write(root, "/dirlink/newfile", b"via dirlink\n")
    assert (tree.root / str(tree.host / "hostdir").lstrip("/") / "newfile").read_bytes() == b"via dirlink\n"


def test_write_through_a_climbing_link_stays_inside(root, tree, outside) -> None:
    with pytest.raises(CtrlensError, match="no such file"):
        _write(root, "/reldir/pwned", b"x")  # ../../../../../host clamps to /host: not in the container
    _write(root, "/victim_rel", b"clamped\n")  # ../../…/T/host/victim clamps to the container's own T/host
    assert (tree.root / str(tree.host / "victim").lstrip("/")).read_bytes() == b"clamped\n"


def test_write_without_following_replaces_the_link_itself(root, tree, outside) -> None:
    change = _write(root, "/victim", b"REPLACED\n", follow=False)
    assert change.action == "replaced"
    assert not os.path.islink(tree.root / "victim")
    assert (tree.root / "victim").read_bytes() == b"REPLACED\n"


@pytest.mark.parametrize("path", ["/fifo", "/null", "/kmsg", "/sock"])
def test_special_files_are_never_written(root, tree, outside, path: str) -> None:
    with pytest.raises(UnsafeFile, match=f"refusing to replace {path}"):
        _write(root, path, b"x")
    _no_temp_files(tree.root)


def test_directory_is_not_a_file(root, outside) -> None:
    with pytest.raises(RootfsError, match="is a directory"):
        _write(root, "/etc", b"x")


def test_replace_keeps_owner_and_mode(root, tree, outside) -> None:
    os.chown(tree.root / "etc" / "shadow", 1000, 1001)
    os.chmod(tree.root / "etc" / "shadow", 0o640)
    change = _write(root, "/etc/shadow", b"new shadow\n")
    st = os.stat(tree.root / "etc" / "shadow")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1001, 0o640)
    assert (change.uid, change.gid) == (1000, 1001)
    assert "owner 1000:1001 mode 0640" in change.describe("web")


def test_hard_link_is_replaced_not_written_through(root, tree, outside) -> None:
    _write(root, "/hard_shadow", b"other\n")
    assert (tree.root / "etc" / "shadow").read_bytes() == rt.CTR_SHADOW


def test_in_place_overwrite_refuses_hard_links_and_specials(root, tree, outside) -> None:
    fd = _src(b"x")
    dirfd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(UnsafeFile, match="2 hard links"):
            overwrite_in_place(dirfd, b"hard_shadow", fd, "/hard_shadow")
        with pytest.raises(UnsafeFile, match="FIFO"):
            overwrite_in_place(dirfd, b"fifo", fd, "/fifo")
        with pytest.raises(UnsafeFile, match="symbolic link"):
            overwrite_in_place(dirfd, b"victim", fd, "/victim")
    finally:
        os.close(fd)
        os.close(dirfd)


def test_bind_mounted_file_is_overwritten_in_place(root, tree) -> None:
    target = tree.root / "etc" / "hosts"
    target.write_bytes(b"image\n")
    source = tree.base / "hosts-src"
    source.write_bytes(b"bound original, longer than the new text\n")
    if not rt.mount("--bind", source, target):
        pytest.skip("bind mount failed")
    try:
        change = _write(root, "/etc/hosts", b"127.0.0.1 edited\n")
        assert change.action == "overwrote in place"
        assert target.read_bytes() == b"127.0.0.1 edited\n"
        _no_temp_files(tree.root / "etc")
    finally:
        rt.umount(target)
    assert source.read_bytes() == b"127.0.0.1 edited\n"  # the bind source is the container's file


def test_touch_creates_owned_by_container_root_and_refuses_specials(root, tree, outside) -> None:
    change = touch(root, "/tmp/new")
    assert change.action == "created" and (change.uid, change.gid) == (0, 0)
    assert stat.S_IMODE(os.stat(tree.root / "tmp" / "new").st_mode) == 0o644
    assert touch(root, "/tmp/new").action == "touched"
    for path in ("/fifo", "/kmsg"):
        with pytest.raises(UnsafeFile):
            touch(root, path)
    touch(root, "/victim")  # created inside, at the link's in-root target
    assert (tree.root / str(tree.host / "victim").lstrip("/")).exists()


def test_user_namespace_ownership(tree, resolver, outside) -> None:
    ids = IdMap.from_bytes(b"0 100000 65536\n", b"0 200000 65536\n")
    with ContainerRoot.from_path(tree.root, ids=ids, resolver=resolver, label="userns") as r:
        change = touch(r, "/tmp/owned")
        st = os.lstat(tree.root / "tmp" / "owned")
        assert (st.st_uid, st.st_gid) == (100000, 200000)
        assert (change.uid, change.gid) == (0, 0)  # as the container sees it
        touch(r, "/tmp/bob", owner=Owner(1000, 1001))
        st = os.lstat(tree.root / "tmp" / "bob")
        assert (st.st_uid, st.st_gid) == (101000, 201001)
        with pytest.raises(RootfsError, match="not mapped"):
            touch(r, "/tmp/nope", owner=Owner(70000, 0))
        [created] = make_dirs(r, "/tmp/d")
        assert os.lstat(tree.root / "tmp" / "d").st_uid == 100000 and created.uid == 0


def test_mkdir_through_links_stays_inside(root, tree, outside) -> None:
    changes = make_dirs(root, "/dirlink/a/b", parents=True)
    assert [c.path for c in changes] == [b"/dirlink/a", b"/dirlink/a/b"]
    assert (tree.root / str(tree.host / "hostdir").lstrip("/") / "a" / "b").is_dir()
    make_dirs(root, "/etclink/new")
    assert (tree.root / "etc" / "new").is_dir()
    assert make_dirs(root, "/etc", parents=True) == []
    with pytest.raises(RootfsError, match="already exists"):
        make_dirs(root, "/etc")
    with pytest.raises(CtrlensError), root.guard("/reldir/x"):
        make_dirs(root, "/reldir/x")


def test_rm_removes_links_not_their_targets(root, tree, outside) -> None:
    remove(root, "/dirlink")
    remove(root, "/etclink", recursive=True)
    assert not os.path.lexists(tree.root / "dirlink")
    assert (tree.root / "etc" / "shadow").read_bytes() == rt.CTR_SHADOW
    with pytest.raises(RootfsError, match="is a directory"):
        remove(root, "/names")
    change = remove(root, "/names", recursive=True)
    assert change.action == "removed" and not (tree.root / "names").exists()
    remove(root, "/deep", recursive=True)  # deeper than PATH_MAX: fd-relative
    assert not (tree.root / "deep").exists()
    remove(root, "/fifo")
    remove(root, "/kmsg")
    with pytest.raises(RootfsError, match="needs a file name"):
        remove(root, "/", recursive=True)


def test_rm_never_crosses_into_other_mounts(root, tree, outside) -> None:
    (tree.root / "data" / "vol").mkdir(parents=True)
    (tree.root / "data" / "own").write_bytes(b"x")
    if not rt.mount("--bind", tree.host / "hostdir", tree.root / "data" / "vol"):
        pytest.skip("bind mount failed")
    try:
        with pytest.raises(RootfsError, match="mount point"):
            remove(root, "/data/vol", recursive=True)
        change = remove(root, "/data", recursive=True)
        assert change.skipped and change.skipped[0][0] == b"/data/vol"
        assert not (tree.root / "data" / "own").exists()
    finally:
        rt.umount(tree.root / "data" / "vol")


class _DeadHandle:
    pid = 999999

    def alive(self) -> bool:
        return False


def test_container_stopping_leaves_nothing_half_written(tree, resolver, outside) -> None:
    fd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    r = ContainerRoot(fd, label="web", handle=_DeadHandle(), resolver=resolver)  # type: ignore[arg-type]
    with pytest.raises(ContainerStopped, match="web stopped"):
        _write(r, "/tmp/new", b"x" * 100000)
    with pytest.raises(ContainerStopped):
        _write(r, "/etc/shadow", b"clobbered")
    assert not (tree.root / "tmp" / "new").exists()
    assert (tree.root / "etc" / "shadow").read_bytes() == rt.CTR_SHADOW
    _no_temp_files(tree.root)
    r.close()


def test_full_disk_leaves_nothing_half_written(root, tree, outside) -> None:
    small = tree.root / "small"
    small.mkdir()
    if not rt.mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", small):
        pytest.skip("tmpfs mount failed")
    try:
        (small / "keep").write_bytes(b"original\n")
        with pytest.raises(CtrlensError, match="no space left"):
            _write(root, "/small/big", b"x" * (1 << 20))
        with pytest.raises(CtrlensError, match="no space left"):
            _write(root, "/small/keep", b"y" * (1 << 20))
        assert sorted(os.listdir(small)) == ["keep"]
        assert (small / "keep").read_bytes() == b"original\n"
    finally:
        rt.umount(small)


def test_errors_are_one_line(root) -> None:
    with pytest.raises(CtrlensError) as info, root.guard("/nope/x"):
        root.read_bytes("/nope/x")
    assert str(info.value) == "/nope/x in fake: no such file or directory"
    assert "\n" not in str(info.value)
    assert errno.ENOENT
