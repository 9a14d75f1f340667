"""The overlay diff on fake upper/lower trees: whiteouts made with mknod 0 0, opaque dirs with the trusted xattr.

These are the kernel's on-disk conventions (Documentation/filesystems/overlayfs.rst), so a plain directory pair
stands for a real mount. Needs root (mknod, trusted.* xattrs), like the engines do.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from pathlib import Path

import pytest

from ctrlens.diff.image import ImageView
from ctrlens.diff.model import DEVICE, FIFO_OR_SOCKET, NEW_EXECUTABLE, SETUID, SHADOWS_IMAGE
from ctrlens.diff.overlay import STYLE_DOCKER, STYLE_PODMAN, OverlayDiff, hide_podman_mount_points
from ctrlens.rootfs.root import ContainerRoot
from ctrlens.text import dumps

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mknod and trusted.* xattrs need root")

ELF = b"\x7fELF\x02\x01\x01" + b"\0" * 57


def write(path: Path, data: bytes = b"x", mode: int = 0o644, mtime: int | None = 1_600_000_000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def whiteout(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def opaque(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def same_dir_times(*dirs: Path) -> None:
    """Copied-up directories keep the image's times; make the fake ones alike (deepest first)."""
    for d in dirs:
        os.utime(d, (1_600_000_000, 1_600_000_000))


