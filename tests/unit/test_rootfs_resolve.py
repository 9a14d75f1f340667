"""Path resolution inside a hostile fake root: openat2 and the userspace walker must both stay inside, and agree."""

from __future__ import annotations

import errno
import os
import signal

import pytest

from ctrlens.linux import fs as _sys
from ctrlens.rootfs import ContainerRoot, Openat2Resolver, UnsafeFile, WalkResolver, fallback, resolve
from tests.unit import rootfs_tree as rt


@pytest.fixture(autouse=True)
def _no_hang():
    # A FIFO opened by mistake would block forever: fail the test instead.
    def boom(*_: object) -> None:
        raise TimeoutError("operation hung (a FIFO or device was opened?)")

    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _read(root: ContainerRoot, path: str | bytes) -> bytes | int:
    try:
        return root.read_bytes(path)
    except OSError as exc:
        return exc.errno or -1


INSIDE = {
    "/abs_etc": rt.CTR_HOSTNAME,
    "/rel": rt.CTR_HOSTNAME,
    "/etc/../../../../etc/hostname": rt.CTR_HOSTNAME,
    "/../../../../etc/hostname": rt.CTR_HOSTNAME,
    "../../etc/hostname": rt.CTR_HOSTNAME,
    "/etclink/hostname": rt.CTR_HOSTNAME,
    "/etclink/../../../etc/shadow": rt.CTR_SHADOW,
    "/dirlink/ctrfile": rt.CTR_DIR_FILE,
    "/chain1": rt.CTR_SHADOW,
    "/hard_shadow": rt.CTR_SHADOW,
}
REFUSED = {
    "/abs_host": errno.ENOENT,  # host-only path: does not exist inside
    "/dirlink/hostfile": errno.ENOENT,
    "/reldir/secret": errno.ENOENT,
    "/victim": errno.ENOENT,
    "/victim_rel": errno.ENOENT,
    "/loop1": errno.ELOOP,
    "/etc/hostname/": errno.ENOTDIR,
    "/etc/hostname/x": errno.ENOTDIR,
}


@pytest.mark.parametrize("path", sorted(INSIDE))
def test_links_resolve_to_container_files(root: ContainerRoot, tree: rt.Tree, path: str) -> None:
    assert _read(root, path) == INSIDE[path]
    rt.host_intact(tree)


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_links_out_of_the_root_do_not_reach_the_host(root: ContainerRoot, tree: rt.Tree, path: str) -> None:
    assert _read(root, path) == REFUSED[path]
    rt.host_intact(tree)


@pytest.mark.parametrize("path", ["/magic_self", "/magic_one", "/magic_fd"])
def test_magic_links_are_refused(root: ContainerRoot, tree: rt.Tree, path: str) -> None:
    if not tree.proc_mounted:
        pytest.skip("could not mount a procfs in the fake root")
    # ELOOP (RESOLVE_NO_MAGICLINKS, or the walker's rule) or EACCES (/proc/1 is locked down on this host).
    assert _read(root, path) in (errno.ELOOP, errno.EACCES)


@pytest.mark.parametrize(
    "path, kind",
    [("/fifo", "FIFO"), ("/null", "character device"), ("/kmsg", "character device"), ("/sock", "socket")],
)
def test_special_files_are_refused_before_any_open(root: ContainerRoot, path: str, kind: str) -> None:
    with pytest.raises(UnsafeFile, match=f"refusing to read {path}: {kind}"):
        root.read_bytes(path)


@pytest.mark.parametrize("path", ["/proc/kmsg", "/proc/self/status", "/proc/sys/kernel/hostname"])
def test_kernel_interface_files_are_refused(root: ContainerRoot, tree: rt.Tree, path: str) -> None:
    if not tree.proc_mounted:
        pytest.skip("could not mount a procfs in the fake root")
    with pytest.raises(UnsafeFile, match="proc file"):
        root.read_bytes(path)


def test_odd_names_are_bytes_exact(root: ContainerRoot) -> None:
    for name in rt.ODD_NAMES:
        assert root.read_bytes(b"/names/" + name) == b"odd:" + name


def test_path_beyond_path_max(root: ContainerRoot) -> None:
    path = b"/deep/" + b"/".join([rt.DEEP_NAME] * rt.DEEP_LEVELS) + b"/bottom.txt"
    assert len(path) > 4096
    # The kernel refuses such a path in one call (a clean error); the walker takes it one name at a time.
    expected = errno.ENAMETOOLONG if root.resolver.name == "openat2" else b"DEEP-BOTTOM\n"
    assert _read(root, path) == expected


def test_directory_required_where_asked(root: ContainerRoot) -> None:
    with pytest.raises(NotADirectoryError):
        root.open_dir("/etc/hostname")
    fd = root.open_dir("/etclink")  # a symlink to a directory is followed inside the root
    try:
        assert sorted(os.listdir(fd)) == ["group", "hostname", "passwd", "shadow"]
    finally:
        os.close(fd)


# --- the two resolvers agree ---------------------------------------------------------------------------------

