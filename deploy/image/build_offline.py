#!/usr/bin/env python3
"""Build the ctrlens image with no registry and no package index: for air-gapped hosts and for the tests.

1. base: a root filesystem holding this host's Debian python3 (interpreter, standard library, pip, and the
   shared libraries they link), `docker import`ed as BASE. No image is pulled.
2. wheels: ctrlens built from this source tree, and its dependencies repacked as wheels from the distributions
   installed in the running Python (their RECORD lists every file, so nothing is fetched).
3. `docker build --network none` of deploy/image/Containerfile FROM that base.

usage: python deploy/image/build_offline.py [--tag ctrlens:dev] [--base-tag ctrlens-base:local]
                                            [--docker '/usr/bin/docker --host unix:///run/docker.sock']
Needs Debian's python3, python3-pip, python3-setuptools and python3-wheel, and the running Python to have
ctrlens's extras installed (pip install -e '.[exporter,secrets]').
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PYTHON = "/usr/bin/python3.11"  # Debian's: /usr/lib/python3.11 and its pip are what the base copies
STDLIB = "/usr/lib/python3.11"
DIST_PACKAGES = "/usr/lib/python3/dist-packages"
EXTRAS = ("exporter", "secrets")  # what the Containerfile installs: ctrlens[exporter,secrets]
SKIP_STDLIB = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "EXTERNALLY-MANAGED")

Docker = Callable[..., subprocess.CompletedProcess]


def _libraries(binaries: Sequence[str]) -> set[str]:
    """The shared libraries (and the loader) that `binaries` link, as resolved by ldd on this host."""
    found: set[str] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            match = re.search(r"(/\S+)", line.split("=>")[-1])
            if match and os.path.exists(match.group(1)):
                found.add(match.group(1))
    return found


class _Tar:
    """A tarfile that adds each path once (docker import refuses duplicates)."""

    def __init__(self, tar: tarfile.TarFile) -> None:
        self.tar = tar
        self.names: set[str] = set()

    def add(self, source: str, arcname: str, **kwargs) -> None:
        if arcname in self.names:
            return
        self.names.add(arcname)
        self.tar.add(source, arcname=arcname, recursive=False)
        if os.path.isdir(source) and not os.path.islink(source) and kwargs.get("recursive", True):
            skip = kwargs.get("skip")
            for entry in sorted(os.listdir(source)):
                child_arc = f"{arcname}/{entry}"
                if skip is None or not skip(child_arc):
                    self.add(os.path.join(source, entry), child_arc, **kwargs)

    def addfile(self, info: tarfile.TarInfo, data: bytes | None = None) -> None:
        if info.name in self.names:
            return
        self.names.add(info.name)
        self.tar.addfile(info, io.BytesIO(data) if data is not None else None)


def base_rootfs(out: Path) -> Path:
    """A tarball of the host's Debian python3: enough for pip and ctrlens, nothing else."""
    if not os.path.exists(PYTHON):
        raise SystemExit(
            f"{PYTHON} not found: install Debian's python3 (apt-get install python3 python3-pip)"
        )
    dynload = [str(p) for p in Path(STDLIB, "lib-dynload").glob("*.so")]
    with tarfile.open(out, "w") as raw:
        tar = _Tar(raw)
        for directory in (
            "tmp",
            "usr/bin",
            "usr/local/bin",
            "usr/local/lib/python3.11/dist-packages",
            "etc",
            "root",
            "proc",
            "sys",
            "dev",
            "host",
        ):
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755
            tar.addfile(info)
        for link, target in (
            ("usr/bin/python3", "python3.11"),
            ("bin", "usr/bin"),
            ("lib", "usr/lib"),
            ("lib64", "usr/lib64"),
        ):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        for lib in sorted(_libraries([PYTHON, *dynload])):
            real = os.path.realpath(lib)
            # /lib is a symlink to usr/lib in the image: store every library under usr/.
            for path in {lib, real}:
                arc = path.lstrip("/")
                arc = arc if arc.startswith("usr/") else "usr/" + arc
                tar.add(real, arcname=arc)
        tar.add(PYTHON, arcname=PYTHON.lstrip("/"))
        tar.add(STDLIB, arcname=STDLIB.lstrip("/"), skip=_skipped)
        for entry in sorted(Path(DIST_PACKAGES).glob("pip*")):
            tar.add(str(entry), arcname=str(entry).lstrip("/"), skip=lambda arc: "__pycache__" in arc)
        for name, text in (
            ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n"),
            ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, data)
    return out


def _skipped(name: str) -> bool:
    rel = name.removeprefix(STDLIB.lstrip("/")).lstrip("/")
    return rel.split("/", 1)[0] in SKIP_STDLIB or "__pycache__" in rel.split("/")


