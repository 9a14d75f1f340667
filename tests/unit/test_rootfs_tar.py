"""Tar streams: OUT from the safe walk (devices described, never opened; names bytes-exact), IN from a hostile
archive (absolute names, '..', links planted by earlier members, hard links out, device members) confined to
the destination directory."""

from __future__ import annotations

import io
import os
import stat
import tarfile

import pytest

from ctrlens.rootfs import ContainerRoot, read_tar, write_tar
from ctrlens.rootfs.tario import member_path
from tests.unit import rootfs_tree as rt


def _members(data: bytes) -> dict[bytes, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8", errors="surrogateescape") as tar:
        return {os.fsencode(m.name): m for m in tar.getmembers()}


def _read_member(data: bytes, name: bytes) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:", encoding="utf-8", errors="surrogateescape") as tar:
        f = tar.extractfile(os.fsdecode(name))
        assert f is not None
        return f.read()


def test_tar_out_of_etc(root: ContainerRoot, tree: rt.Tree) -> None:
    os.chown(tree.root / "etc" / "shadow", 1000, 1001)
    buf = io.BytesIO()
    report = write_tar(root, "/etc", buf)
    members = _members(buf.getvalue())
    assert set(members) == {b"etc", b"etc/group", b"etc/hostname", b"etc/passwd", b"etc/shadow"}
    shadow = members[b"etc/shadow"]
    assert (shadow.uid, shadow.gid, shadow.uname, shadow.gname) == (1000, 1001, "ctruser", "ctrgroup")
    assert _read_member(buf.getvalue(), b"etc/shadow") == rt.CTR_SHADOW
    assert report.files == 4


def test_tar_out_of_the_root_describes_specials_and_carries_no_host_data(
    root: ContainerRoot, tree: rt.Tree
) -> None:
    buf = io.BytesIO()
    write_tar(root, "/", buf)
    data = buf.getvalue()
    members = _members(data)
    kmsg = members[b"./kmsg"]
    assert kmsg.ischr() and (kmsg.devmajor, kmsg.devminor) == (1, 11)
    assert members[b"./fifo"].isfifo()
    assert b"./sock" not in members
    assert members[b"./dirlink"].issym() and members[b"./dirlink"].linkname == str(tree.host / "hostdir")
    assert not any(n.startswith((b"./dirlink/", b"./etclink/", b"./proc/")) for n in members)
    for marker in (rt.HOST_SECRET, rt.HOST_VICTIM, rt.HOST_DIR_FILE):
        assert marker not in data
    for name in rt.ODD_NAMES:
        assert _read_member(data, b"./names/" + name) == b"odd:" + name
    deep = [n for n in members if n.endswith(b"bottom.txt")]
    assert len(deep) == 1 and len(deep[0]) > 4096
    hard = members[b"./hard_shadow"] if members[b"./hard_shadow"].islnk() else members[b"./etc/shadow"]
    assert hard.islnk()
    rt.host_intact(tree)


def test_tar_roundtrip_through_read_tar(root: ContainerRoot, tree: rt.Tree) -> None:
    buf = io.BytesIO()
    write_tar(root, "/names", buf)
    (tree.root / "restore").mkdir()
    buf.seek(0)
    report = read_tar(root, "/restore", buf)
    assert report.refused == 0
    for name in rt.ODD_NAMES:
        with open(os.path.join(os.fsencode(tree.root / "restore" / "names"), name), "rb") as f:
            assert f.read() == b"odd:" + name


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a/b", b"a/b"),
        ("/etc/passwd", b"etc/passwd"),
        ("./x/./y", b"x/y"),
        ("", b""),
        (".", b""),
        ("../x", None),
        ("a/../../x", None),
        ("a/..", None),
        ("/../../etc", None),
    ],
)
def test_member_paths(name: str, expected: bytes | None) -> None:
    assert member_path(name) == expected


