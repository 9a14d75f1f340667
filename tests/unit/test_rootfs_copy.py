"""Copies between a hostile fake root and the host: OUT never writes outside the named destination and never
carries host data; IN never leaves the root; names are bytes-exact; failures leave nothing half-written."""

from __future__ import annotations

import os
import stat

import pytest

from ctrlens.errors import CtrlensError
from ctrlens.rootfs import (
    ContainerRoot,
    ContainerStopped,
    RootfsError,
    UnsafeFile,
    copy_in,
    copy_out,
)
from ctrlens.rootfs.atomic import TEMP_PREFIX
from tests.unit import rootfs_tree as rt


@pytest.fixture
def out(tree: rt.Tree):
    """A host destination; everything in T outside it and outside the fake root must stay the same."""
    path = tree.base / "out"
    path.mkdir()
    before = rt.state(tree.base, exclude=("root", "out"))
    yield path
    assert rt.state(tree.base, exclude=("root", "out")) == before
    rt.host_intact(tree)


def _contents(top) -> dict[bytes, bytes]:
    """Every regular file under `top` (bytes paths, never following links), for leak checks."""
    found = {}
    top_b = os.fsencode(top)
    for dirpath, _dirs, files, dirfd in os.fwalk(top_b):  # fd-relative: paths may be longer than PATH_MAX
        for name in files:
            if stat.S_ISREG(os.stat(name, dir_fd=dirfd, follow_symlinks=False).st_mode):
                fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
                with os.fdopen(fd, "rb") as f:
                    found[os.path.relpath(os.path.join(dirpath, name), top_b)] = f.read()
    return found


def _no_temp(top) -> None:
    for dirpath, dirs, files in os.walk(os.fsencode(top)):
        dirs[:] = [d for d in dirs if d != b"proc"]  # the fake root's procfs: huge, and not ours
        assert not any(n.startswith(TEMP_PREFIX) for n in dirs + files), dirpath


def test_copy_out_of_the_whole_root_carries_no_host_data(root, tree, out) -> None:
    report = copy_out(root, "/", out / "copy", recursive=True)
    copied = _contents(out / "copy")
    for data in copied.values():
        assert data not in (rt.HOST_SECRET, rt.HOST_VICTIM, rt.HOST_DIR_FILE)
    assert copied[b"etc/shadow"] == rt.CTR_SHADOW
    # Links are recreated as links with the same text, never followed.
    assert os.readlink(out / "copy" / "dirlink") == str(tree.host / "hostdir")
    assert os.readlink(out / "copy" / "magic_self") == "/proc/self/root/etc/hostname"
    # Specials are not created on the host; kernel filesystems are not copied.
    for name in ("fifo", "null", "kmsg", "sock"):
        assert not os.path.lexists(out / "copy" / name)
    skipped = {p for p, _ in report.skipped}
    assert {b"/fifo", b"/null", b"/kmsg", b"/sock"} <= skipped
    if tree.proc_mounted:
        assert b"/proc" in skipped
        assert not os.listdir(out / "copy" / "proc") if (out / "copy" / "proc").exists() else True
    _no_temp(out)


def test_copy_out_keeps_odd_names_and_deep_paths(root, out) -> None:
    copy_out(root, "/names", out, recursive=True)
    assert sorted(os.listdir(os.fsencode(out / "names"))) == sorted(rt.ODD_NAMES)
    for name in rt.ODD_NAMES:
        with open(os.path.join(os.fsencode(out / "names"), name), "rb") as f:
            assert f.read() == b"odd:" + name
    copy_out(root, "/deep", out, recursive=True)
    deep = _contents(out / "deep")
    assert list(deep.values()) == [b"DEEP-BOTTOM\n"]
    assert len(next(iter(deep))) > 4096


def test_copy_out_archive_keeps_modes_owners_and_times(root, tree, out) -> None:
    os.chown(tree.root / "etc" / "shadow", 1000, 1001)
    os.chmod(tree.root / "etc" / "shadow", 0o640)
    os.utime(tree.root / "etc" / "shadow", ns=(1_000_000_000, 2_000_000_000))
    copy_out(root, "/etc", out, recursive=True, archive=True)
    st = os.lstat(out / "etc" / "shadow")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode), st.st_mtime_ns) == (
        1000,
        1001,
        0o640,
        2_000_000_000,
    )


def test_copy_out_single_files_and_links(root, tree, out) -> None:
    copy_out(root, "/etc/hostname", out)
    assert (out / "hostname").read_bytes() == rt.CTR_HOSTNAME
    copy_out(root, "/abs_etc", out / "as-link")
    assert os.readlink(out / "as-link") == "/etc/hostname"
    copy_out(root, "/abs_etc", out / "followed", follow=True)
    assert (out / "followed").read_bytes() == rt.CTR_HOSTNAME
    (out / "existing").write_bytes(b"old")
    copy_out(root, "/etc/shadow", out / "existing")
    assert (out / "existing").read_bytes() == rt.CTR_SHADOW


@pytest.mark.parametrize("path", ["/fifo", "/kmsg", "/null", "/sock"])
def test_copy_out_refuses_special_files(root, out, path: str) -> None:
    with pytest.raises(UnsafeFile, match=f"refusing to copy {path}"):
        copy_out(root, path, out)
    assert os.listdir(out) == []