def ctrlens_wheel(wheels: Path, workdir: Path) -> Path:
    """The ctrlens wheel from a copy of this source tree (the build writes build/ and egg-info beside its input),
    built by Debian's python3 with its setuptools and wheel: no build isolation, no index."""
    tree = workdir / "source"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (REPO / name).exists():
            shutil.copy(REPO / name, tree / name)
    shutil.copytree(REPO / "src", tree / "src", ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    result = subprocess.run(
        [
            PYTHON,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            "--wheel-dir",
            str(wheels),
            str(tree),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(
            "building the ctrlens wheel failed (apt-get install python3-setuptools python3-wheel?): "
            + result.stderr.strip()[-400:]
        )
    return next(wheels.glob("ctrlens-*.whl"))


def requirements(extras: Sequence[str]) -> list[str]:
    """Installed distributions that `ctrlens[extras]` needs, transitively (names as installed)."""
    wanted, seen = ["ctrlens"], set()
    order: list[str] = []
    active = {"ctrlens": set(extras)}
    while wanted:
        name = wanted.pop()
        key = _norm(name)
        if key in seen:
            continue
        seen.add(key)
        dist = metadata.distribution(name)
        if key != "ctrlens":
            order.append(dist.metadata["Name"])
        for req in dist.requires or []:
            req_name, marker = _requirement(req)
            if marker is None or _marker_holds(marker, active.get(name, set())):
                wanted.append(req_name)
    return sorted(order, key=_norm)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement(req: str) -> tuple[str, str | None]:
    spec, _, marker = req.partition(";")
    name = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert name is not None, req
    return name.group(1), marker.strip() or None


def _marker_holds(marker: str, extras: set[str]) -> bool:
    """Enough of PEP 508 for dependency metadata: `extra == "x"` and python_version / sys_platform checks."""
    extra = re.search(r"extra\s*==\s*['\"]([^'\"]+)['\"]", marker)
    if extra:
        return extra.group(1) in extras
    env = {
        "python_version": f"{sys.version_info.major}.{sys.version_info.minor}",
        "sys_platform": sys.platform,
        "platform_system": "Linux",
        "os_name": os.name,
        "implementation_name": sys.implementation.name,
        "platform_python_implementation": "CPython",
    }
    try:
        from packaging.markers import Marker

        return Marker(marker).evaluate(env)
    except ImportError:
        return False  # without `packaging`, leave out conditional dependencies (none are needed on Linux)


def repack(name: str, wheels: Path) -> Path:
    """A wheel of an installed distribution, from the files its RECORD lists (`pip install` reads it back)."""
    dist = metadata.distribution(name)
    info_dir = Path(str(dist._path))  # type: ignore[attr-defined]  # the .dist-info directory
    site = info_dir.parent
    wheel_meta = (info_dir / "WHEEL").read_text()
    tags = [line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")]
    dist_name = re.sub(r"[-.]+", "_", dist.metadata["Name"])
    out = wheels / f"{dist_name}-{dist.version}-{tags[0] if tags else 'py3-none-any'}.whl"
    record_name = f"{info_dir.name}/RECORD"
    rows = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as whl:
        for file in dist.files or []:
            rel = str(file)
            if rel == record_name or rel.endswith((".pyc", "/INSTALLER", "/REQUESTED", "/direct_url.json")):
                continue
            path = (site / rel).resolve()
            if rel.startswith("..") or not path.is_file():
                continue  # console scripts live outside site-packages: pip writes them again
            data = path.read_bytes()
            whl.writestr(rel, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append((rel, f"sha256={digest}", str(len(data))))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([*rows, (record_name, "", "")])
        whl.writestr(record_name, buf.getvalue())
    return out


def build(docker: Docker, *, tag: str, base_tag: str, workdir: Path, extras: Sequence[str] = EXTRAS) -> str:
    """Build `tag`; returns the image ID. `docker(*args)` runs the docker CLI (raising on failure)."""
    rootfs = base_rootfs(workdir / "base.tar")
    docker("import", "--change", 'CMD ["/usr/bin/python3"]', str(rootfs), base_tag)
    context = workdir / "context"
    wheels = context / "wheels"
    wheels.mkdir(parents=True)
    ctrlens_wheel(wheels, workdir)
    for name in requirements(extras):
        repack(name, wheels)
    shutil.copy(HERE / "Containerfile", context / "Containerfile")
    docker(
        "build",
        "--network",
        "none",
        "--quiet",
        "--build-arg",
        f"BASE={base_tag}",
        "-f",
        str(context / "Containerfile"),
        "-t",
        tag,
        str(context),
    )
    return docker("image", "inspect", "-f", "{{.Id}}", tag).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\nusage")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tag", default="ctrlens:dev", help="the image to build (default ctrlens:dev)")
    parser.add_argument(
        "--base-tag",
        default="ctrlens-base:local",
        help="the imported base image (default ctrlens-base:local)",
    )
    parser.add_argument(
        "--docker", default="docker", help="the docker CLI, with options (e.g. '--host unix://…')"
    )
    args = parser.parse_args()
    cli = shlex.split(args.docker)

    def docker(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([*cli, *argv], check=True, capture_output=True, text=True)

    with tempfile.TemporaryDirectory(prefix="ctrlens-image-") as tmp:
        try:
            image = build(docker, tag=args.tag, base_tag=args.base_tag, workdir=Path(tmp))
        except subprocess.CalledProcessError as exc:
            print(
                f"build_offline: {' '.join(exc.cmd[:3])}… failed: {(exc.stderr or '').strip()[-400:]}",
                file=sys.stderr,
            )
            return 1
    print(f"{args.tag} {image}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