@pytest.fixture
def layers(tmp_path: Path) -> tuple[Path, Path, Path]:
    upper, low1, low2 = (
        tmp_path / "upper",
        tmp_path / "low1",
        tmp_path / "low2",
    )  # low1 is the top lower layer
    for d in (upper, low1, low2):
        d.mkdir()
    # The image: /etc/{passwd,group,motd}, /bin/{sh (ELF, 0755), ls}, /usr/sbin/{a,b}, /opt/old
    write(low2 / "etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    write(low2 / "etc/group", b"root:x:0:\n")
    write(low2 / "bin/sh", ELF, 0o755)
    write(low2 / "bin/ls", ELF, 0o755)
    write(low2 / "usr/sbin/a", b"a")
    write(low2 / "usr/sbin/b", b"b")
    write(low1 / "etc/motd", b"hello\n")
    write(low1 / "opt/old", b"o")
    for layer in (low1, low2):
        same_dir_times(*(Path(d) for d, _, _ in os.walk(layer)))
    return upper, low1, low2


def run(upper: Path, lowers: list[Path], style: str = STYLE_DOCKER, hash: bool = False) -> OverlayDiff:
    with ContainerRoot.from_path(str(upper)) as root, ImageView([str(p) for p in lowers]) as image:
        walker = OverlayDiff(root, image, style=style, hash=hash)
        walker.run()
    return walker


def kinds(walker: OverlayDiff) -> set[tuple[str, str]]:
    return {(c.kind, c.path.decode()) for c in walker.changes}


def by_path(walker: OverlayDiff, path: str):  # -> Change
    return next(c for c in walker.changes if c.path == path.encode())


def test_added_changed_deleted_with_parents_as_docker_shows_them(layers):
    upper, low1, low2 = layers
    write(upper / "etc/passwd", b"root:x:0:0::/root:/bin/sh\nevil:x:0:0::/:/bin/sh\n", mtime=None)
    whiteout(upper / "etc/group")
    write(upper / "root/notes.txt", b"n", mtime=None)
    same_dir_times(upper / "etc")
    assert kinds(run(upper, [low1, low2])) == {
        ("C", "/etc"),
        ("C", "/etc/passwd"),
        ("D", "/etc/group"),
        ("A", "/root"),
        ("A", "/root/notes.txt"),
    }


def test_podman_style_reports_a_parent_only_for_adds_and_deletes(layers):
    upper, low1, low2 = layers
    write(upper / "etc/passwd", b"changed", mtime=None)
    write(upper / "bin/sh", b"#!/bin/true\n", 0o755, mtime=None)
    whiteout(upper / "bin/ls")
    same_dir_times(upper / "etc", upper / "bin")
    assert kinds(run(upper, [low1, low2], STYLE_PODMAN)) == {
        ("C", "/etc/passwd"),  # /etc has the image's times and no A/D inside: not listed
        ("C", "/bin/sh"),
        ("D", "/bin/ls"),
        ("C", "/bin"),  # /bin as the parent of a D
    }


def test_replaced_directory_docker_lists_what_it_hides(layers):
    upper, low1, low2 = layers
    opaque(upper / "usr/sbin")
    write(upper / "usr/sbin/b", b"new b", mtime=None)
    write(upper / "usr/sbin/c", b"c", mtime=None)
    same_dir_times(upper / "usr")
    assert kinds(run(upper, [low1, low2])) == {
        ("C", "/usr"),
        ("C", "/usr/sbin"),
        ("D", "/usr/sbin/a"),
        ("C", "/usr/sbin/b"),
        ("A", "/usr/sbin/c"),
    }


def test_replaced_directory_podman_deletes_it_and_lists_the_new_content(layers):
    upper, low1, low2 = layers
    opaque(upper / "usr/sbin")
    write(upper / "usr/sbin/b", b"new b", mtime=None)
    write(upper / "usr/sbin/c", b"c", mtime=None)
    same_dir_times(upper / "usr")
    assert kinds(run(upper, [low1, low2], STYLE_PODMAN)) == {
        ("C", "/usr"),
        ("D", "/usr/sbin"),
        ("C", "/usr/sbin/b"),
        ("A", "/usr/sbin/c"),
    }


def test_whiteout_in_a_lower_layer_means_the_image_lacks_the_file(layers):
    upper, low1, low2 = layers
    whiteout(low1 / "etc/passwd")  # the top image layer deleted it
    write(upper / "etc/passwd", b"again", mtime=None)
    same_dir_times(upper / "etc")
    assert ("A", "/etc/passwd") in kinds(run(upper, [low1, low2]))


def test_opaque_directory_in_a_lower_layer_hides_deeper_layers(layers):
    upper, low1, low2 = layers
    opaque(low1 / "usr/sbin")
    write(low1 / "usr/sbin/z", b"z")
    write(
        upper / "usr/sbin/a", b"a again", mtime=None
    )  # /usr/sbin/a is only in low2, hidden by low1's opaque dir
    write(upper / "usr/sbin/z", b"z changed", mtime=None)
    result = kinds(run(upper, [low1, low2]))
    assert ("A", "/usr/sbin/a") in result
    assert ("C", "/usr/sbin/z") in result


def test_new_executables_and_shadowed_image_files_are_flagged_and_ordered_first(layers, tmp_path):
    upper, low1, low2 = layers
    write(upper / "tmp/dropper", ELF, 0o755, mtime=None)
    write(upper / "tmp/script", b"#!/bin/sh\necho hi\n", 0o700, mtime=None)
    write(upper / "tmp/notexec", ELF, 0o644, mtime=None)  # no exec bit: not runnable as is
    write(upper / "tmp/data", b"plain", 0o755, mtime=None)  # exec bit, no magic
    write(upper / "bin/sh", ELF + b"trojan", 0o755, mtime=None)  # replaces an image executable
    write(upper / "etc/motd", b"hacked\n", 0o644, mtime=None)
    write(upper / "usr/local/bin/suid", b"x", 0o4755, mtime=None)
    walker = run(upper, [low1, low2])
    assert NEW_EXECUTABLE in by_path(walker, "/tmp/dropper").flags
    assert NEW_EXECUTABLE in by_path(walker, "/tmp/script").flags
    assert by_path(walker, "/tmp/notexec").flags == []
    assert by_path(walker, "/tmp/data").flags == []
    assert by_path(walker, "/bin/sh").flags == [SHADOWS_IMAGE]
    assert by_path(walker, "/etc/motd").flags == [SHADOWS_IMAGE]
    assert SETUID in by_path(walker, "/usr/local/bin/suid").flags
    from ctrlens.diff.model import DiffResult

    result = DiffResult("id", "n", "docker", "overlay", "docker", changes=walker.changes)
    first = [c.path.decode() for c in result.ordered()[:4]]
    assert set(first[:2]) == {"/tmp/dropper", "/tmp/script"}
    assert set(first[2:]) == {"/bin/sh", "/etc/motd"}
    assert result.summary()["new_executables"] == 2


def test_identical_copy_up_is_a_change_for_podman_only(layers):
    upper, low1, low2 = layers
    write(upper / "etc/passwd", (low2 / "etc/passwd").read_bytes())  # same size, mode and mtime
    same_dir_times(upper / "etc")
    assert kinds(run(upper, [low1, low2])) == set()
    assert kinds(run(upper, [low1, low2], STYLE_PODMAN)) == {("C", "/etc/passwd")}


def test_hostile_upper_entries_are_described_never_followed_or_opened(layers, tmp_path):
    upper, low1, low2 = layers
    marker = tmp_path / "host-secret"
    marker.write_bytes(b"HOST-MARKER-ONLY-ON-THE-HOST\n")
    host_dir = tmp_path / "hostdir"
    write(host_dir / "inside", b"HOST-DIR-MARKER")
    upper.mkdir(exist_ok=True)
    os.symlink(str(marker), upper / "evil")  # absolute link to a host file
    os.symlink(str(host_dir), upper / "evildir")  # a directory link: must not be entered
    os.mkfifo(upper / "fifo")  # opening it for reading would block
    os.mknod(upper / "mem", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a device node (here /dev/null)
    signal.signal(signal.SIGALRM, lambda *a: (_ for _ in ()).throw(TimeoutError("the walk blocked")))
    signal.alarm(10)
    try:
        walker = run(upper, [low1, low2], hash=True)
    finally:
        signal.alarm(0)
    evil = by_path(walker, "/evil")
    assert evil.type == "symlink" and evil.link_target == str(marker).encode() and evil.sha256 is None
    assert by_path(walker, "/evildir").type == "symlink"
    assert not any(c.path.startswith(b"/evildir/") for c in walker.changes)
    assert FIFO_OR_SOCKET in by_path(walker, "/fifo").flags and by_path(walker, "/fifo").sha256 is None
    assert DEVICE in by_path(walker, "/mem").flags and by_path(walker, "/mem").sha256 is None


def test_hash_of_added_files(layers):
    upper, low1, low2 = layers
    write(upper / "root/a", b"abc", mtime=None)
    walker = run(upper, [low1, low2], hash=True)
    assert (
        by_path(walker, "/root/a").sha256
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_names_that_are_not_utf8_survive(layers):
    upper, low1, low2 = layers
    (upper / "tmp").mkdir()
    with open(os.path.join(os.fsencode(upper / "tmp"), b"bad\xffname"), "wb") as f:
        f.write(b"x")
    walker = run(upper, [low1, low2])
    change = next(c for c in walker.changes if c.path.startswith(b"/tmp/bad"))
    assert change.path == b"/tmp/bad\xffname"
    shown = json.loads(dumps(change.to_dict()))  # through the output boundary (ctrlens.text)
    assert shown["path"] == "/tmp/bad\\xffname" and bytes.fromhex(shown["path_hex"]) == b"/tmp/bad\xffname"


def test_podman_mount_points_are_hidden_unless_they_hold_data(layers):
    upper, low1, low2 = layers
    write(upper / "etc/hosts", b"", mtime=None)
    write(upper / "etc/hostname", b"planted data", mtime=None)
    write(upper / "run/.containerenv", b"", mtime=None)
    changes = hide_podman_mount_points(run(upper, [low1, low2], STYLE_PODMAN).changes)
    paths = {c.path for c in changes}
    assert b"/etc/hosts" not in paths and b"/run/.containerenv" not in paths and b"/run" not in paths
    assert b"/etc/hostname" in paths