AGREEMENT_PATHS = [
    "/",
    "",
    ".",
    "..",
    "/.",
    "/..",
    "/etc",
    "/etc/",
    "/etc/.",
    "/etc/..",
    "/etc/hostname",
    "/etc/hostname/.",
    "/abs_etc",
    "/abs_etc/",
    "/chain1",
    "/chain1/",
    "/loop1",
    "/loop1/",
    "/etclink",
    "/etclink/",
    "/dirlink",
    "/dirlink/",
    "/dirlink/ctrfile",
    "/reldir",
    "/reldir/",
    "/victim",
    "/fifo",
    "/fifo/..",
    "/nope",
    "/nope/..",
    "/names/new\nline",
    "/tmp/../etc/./hostname",
    "//etc//hostname",
]


def _outcome(res, rootfd: int, path: str, follow: bool, directory: bool) -> tuple:
    try:
        fd = res.open_path(rootfd, os.fsencode(path), follow=follow, directory=directory)
    except OSError as exc:
        return ("error", exc.errno)
    try:
        st = os.fstat(fd)
        return ("ok", st.st_dev, st.st_ino)
    finally:
        os.close(fd)


@pytest.mark.parametrize("follow", [True, False])
@pytest.mark.parametrize("directory", [False, True])
def test_walker_agrees_with_openat2(tree: rt.Tree, follow: bool, directory: bool) -> None:
    rootfd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    try:
        for path in AGREEMENT_PATHS:
            kernel = _outcome(Openat2Resolver(), rootfd, path, follow, directory)
            walker = _outcome(WalkResolver(), rootfd, path, follow, directory)
            assert walker == kernel, f"{path!r} follow={follow} directory={directory}"
    finally:
        os.close(rootfd)


def test_walker_link_limit_is_forty(tmp_path) -> None:
    os.symlink("target", tmp_path / "l0")
    (tmp_path / "target").write_bytes(b"end")
    for i in range(1, 42):
        os.symlink(f"l{i - 1}", tmp_path / f"l{i}")
    rootfd = os.open(tmp_path, os.O_PATH | os.O_DIRECTORY)
    try:
        os.close(fallback.resolve(rootfd, b"/l39"))  # 40 links: allowed, as in the kernel
        with pytest.raises(OSError) as info:
            fallback.resolve(rootfd, b"/l40")  # 41
        assert info.value.errno == errno.ELOOP
    finally:
        os.close(rootfd)


def test_walker_no_xdev_refuses_mounts(tree: rt.Tree) -> None:
    if not tree.proc_mounted:
        pytest.skip("could not mount a procfs in the fake root")
    rootfd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    try:
        for res in (Openat2Resolver(), WalkResolver()):
            with pytest.raises(OSError) as info:
                res.open_path(rootfd, b"/proc/self", no_xdev=True)
            assert info.value.errno == errno.EXDEV
            os.close(res.open_path(rootfd, b"/etc/hostname", no_xdev=True))
    finally:
        os.close(rootfd)


def test_walker_never_climbs_above_a_root_that_is_a_subdirectory(tree: rt.Tree) -> None:
    # The root is T/root; T/host is its sibling. '..' must clamp at T/root even for the walker.
    with ContainerRoot.from_path(tree.root / "etc", resolver=WalkResolver()) as r:
        assert _read(r, "/../host/secret") == errno.ENOENT
        assert _read(r, "../../root/etc/shadow") == errno.ENOENT
        assert r.read_bytes("/../../shadow") == rt.CTR_SHADOW


# --- choosing a resolver -------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [errno.ENOSYS, errno.EPERM])
def test_missing_or_denied_openat2_falls_back_to_the_walker(monkeypatch, code: int) -> None:
    def denied(*_: object, **__: object) -> int:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_sys, "openat2", denied)
    monkeypatch.setattr(resolve, "_default", None)
    monkeypatch.delenv(resolve.RESOLVER_ENV, raising=False)
    assert _sys.openat2_available() is False
    assert resolve.default_resolver().name == "walk"


def test_resolver_can_be_forced(monkeypatch) -> None:
    monkeypatch.setenv(resolve.RESOLVER_ENV, "walk")
    assert resolve.default_resolver().name == "walk"
    monkeypatch.setenv(resolve.RESOLVER_ENV, "openat2")
    assert resolve.default_resolver().name == "openat2"


def test_eagain_is_retried(monkeypatch, tree: rt.Tree) -> None:
    real = resolve.openat2
    calls = {"n": 0}

    def flaky(*args: object) -> int:
        calls["n"] += 1
        if calls["n"] < 3:
            raise BlockingIOError(errno.EAGAIN, "try again")
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(resolve, "openat2", flaky)
    rootfd = os.open(tree.root, os.O_PATH | os.O_DIRECTORY)
    try:
        os.close(Openat2Resolver().open_path(rootfd, b"/etc/hostname"))
        assert calls["n"] == 3
        monkeypatch.setattr(
            resolve, "openat2", lambda *a: (_ for _ in ()).throw(BlockingIOError(errno.EAGAIN, ""))
        )
        with pytest.raises(OSError) as info:
            Openat2Resolver().open_path(rootfd, b"/etc/hostname")
        assert info.value.errno == errno.EAGAIN
    finally:
        os.close(rootfd)