def _hostile_tar(tree: rt.Tree) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:

        def add(name: str, data: bytes | None = None, **attrs: object) -> None:
            info = tarfile.TarInfo(name)
            for k, v in attrs.items():
                setattr(info, k, v)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)

        add("/abs/evil", b"abs\n")  # absolute: lands under the destination
        add("../../escape", b"dotdot\n")  # refused
        add("a/../../escape2", b"dotdot\n")  # refused
        add("hostdir", type=tarfile.SYMTYPE, linkname=str(tree.host / "hostdir"))
        add("hostdir/pwned", b"through planted abs link\n")  # T/host/hostdir inside the destination: none
        add("up", type=tarfile.SYMTYPE, linkname="../../../../../../../..")
        add("up/pwned2", b"through planted climbing link\n")
        add("victim", type=tarfile.SYMTYPE, linkname=str(tree.host / "victim"))
        add("victim", b"overwrite the link's target?\n")  # replaces the link entry, never writes through it
        add("hl", type=tarfile.LNKTYPE, linkname="../../host/secret")  # refused ('..')
        add("hl2", type=tarfile.LNKTYPE, linkname=str(tree.host / "secret"))  # not inside: refused
        add("hostlink", type=tarfile.SYMTYPE, linkname=str(tree.host / "secret"))
        add("hl3", type=tarfile.LNKTYPE, linkname="hostlink")  # hard link to a symlink: refused
        add("dev/kmsg", type=tarfile.CHRTYPE, devmajor=1, devminor=11)  # refused
        add("dev/vda", type=tarfile.BLKTYPE, devmajor=7, devminor=0)  # refused
        add("pipe", type=tarfile.FIFOTYPE)
        add("etc/passwd", b"root:x:0:0::/:/bin/sh\n", mode=0o600)
        add("etc/hardpasswd", type=tarfile.LNKTYPE, linkname="etc/passwd")
        add("etcdir", type=tarfile.SYMTYPE, linkname="/etc")
        add("etcdir/pwned", b"through planted abs link\n")  # the destination's own /etc
        add("ro", type=tarfile.DIRTYPE, mode=0o555)
        add("ro/inside", b"written before the dir became read-only\n")
    return buf.getvalue()


def test_hostile_tar_stays_in_the_destination(root: ContainerRoot, tree: rt.Tree) -> None:
    dest = tree.root / "tmp" / "dest"
    dest.mkdir()
    before_root = rt.state(tree.root, exclude=("tmp", "proc"))
    before_outside = rt.state(tree.base, exclude=("root",))
    report = read_tar(root, "/tmp/dest", io.BytesIO(_hostile_tar(tree)))

    assert rt.state(tree.base, exclude=("root",)) == before_outside
    assert (
        rt.state(tree.root, exclude=("tmp", "proc")) == before_root
    )  # nothing outside the destination either
    rt.host_intact(tree)

    assert (dest / "abs" / "evil").read_bytes() == b"abs\n"
    assert (dest / "etc" / "pwned").read_bytes() == b"through planted abs link\n"
    assert (dest / "pwned2").read_bytes() == b"through planted climbing link\n"
    assert not os.path.islink(dest / "victim") and (dest / "victim").read_bytes().startswith(b"overwrite")
    assert stat.S_ISFIFO(os.lstat(dest / "pipe").st_mode)
    assert not (dest / "dev" / "kmsg").exists() and not (dest / "dev" / "vda").exists()
    assert os.stat(dest / "etc" / "hardpasswd").st_ino == os.stat(dest / "etc" / "passwd").st_ino
    assert stat.S_IMODE(os.stat(dest / "etc" / "passwd").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(dest / "ro").st_mode) == 0o555
    assert (dest / "ro" / "inside").exists()
    assert not (tree.root / "escape").exists() and not (tree.base / "escape").exists()
    refused = {p for p, _ in report.skipped}
    assert {
        b"../../escape",
        b"a/../../escape2",
        b"hl",
        b"hl2",
        b"hl3",
        b"/dev/kmsg",
        b"/dev/vda",
        b"hostdir/pwned",
    } <= refused
    assert report.refused == 8


def test_tar_into_a_symlinked_destination_follows_it_inside(root: ContainerRoot, tree: rt.Tree) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("x")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"x\n"))
    buf.seek(0)
    read_tar(root, "/dirlink", buf)  # dirlink -> T/host/hostdir: the container's own copy of it
    assert (tree.root / str(tree.host / "hostdir").lstrip("/") / "x").read_bytes() == b"x\n"
    rt.host_intact(tree)


def test_tar_needs_a_directory(root: ContainerRoot) -> None:
    from ctrlens.errors import CtrlensError

    with pytest.raises(CtrlensError, match="not a directory"):
        read_tar(root, "/etc/hostname", io.BytesIO(b""))
    with pytest.raises(CtrlensError, match="no such file"):
        read_tar(root, "/reldir", io.BytesIO(b""))


def test_garbage_stream_is_a_clean_error(root: ContainerRoot, tree: rt.Tree) -> None:
    from ctrlens.errors import CtrlensError

    with pytest.raises(CtrlensError, match="bad tar stream"):
        read_tar(root, "/tmp", io.BytesIO(b"this is not a tar archive" * 100))
