"""Walks and copies that a container's tree shape cannot defeat: depth under a small fd limit, swapped
directories while the walk is below them, sparse terabytes, growing files, set-id bits, long tar names.

Fixture trees on the host stand for container roots (ContainerRoot.from_path); the same code walks
/proc/PID/root and overlay layers (tests/integration/test_diff_hostile.py does it on real containers).
"""

from __future__ import annotations

import io
import os
import resource
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ctrlens.diff.content import HASH_CAP, sha256_at
from ctrlens.diff.image import ImageView
from ctrlens.diff.overlay import STYLE_DOCKER, STYLE_PODMAN, OverlayDiff
from ctrlens.rootfs import ContainerRoot, copy_in, copy_out, read_tar, remove, write_tar
from ctrlens.rootfs.atomic import remove_tree_at
from ctrlens.rootfs.copyout import _copy_data
from ctrlens.rootfs.errors import RootfsError
from ctrlens.rootfs.fdwindow import KEEP
from ctrlens.rootfs.ids import IdMap
from ctrlens.rootfs.layerwalk import walk_layer
from ctrlens.rootfs.report import CopyReport
from ctrlens.rootfs.space import SpaceGuard
from ctrlens.rootfs.walk import ENTER, ITEM, LEAVE, walk
from tests.unit import rootfs_tree as rt

DEPTH = 3000
ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners, xattrs and mknod need root")


@pytest.fixture(autouse=True)
def _remove_deep_trees(tmp_path: Path) -> Iterator[None]:
    """pytest's own cleanup (shutil.rmtree) recurses once per level and fails on these chains."""
    yield
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for name in os.listdir(fd):
            if os.path.ismount(tmp_path / name):
                continue
            if stat.S_ISDIR(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode):
                remove_tree_at(fd, os.fsencode(name), stay_on_mount=False)
    finally:
        os.close(fd)