def test_copy_out_never_follows_links_planted_in_the_destination(root, tree, out) -> None:
    # A name the copy would create already exists as a link to a host file / host dir: refuse, write nothing.
    os.symlink(str(tree.host / "victim"), out / "hostname")
    os.symlink(str(tree.host), out / "etc")
    with pytest.raises(RootfsError, match="already exists"):
        copy_out(root, "/etc/hostname", out)
    with pytest.raises(RootfsError, match="already exists"):
        copy_out(root, "/etc", out, recursive=True)
    assert sorted(os.listdir(out)) == ["etc", "hostname"]
    _no_temp(out)


def test_copy_out_needs_r_and_an_existing_parent(root, out) -> None:
    with pytest.raises(RootfsError, match="use -r"):
        copy_out(root, "/etc", out)
    with pytest.raises(RootfsError, match="no such directory"):
        copy_out(root, "/etc/hostname", out / "missing" / "x")


def test_copy_out_to_a_full_disk_leaves_nothing(root, tree, out) -> None:
    small = out / "small"
    small.mkdir()
    if not rt.mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", small):
        pytest.skip("tmpfs mount failed")
    try:
        (tree.root / "big").write_bytes(b"b" * (1 << 20))
        (tree.root / "bigdir").mkdir()
        (tree.root / "bigdir" / "a").write_bytes(b"a" * 1000)
        (tree.root / "bigdir" / "z").write_bytes(b"z" * (1 << 20))
        # Refused before writing (the free-space rule), not failed half-way: nothing is left either way.
        with pytest.raises(
            RootfsError, match=r"refusing to copy /big: 1\.0 MiB of data, .* \(nothing written\)"
        ):
            copy_out(root, "/big", small)
        with pytest.raises(RootfsError, match="refusing to copy /bigdir/"):
            copy_out(root, "/bigdir", small, recursive=True)
        assert os.listdir(small) == []
    finally:
        rt.umount(small)


class _DyingHandle:
    """alive() for the first `n` checks, then dead: the container stops in the middle of a copy."""

    pid = 999999

    def __init__(self, n: int) -> None:
        self.n = n

    def alive(self) -> bool:
        self.n -= 1
        return self.n >= 0


def test_container_stopping_during_copy_out_leaves_nothing(tree, resolver, out) -> None:
    fd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    dying = _DyingHandle(3)
    with (
        ContainerRoot(fd, label="web", handle=dying, resolver=resolver) as r,
        pytest.raises(ContainerStopped),
    ):  # type: ignore[arg-type]
        copy_out(r, "/etc", out, recursive=True)
    assert os.listdir(out) == []


# --- IN -------------------------------------------------------------------------------------------------------


@pytest.fixture
def source(tree: rt.Tree):
    src = tree.base / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "file").write_bytes(b"payload\n")
    os.symlink("/etc/shadow", src / "sub" / "hostlink")  # a link on the HOST to a host secret: copied as text
    os.mkfifo(src / "sub" / "fifo")
    with open(os.path.join(os.fsencode(src), b"\xff\nodd"), "wb") as f:
        f.write(b"odd\n")
    return src


def test_copy_in_tree_keeps_links_as_links_and_skips_specials(root, tree, source) -> None:
    before = rt.state(tree.base, exclude=("root",))
    report = copy_in(root, source, "/tmp", recursive=True)
    dst = tree.root / "tmp" / "src"
    assert (dst / "sub" / "file").read_bytes() == b"payload\n"
    assert os.readlink(dst / "sub" / "hostlink") == "/etc/shadow"
    assert not os.path.lexists(dst / "sub" / "fifo")
    assert any(p.endswith(b"/fifo") for p, _ in report.skipped)
    with open(os.path.join(os.fsencode(dst), b"\xff\nodd"), "rb") as f:
        assert f.read() == b"odd\n"
    assert os.lstat(dst / "sub" / "file").st_uid == 0
    assert rt.state(tree.base, exclude=("root",)) == before
    rt.host_intact(tree)
    _no_temp(tree.root)


def test_copy_in_through_hostile_destinations_stays_inside(root, tree, source) -> None:
    file = source / "sub" / "file"
    copy_in(root, file, "/victim")  # abs link to a host file: resolved inside the root
    copy_in(root, file, "/dirlink/")  # dir link to a host dir: the container's own copy of that dir
    assert (tree.root / str(tree.host / "hostdir").lstrip("/") / "file").read_bytes() == b"payload\n"
    with pytest.raises(CtrlensError):
        copy_in(root, file, "/reldir/x")
    with pytest.raises(CtrlensError):
        copy_in(root, source, "/reldir/", recursive=True)
    rt.host_intact(tree)


def test_copy_in_merge_refuses_a_symlink_where_a_directory_goes(root, tree, source) -> None:
    (tree.root / "tmp" / "src").mkdir()
    os.symlink(str(tree.host), tree.root / "tmp" / "src" / "sub")  # container plants sub -> host dir
    with pytest.raises(UnsafeFile, match="/tmp/src/sub: a symbolic link in the container"):
        copy_in(root, source, "/tmp", recursive=True)
    rt.host_intact(tree)
    _no_temp(tree.root)


def test_copy_in_refuses_host_specials(root, tree) -> None:
    os.mkfifo(tree.base / "hostfifo")
    with pytest.raises(UnsafeFile, match="FIFO"):
        copy_in(root, tree.base / "hostfifo", "/tmp/x")


def test_copy_in_to_a_stopped_container_writes_nothing(tree, resolver, source) -> None:
    fd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    dying = _DyingHandle(2)
    with (
        ContainerRoot(fd, label="web", handle=dying, resolver=resolver) as r,
        pytest.raises(ContainerStopped),
    ):  # type: ignore[arg-type]
        copy_in(r, source, "/tmp", recursive=True)
    assert not (tree.root / "tmp" / "src").exists()
    _no_temp(tree.root)
