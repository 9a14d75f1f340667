"""Listing, describing and walking a hostile fake root: lstat everywhere, symlinked dirs listed but never entered,
kernel filesystems not entered, mount points marked, owners named from the container's own files."""

from __future__ import annotations

import os

import pytest

from ctrlens.rootfs import ENTER, ITEM, LEAVE, ContainerRoot, walk
from tests.unit import rootfs_tree as rt


def test_listdir_lstats_and_never_follows(root: ContainerRoot, tree: rt.Tree) -> None:
    entries = {e.name: e for e in root.listdir("/")}
    assert entries[b"dirlink"].kind == "symlink"
    assert entries[b"dirlink"].link_target == os.fsencode(tree.host / "hostdir")
    assert entries[b"fifo"].kind == "fifo"
    assert entries[b"kmsg"].kind == "char-device"
    assert entries[b"sock"].kind == "socket"
    assert entries[b"etc"].kind == "directory"
    assert entries[b"magic_self"].link_target == b"/proc/self/root/etc/hostname"
    rt.host_intact(tree)


def test_listing_a_symlinked_directory_lists_the_containers_one(root: ContainerRoot, tree: rt.Tree) -> None:
    assert [e.name for e in root.listdir("/dirlink")] == [b"ctrfile"]
    assert sorted(e.name for e in root.listdir("/etclink")) == [b"group", b"hostname", b"passwd", b"shadow"]
    with pytest.raises(FileNotFoundError):
        root.listdir("/reldir")  # ../../../../../host clamps to /host, which the container has not


def test_odd_names_survive_listing(root: ContainerRoot) -> None:
    assert sorted(e.name for e in root.listdir("/names")) == sorted(rt.ODD_NAMES)
    assert all(e.path == b"/names/" + e.name for e in root.listdir("/names"))


def test_entry_describes_links_without_following(root: ContainerRoot, tree: rt.Tree) -> None:
    link = root.entry("/abs_etc")
    assert link.is_symlink and link.link_target == b"/etc/hostname"
    target = root.entry("/abs_etc", follow=True)
    assert target.is_file and target.path == b"/etc/hostname"
    assert target.st.st_size == len(rt.CTR_HOSTNAME)
    assert root.entry("/").is_dir


def test_proc_is_a_marked_mount_point(root: ContainerRoot, tree: rt.Tree) -> None:
    if not tree.proc_mounted:
        pytest.skip("could not mount a procfs in the fake root")
    proc = root.entry("/proc")
    assert proc.is_mount_point
    assert proc.mount is not None and proc.mount.fstype == "proc"
    assert not root.entry("/etc").is_mount_point


def test_bind_mounted_file_is_marked(root: ContainerRoot, tree: rt.Tree) -> None:
    (tree.root / "etc" / "hosts").write_bytes(b"image hosts\n")
    (tree.base / "bind-src").write_bytes(b"bound hosts\n")
    if not rt.mount("--bind", tree.base / "bind-src", tree.root / "etc" / "hosts"):
        pytest.skip("bind mount failed")
    try:
        hosts = root.entry("/etc/hosts")
        assert hosts.is_mount_point
        assert root.read_bytes("/etc/hosts") == b"bound hosts\n"
        marked = {e.name for e in root.listdir("/etc") if e.is_mount_point}
        assert marked == {b"hosts"}
    finally:
        rt.umount(tree.root / "etc" / "hosts")


def test_walk_never_enters_symlinked_or_kernel_directories(root: ContainerRoot, tree: rt.Tree) -> None:
    skipped: list[tuple[bytes, str]] = []
    paths, entered = [], []
    for step in walk(root, "/", on_skip=lambda e, why: skipped.append((e.path, why))):
        if step.event == ENTER:
            entered.append(step.entry.path)
        if step.event in (ENTER, ITEM):
            paths.append(step.entry.path)
    assert not any(p.startswith((b"/dirlink/", b"/etclink/", b"/reldir/", b"/proc/")) for p in paths)
    assert b"/dirlink" in paths and b"/etclink" in paths  # listed, as links
    assert b"/dirlink" not in entered
    if tree.proc_mounted:
        assert (b"/proc", "proc filesystem") in skipped
    deep = [p for p in paths if p.endswith(b"/bottom.txt")]
    assert len(deep) == 1 and len(deep[0]) > 4096
    rt.host_intact(tree)


def test_walk_events_nest(root: ContainerRoot) -> None:
    depth = 0
    for step in walk(root, "/etc"):
        if step.event == ENTER:
            depth += 1
            assert step.dir_fd >= 0
        elif step.event == LEAVE:
            depth -= 1
        else:
            assert step.parent_fd >= 0
    assert depth == 0


def test_walk_of_a_file_is_one_item(root: ContainerRoot) -> None:
    steps = list(walk(root, "/etc/hostname"))
    assert [s.event for s in steps] == [ITEM]


def test_walk_can_stay_on_one_mount(root: ContainerRoot, tree: rt.Tree) -> None:
    if not tree.proc_mounted:
        pytest.skip("could not mount a procfs in the fake root")
    skipped: list[bytes] = []
    list(walk(root, "/", cross_mounts=False, on_skip=lambda e, why: skipped.append(e.path)))
    assert b"/proc" in skipped


def test_accounts_come_from_the_containers_files(root: ContainerRoot) -> None:
    accounts = root.accounts()
    assert accounts.user(1000) == "ctruser"
    assert accounts.group(1001) == "ctrgroup"
    assert accounts.user(4242) == "4242"


def test_accounts_through_a_hostile_passwd_link(tree: rt.Tree) -> None:
    os.unlink(tree.root / "etc" / "passwd")
    os.symlink(str(tree.host / "secret"), tree.root / "etc" / "passwd")  # host path: ENOENT inside
    os.unlink(tree.root / "etc" / "group")
    os.mkfifo(tree.root / "etc" / "group")  # would hang a naive reader
    with ContainerRoot.from_path(tree.root) as r:
        accounts = r.accounts()
    assert accounts.users == {} and accounts.groups == {}
    rt.host_intact(tree)


def test_subroot_confines_resolution(root: ContainerRoot, tree: rt.Tree) -> None:
    with root.subroot("/etc") as sub:
        assert sub.read_bytes("/shadow") == rt.CTR_SHADOW
        assert sub.read_bytes("/../../../hostname") == rt.CTR_HOSTNAME
        with pytest.raises(FileNotFoundError):
            sub.read_bytes("/etc/hostname")  # the outer root's /etc is not reachable from inside /etc