def chain(base: Path, depth: int = DEPTH, leaf: bytes = ELF) -> list[bytes]:
    """base/d/d/…/d (depth levels) with an executable `dropped` at the bottom; fd-relative (no PATH_MAX)."""
    names = []
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir("d", dir_fd=fd)
            child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
            names.append(b"d")
        out = os.open("dropped", os.O_WRONLY | os.O_CREAT, 0o755, dir_fd=fd)
        os.write(out, leaf)
        os.close(out)
    finally:
        os.close(fd)
    return names


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@contextmanager
def fd_limit(soft: int) -> Iterator[None]:
    """`ulimit -n` for this process: the limit users run ctrlens under (1024 by default; lower here)."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def test_walk_of_a_3000_level_chain_under_256_fds_finds_the_bottom_file(tmp_path: Path) -> None:
    chain(tmp_path)
    seen, most, depth = [], 0, 0
    with fd_limit(256), ContainerRoot.from_path(tmp_path) as root:
        for step in walk(root, "/"):
            most = max(most, open_fds())
            if step.event == ITEM:
                seen.append(step.entry.path)
            depth += {ENTER: 1, LEAVE: -1}.get(step.event, 0)
    assert seen == [b"/d" * DEPTH + b"/dropped"]
    assert depth == 0  # every directory entered was left
    assert most < KEEP + 30


def test_layer_walk_of_a_3000_level_chain_under_256_fds(tmp_path: Path) -> None:
    chain(tmp_path)
    items, enters = [], 0
    top = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with fd_limit(256):
            for step in walk_layer(top):
                enters += step.event == ENTER
                if step.event == ITEM:
                    items.append(step.path)
                    # the fd handed out is the file's own directory, even 3000 levels down
                    assert os.stat(step.name, dir_fd=step.parent_fd).st_size == len(ELF)
    finally:
        os.close(top)
    assert items == [b"/d" * DEPTH + b"/dropped"]
    assert enters == DEPTH + 1


def test_overlay_diff_reports_a_binary_dropped_3000_levels_down(tmp_path: Path) -> None:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    lower.mkdir()
    (lower / "etc").mkdir()
    chain(upper)
    with fd_limit(256), ContainerRoot.from_path(upper) as root, ImageView([str(lower)]) as image:
        changes = OverlayDiff(root, image, style=STYLE_DOCKER).run()
    dropped = [c for c in changes if c.path.endswith(b"/dropped")]
    assert [c.path for c in dropped] == [b"/d" * DEPTH + b"/dropped"]
    assert "new-executable" in dropped[0].flags
    assert sum(c.kind == "A" for c in changes) == DEPTH + 1


def test_overlay_diff_deep_in_a_deep_image_keeps_image_lookups_right(tmp_path: Path) -> None:
    """Image directories fall out of the fd window too: re-opened, they must still answer for their level."""
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    lower.mkdir()
    chain(lower, 400, b"image")
    chain(upper, 400, b"changed!")
    # the image has /d/…/d/keep at level 10; the upper deletes it (whiteout) after the deep part is walked
    level10 = lower.joinpath(*["d"] * 10)
    (level10 / "keep").write_bytes(b"k")
    os.mknod(upper.joinpath(*["d"] * 10) / "zz-gone", stat.S_IFCHR, os.makedev(0, 0))
    (level10 / "zz-gone").write_bytes(b"g")
    for layer in (upper, lower):
        for dirpath, _, _ in os.walk(layer):
            os.utime(dirpath, (1_600_000_000, 1_600_000_000))
    with fd_limit(256), ContainerRoot.from_path(upper) as root, ImageView([str(lower)]) as image:
        changes = {(c.kind, c.path) for c in OverlayDiff(root, image, style=STYLE_DOCKER).run()}
    prefix = b"/d" * 10
    assert ("D", prefix + b"/zz-gone") in changes
    assert ("C", b"/d" * 400 + b"/dropped") in changes  # same name in the image: a change, not an add
    assert not any(kind == "A" for kind, _ in changes)


def test_walk_that_climbs_back_to_a_swapped_directory_does_not_follow_it(tmp_path: Path) -> None:
    """Below the fd window the walk holds no fd of /d/…/d (level 5): the container swaps it for a symlink to
    another tree. Climbing back, the walk must not list that tree, and must say what it could not list."""
    chain(tmp_path, 200)
    outside = tmp_path.parent / (tmp_path.name + "-outside")
    outside.mkdir()
    (outside / "zz-outside-marker").write_text("host")
    level5 = tmp_path.joinpath(*["d"] * 5)
    (level5 / "zz-later").write_text("listed after the chain")
    skipped: list[tuple[bytes, str]] = []
    paths = []
    with ContainerRoot.from_path(tmp_path) as root:
        for step in walk(root, "/", on_skip=lambda e, why: skipped.append((e.path, why))):
            paths.append(step.entry.path)
            if step.entry.path.endswith(b"/dropped"):
                level4 = tmp_path.joinpath(*["d"] * 4)
                os.rename(level4 / "d", level4 / "moved")
                os.symlink(outside, level4 / "d")
    assert not any(b"outside-marker" in p for p in paths)
    assert not any(p.endswith(b"/zz-later") for p in paths)  # not listed from the moved directory either
    assert any("changed while walking" in why for _, why in skipped)


def test_copy_of_a_3000_level_tree_under_256_fds(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    chain(src)
    with fd_limit(256), ContainerRoot.from_path(src) as root:
        report = copy_out(root, "/d", out, recursive=True)
    assert (report.files, report.dirs) == (1, DEPTH - 1)
    fd = os.open(out / "d", os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(DEPTH - 1):
        child = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    assert os.stat("dropped", dir_fd=fd).st_size == len(ELF)
    os.close(fd)


def test_copy_in_and_rm_r_of_a_3000_level_tree_under_256_fds(tmp_path: Path) -> None:
    host, ctr = tmp_path / "host", tmp_path / "ctr"
    host.mkdir()
    ctr.mkdir()
    chain(host)
    with fd_limit(256), ContainerRoot.from_path(ctr) as root:
        report = copy_in(root, host / "d", "/", recursive=True)
        assert (report.files, report.dirs) == (1, DEPTH - 1)
        assert remove(root, "/d", recursive=True).action == "removed"
    assert os.listdir(ctr) == []


def test_tar_of_a_3000_level_tree_under_256_fds_round_trips(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    dst.mkdir()
    chain(src, 1500)
    stream = io.BytesIO()
    with fd_limit(256), ContainerRoot.from_path(src) as root:
        write_tar(root, "/d", stream)
    stream.seek(0)
    with tarfile.open(fileobj=stream) as tar:
        names = [m.name for m in tar]
    assert names[-1] == "d" + "/d" * 1499 + "/dropped"


# --- sparse, growing and big files --------------------------------------------------------------------------


def test_a_sparse_terabyte_is_copied_sparse_with_its_data_in_place(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    with open(src / "huge", "wb") as f:
        f.truncate(1 << 40)
        f.seek(123 << 30)
        f.write(b"DATA-IN-THE-MIDDLE")
    with ContainerRoot.from_path(src) as root:
        report = copy_out(root, "/huge", out)
    st = os.stat(out / "huge")
    assert st.st_size == 1 << 40
    assert st.st_blocks * 512 < 1 << 20  # under 1 MiB on disk
    with open(out / "huge", "rb") as f:
        f.seek(123 << 30)
        assert f.read(18) == b"DATA-IN-THE-MIDDLE"
    assert report.size == 1 << 40 and not report.notes


def test_a_file_that_grew_while_copied_is_cut_at_its_first_size_and_noted(tmp_path: Path) -> None:
    (tmp_path / "log").write_bytes(b"a" * 1000)
    src = os.open(tmp_path / "log", os.O_RDONLY)
    dst = os.open(tmp_path / "copy", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        st = os.fstat(src)
        with open(tmp_path / "log", "ab") as f:
            f.write(b"b" * 5000)  # the container keeps writing after we looked
        report = CopyReport()
        with ContainerRoot.from_path(tmp_path) as root:
            _copy_data(root, src, dst, st, b"/log", report, SpaceGuard(dst, "test"))
    finally:
        os.close(src)
        os.close(dst)
    assert (tmp_path / "copy").read_bytes() == b"a" * 1000
    assert report.notes == [
        (b"/log", "grew while copied (1000 -> 6000 bytes): copied the 1000 bytes seen at start")
    ]
    assert any("grew while copied" in line for line in report.warnings())


def test_a_file_bigger_than_the_free_space_is_refused_and_nothing_is_left(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    if not rt.mount("-t", "tmpfs", "-o", "size=96m", "tmpfs", small):
        pytest.skip("tmpfs mount failed")
    try:
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "big").write_bytes(os.urandom(48 << 20))  # real data: 48 MiB > 96 - 64 reserve
        with ContainerRoot.from_path(tmp_path / "src") as root:
            with pytest.raises(RootfsError, match=r"refusing to copy /big: 48\.0 MiB of data"):
                copy_out(root, "/big", small)
            with pytest.raises(RootfsError, match="refusing to copy"):
                copy_out(root, "/", small / "tree", recursive=True)
        assert os.listdir(small) == []  # no temp file, no half tree
    finally:
        rt.umount(small)


def test_hash_is_capped_and_says_how_much_it_covered(tmp_path: Path) -> None:
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(1 << 40)
    (tmp_path / "small").write_bytes(b"x" * 10)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert sha256_at(fd, b"huge", "/huge")[1:] == (HASH_CAP, True)
        assert sha256_at(fd, b"small", "/small")[1:] == (10, False)
    finally:
        os.close(fd)


# --- set-id bits and owners across user namespaces -----------------------------------------------------------

USERNS = IdMap.from_bytes(b"0 100000 65536\n", b"0 100000 65536\n")


def setuid_tree(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    tool = src / "bin" / "tool"
    tool.write_bytes(ELF)
    os.chown(tool, 100000, 100000)  # the container's root, as the host stores it
    os.chmod(tool, 0o6755)
    os.chown(src / "bin", 100000, 100000)
    return src


def test_archive_copy_writes_the_host_owner_and_drops_setid(tmp_path: Path) -> None:
    src = setuid_tree(tmp_path)
    (tmp_path / "out").mkdir()
    with ContainerRoot.from_path(src, ids=USERNS) as root:
        report = copy_out(root, "/bin", tmp_path / "out", recursive=True, archive=True)
    st = os.stat(tmp_path / "out" / "bin" / "tool")
    assert (st.st_uid, st.st_gid) == (100000, 100000)  # not 0:0, the container's view of them
    assert stat.S_IMODE(st.st_mode) == 0o755
    assert report.stripped == [(b"/bin/tool", "setuid+setgid dropped (use --keep-setid to keep it)")]


def test_keep_setid_keeps_it_only_with_the_host_owner(tmp_path: Path) -> None:
    src = setuid_tree(tmp_path)
    (tmp_path / "out").mkdir()
    with ContainerRoot.from_path(src, ids=USERNS) as root:
        report = copy_out(root, "/bin/tool", tmp_path / "out", archive=True, keep_setid=True)
    st = os.stat(tmp_path / "out" / "tool")
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (100000, 0o6755)
    assert report.stripped == []


def test_copy_without_archive_belongs_to_the_caller_without_setid(tmp_path: Path) -> None:
    src = setuid_tree(tmp_path)
    (tmp_path / "out").mkdir()
    with ContainerRoot.from_path(src, ids=USERNS) as root:
        report = copy_out(root, "/bin/tool", tmp_path / "out", keep_setid=True)  # no -a: ignored
    st = os.stat(tmp_path / "out" / "tool")
    assert st.st_uid == os.getuid() and not st.st_mode & 0o6000
    assert len(report.stripped) == 1


def test_tar_stream_drops_setid_unless_the_container_owner_is_the_host_owner(tmp_path: Path) -> None:
    src = setuid_tree(tmp_path)
    for keep in (False, True):
        stream = io.BytesIO()
        with ContainerRoot.from_path(src, ids=USERNS) as root:
            report = write_tar(root, "/bin", stream, keep_setid=keep)
        stream.seek(0)
        with tarfile.open(fileobj=stream) as tar:
            tool = next(m for m in tar if m.name == "bin/tool")
        assert (tool.uid, tool.mode) == (0, 0o755)  # uid 0 in the container is host 100000: never setuid root
        assert len(report.stripped) == 1


# --- tar names ------------------------------------------------------------------------------------------------


def test_tar_long_names_round_trip_and_an_impossible_name_is_reported(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    deep = src / "x" / ("a" * 200) / ("b" * 200)
    deep.mkdir(parents=True)
    (deep / ("c" * 250)).write_bytes(b"long")
    (src / "x" / os.fsdecode(b"\xff" * 200)).write_bytes(b"not utf-8")
    stream = io.BytesIO()
    with ContainerRoot.from_path(src) as root:
        write_tar(root, "/x", stream)
    # append a member whose one name is 300 bytes: no Linux filesystem can hold it (NAME_MAX 255)
    data = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(stream.getvalue())) as old,
        tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT) as new,
    ):
        for m in old:
            new.addfile(m, old.extractfile(m) if m.isfile() else None)
        bad = tarfile.TarInfo("x/" + "n" * 300)
        bad.size = 3
        new.addfile(bad, io.BytesIO(b"bad"))
        after = tarfile.TarInfo("x/after")
        after.size = 5
        new.addfile(after, io.BytesIO(b"after"))
    data.seek(0)
    dst.mkdir()
    with ContainerRoot.from_path(dst) as root:
        report = read_tar(root, "/", data)
    assert (dst / "x" / ("a" * 200) / ("b" * 200) / ("c" * 250)).read_bytes() == b"long"
    assert (dst / "x" / os.fsdecode(b"\xff" * 200)).read_bytes() == b"not utf-8"
    assert (dst / "x" / "after").read_bytes() == b"after"  # the rest is extracted
    assert report.failed == 1 and "n" * 300 in report.warnings()[0]


# --- podman's convention: every ancestor of an A or D ---------------------------------------------------------


def test_podman_marks_every_ancestor_of_an_add_or_delete(tmp_path: Path) -> None:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    (lower / "usr" / "bin").mkdir(parents=True)
    (lower / "usr" / "lib" / "x" / "y").mkdir(parents=True)
    (lower / "usr" / "lib" / "x" / "y" / "old").write_bytes(b"o")
    (upper / "usr" / "bin").mkdir(parents=True)
    (upper / "usr" / "bin" / "newfile").write_bytes(b"")
    (upper / "usr" / "lib" / "x" / "y").mkdir(parents=True)
    os.mknod(upper / "usr" / "lib" / "x" / "y" / "old", stat.S_IFCHR, os.makedev(0, 0))
    for layer in (upper, lower):
        for dirpath, _, _ in os.walk(layer):
            os.utime(dirpath, (1_600_000_000, 1_600_000_000))
    with ContainerRoot.from_path(upper) as root, ImageView([str(lower)]) as image:
        changes = {(c.kind, c.path.decode()) for c in OverlayDiff(root, image, style=STYLE_PODMAN).run()}
    assert changes == {
        ("A", "/usr/bin/newfile"),
        ("C", "/usr/bin"),
        ("C", "/usr"),
        ("D", "/usr/lib/x/y/old"),
        ("C", "/usr/lib/x/y"),
        ("C", "/usr/lib/x"),
        ("C", "/usr/lib"),
    }


def test_tar_stream_leaves_out_a_sparse_terabyte_and_says_so(tmp_path: Path) -> None:
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(1 << 40)
    (tmp_path / "small").write_bytes(b"s")
    stream = io.BytesIO()
    with ContainerRoot.from_path(tmp_path) as root:
        report = write_tar(root, "/", stream)
    stream.seek(0)
    with tarfile.open(fileobj=stream) as tar:
        names = tar.getnames()
    assert "./small" in names and "./huge" not in names
    assert report.failed == 1 and "sparse file of 1099511627776 bytes" in report.warnings()[0]
