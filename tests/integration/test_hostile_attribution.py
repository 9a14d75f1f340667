"""Hostile containers and a hostile local user against attribution, on real Docker, Podman and LXC.

1. Containers whose init poses as each runtime's shim or helper (comm and argv: `containerd-shim-runc-v2 -id
   <another container>`, `conmon -c <another>`, `[lxc monitor] PATH <another>`, `runc init`, `podman container
   cleanup`): each is still listed with its own identity by `containers` and `ps`, `audit NAME` runs normally,
   and the container whose identity was claimed keeps exactly its own processes.
2. A local user (uid 65534) runs fake `conmon`, `containerd-shim`, `[lxc monitor]` and `dockerd` processes pointing
   at metadata it owns: a FIFO, 200k-deep JSON, a 2 GB file, a symlink, a plausible file. Root's `containers` and
   `ps` finish (under a timeout), list no fake container, and `fs ls FAKE /` never reaches the host's root.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

SOURCE = Path(__file__).parent / "data" / "disguise.c"
NOBODY = 65534
TIMEOUT = 90


def ctrlens(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens")
    cmd = [exe, *args] if exe else [sys.executable, "-m", "ctrlens.cli", *args]
    # Other tests' hostile containers may put undecodable bytes in ps output (the text policy is not tested here).
    return subprocess.run(
        cmd, capture_output=True, text=True, errors="surrogateescape", timeout=TIMEOUT, check=False
    )


def ctrlens_json(*args: str):
    out = ctrlens(*args, "-o", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def disguise(tmp_path_factory) -> Path:
    """The static impostor binary (root-owned, 0755), bind-mountable into busybox containers."""
    out = tmp_path_factory.mktemp("disguise") / "disguise"
    subprocess.run(["gcc", "-static", "-O2", "-s", "-o", str(out), str(SOURCE)], check=True, timeout=120)
    out.parent.chmod(0o755)
    return out


def disguises(victims: dict[str, str], lxcpath: str) -> dict[str, tuple[str, str, list[str]]]:
    """name -> (comm, argv0, args): each runtime's shim and helpers, the shims claiming a victim's identity."""
    return {
        "containerd-shim": (
            "containerd-shim",
            "/usr/bin/containerd-shim-runc-v2",
            ["-namespace", "moby", "-id", victims["docker"], "-address", "/run/containerd/containerd.sock"],
        ),
        "conmon": (
            "conmon",
            "/usr/bin/conmon",
            [
                "--api-version",
                "1",
                "-c",
                victims["podman"],
                "-n",
                "victim",
                "--exit-command",
                "/usr/bin/podman",
            ],
        ),
        "lxc-monitor": ("lxc-start", f"[lxc monitor] {lxcpath} {victims['lxc']}", []),
        "runc-init": ("runc:[2:INIT]", "runc", ["init"]),
        "podman-cleanup": ("podman", "/usr/bin/podman", ["container", "cleanup", victims["podman"]]),
    }


def _start_hostile(testbed, engine: str, name: str, disguise: Path, comm: str, argv0: str, args: list[str]):
    env = ["-e", f"DISGUISE_ARGV0={argv0}", "-e", f"DISGUISE_COMM={comm}"]
    mount = ["-v", f"{disguise}:/disguise:ro"]
    if engine == "docker":
        return testbed.run_docker(name, *mount, *env, cmd=["/disguise", *args])
    if engine == "podman":
        return testbed.run_podman(name, *mount, *env, cmd=["/disguise", *args])
    started = testbed.run_lxc(name)
    rootfs = testbed.paths.lxc / name / "rootfs"
    shutil.copy(disguise, rootfs / "disguise")
    subprocess.Popen(
        [
            "lxc-attach",
            "-P",
            str(testbed.paths.lxc),
            "-n",
            name,
            "--clear-env",
            "--set-var",
            f"DISGUISE_ARGV0={argv0}",
            "--set-var",
            f"DISGUISE_COMM={comm}",
            "--",
            "/disguise",
            *args,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return started


@pytest.fixture(scope="module")
def hostile(testbed, disguise):
    """Victims (one per engine) plus one impostor container per engine and disguise."""
    made = []
    try:
        victims = {
            "docker": testbed.run_docker(unique_name("victim")),
            "podman": testbed.run_podman(unique_name("victim")),
            "lxc": testbed.run_lxc(unique_name("victim")),
        }
        made.extend(victims.values())
        ids = {engine: s.id for engine, s in victims.items()}
        table = disguises(ids, str(testbed.paths.lxc))
        impostors = {}
        for engine in ("docker", "podman", "lxc"):
            for kind, (comm, argv0, args) in table.items():
                started = _start_hostile(testbed, engine, unique_name("hide"), disguise, comm, argv0, args)
                made.append(started)
                impostors[(engine, kind)] = started
        _wait_for_disguises(impostors, table)
        yield victims, impostors, table
    finally:
        for started in made:
            testbed.remove(started)


def _wait_for_disguises(impostors, table, timeout: float = 20.0) -> None:
    """Until every impostor's disguised process runs (LXC's is attached after start)."""
    deadline = time.monotonic() + timeout
    wanted = {argv0 for _, argv0, _ in table.values()}
    while time.monotonic() < deadline:
        seen = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
            except OSError:
                continue
            seen += argv0 in wanted
        if seen >= 2 * len(impostors):  # each impostor and its worker
            return
        time.sleep(0.2)
    raise AssertionError("the disguised processes did not all start")


def test_disguised_containers_are_listed_with_their_own_identity(hostile):
    victims, impostors, _ = hostile
    listed = {c["id"]: c for c in ctrlens_json("containers")}
    for (engine, kind), started in impostors.items():
        assert started.id in listed, f"{engine} container disguised as {kind} vanished"
        c = listed[started.id]
        assert c["runtime"] == engine and c["name"] == started.name, (engine, kind, c)
        assert c["process_count"] >= 1
    for engine, victim in victims.items():
        c = listed[victim.id]
        assert c["name"] == victim.name and c["runtime"] == engine
        # Its real shim/monitor is still recognised, and no impostor took its place.
        assert c["shim_pid"] is not None, (engine, c["evidence"])
        assert os.readlink(f"/proc/{c['shim_pid']}/exe") != "/disguise"


def test_ps_never_takes_a_disguised_process_for_a_shim_or_a_host_process(hostile):
    victims, impostors, table = hostile
    procs = ctrlens_json("ps")
    by_pid = {p["pid"]: p for p in procs}
    disguised_argv0 = {argv0 for _, argv0, _ in table.values()}
    impostor_ids = {s.id for s in impostors.values()}
    found = 0
    for p in procs:
        if not p["argv"] or p["argv"][0] not in disguised_argv0:
            continue
        container = p["container"]
        if container is None or container["id"] not in impostor_ids:
            continue  # the real runtime's own processes (the shims of these very containers)
        found += 1
        assert p["role"] is None, p
    assert found >= 2 * len(impostors)
    for (engine, kind), started in impostors.items():
        init = by_pid.get(started.pid)
        if engine != "lxc":
            assert init is not None and init["container"]["id"] == started.id, (engine, kind)
    # The claimed identities: each victim keeps exactly its own processes.
    for engine, victim in victims.items():
        members = [p for p in procs if p["container"] and p["container"]["id"] == victim.id]
        assert members and all(p["argv"][:1] != ["/disguise"] for p in members)
        assert not any(p["argv"] and p["argv"][0] in disguised_argv0 for p in members), (engine, members)


def test_audit_of_a_disguised_container_runs_normally(hostile):
    _, impostors, _ = hostile
    for (engine, kind), started in impostors.items():
        out = ctrlens("audit", started.name, "-o", "json")
        assert out.returncode in (0, 1), (engine, kind, out.returncode, out.stderr)
        assert json.loads(out.stdout)


# ---- a local unprivileged user fakes runtimes ------------------------------------------------------------------

VARIANTS = ("fifo", "deep", "huge", "symlink", "plausible")


def _as_nobody(path: Path) -> None:
    os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def _plant(path: Path, variant: str, plausible: bytes) -> None:
    """A metadata file the user controls, in one of the hostile shapes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if variant == "fifo":
        os.mkfifo(path)
    elif variant == "deep":
        path.write_bytes(b"[" * 200_000 + b"]" * 200_000)
    elif variant == "huge":
        with open(path, "wb") as f:
            f.truncate(2 << 30)
    elif variant == "symlink":
        decoy = path.parent / "decoy"
        decoy.write_bytes(plausible)
        _as_nobody(decoy)
        path.symlink_to(decoy)
    else:
        path.write_bytes(plausible)
    _as_nobody(path)


@pytest.fixture(scope="module")
def fake_runtimes(testbed, disguise):
    """Fake conmon / containerd-shim / [lxc monitor] / dockerd processes of uid 65534, one per metadata variant."""
    home = Path(tempfile.mkdtemp(prefix="ctrlens-nobody-"))  # pytest's tmp dirs are root-only (0700)
    home.chmod(0o755)
    _as_nobody(home)
    binary = home / "conmon"  # the user's own copy: not a root-owned host binary
    shutil.copy(disguise, binary)
    _as_nobody(binary)
    procs: list[subprocess.Popen[bytes]] = []
    fakes: dict[str, str] = {}  # fake id -> the name its metadata claims

    def spawn(comm: str, argv0: str, args: list[str]) -> None:
        env = {"DISGUISE_ARGV0": argv0, "DISGUISE_COMM": comm, "PATH": "/usr/bin:/bin"}
        procs.append(
            subprocess.Popen(
                ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", str(binary), *args],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    try:
        for variant in VARIANTS:
            fid, name = secrets.token_hex(32), f"FAKE-{variant}"
            fakes[fid] = name
            storage = home / variant / "storage"
            bundle = storage / "overlay-containers" / fid / "userdata"
            listing = [
                {"id": fid, "names": [name], "metadata": json.dumps({"image-name": "fake:1", "name": name})}
            ]
            _plant(storage / "overlay-containers" / "containers.json", variant, json.dumps(listing).encode())
            _plant(bundle / "config.json", variant, json.dumps({"annotations": {"fake": name}}).encode())
            spawn(
                "conmon",
                "/usr/bin/conmon",
                [
                    "--api-version",
                    "1",
                    "-c",
                    fid,
                    "-u",
                    fid,
                    "-r",
                    "/usr/bin/runc",
                    "-b",
                    str(bundle),
                    "-n",
                    name,
                    "--exit-command",
                    "/usr/bin/podman",
                ],
            )
            # containerd-shim + a dockerd naming the user's data root
            data_root = home / variant / "docker"
            config = {"Name": "/" + name, "Config": {"Image": "fake:1"}, "State": {}}
            _plant(data_root / "containers" / fid / "config.v2.json", variant, json.dumps(config).encode())
            spawn(
                "containerd-shim",
                "/usr/bin/containerd-shim-runc-v2",
                ["-namespace", "moby", "-id", fid, "-address", "/run/containerd/containerd.sock"],
            )
            spawn("dockerd", "dockerd", ["--data-root", str(data_root)])
            # [lxc monitor] LXCPATH NAME
            lxcpath = home / variant / "lxc"
            _plant(
                lxcpath / name / "config",
                variant,
                f"lxc.uts.name = {name}\nlxc.rootfs.path = dir:/\n".encode(),
            )
            spawn("lxc-start", f"[lxc monitor] {lxcpath} {name}", [])
            fakes[name] = name
        time.sleep(0.5)
        assert all(p.poll() is None for p in procs), "a fake runtime process did not start"
        yield fakes, procs
    finally:
        for p in procs:
            _kill_with_children(p)
        shutil.rmtree(home, ignore_errors=True)


def _kill_with_children(proc: subprocess.Popen[bytes]) -> None:
    """The impostor and the one worker it forked (by pid: never by name)."""
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        children = []
    for child in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(child), 9)
    proc.kill()
    proc.wait(timeout=10)


def test_root_commands_finish_and_list_no_fake_container(fake_runtimes):
    fakes, procs = fake_runtimes
    fake_pids = {p.pid for p in procs}
    started = time.monotonic()
    listed = ctrlens_json("containers")
    assert time.monotonic() - started < TIMEOUT
    names = {c["name"] for c in listed}
    ids = {c["id"] for c in listed}
    assert not names & set(fakes.values()), names & set(fakes.values())
    assert not ids & set(fakes), ids & set(fakes)
    assert all(not (c["image"] or "").startswith("fake:") for c in listed)
    for p in ctrlens_json("ps"):
        if p["pid"] in fake_pids or p["ppid"] in fake_pids:
            assert p["container"] is None and p["role"] is None, p


def test_fs_on_a_fake_name_never_reaches_the_host_root(fake_runtimes):
    fakes, _ = fake_runtimes
    for name in ["FAKE-plausible", "FAKE-symlink", *list(fakes)[:2]]:
        out = ctrlens("fs", "ls", name, "/")
        assert out.returncode == 3, (name, out.returncode, out.stdout[:200], out.stderr)
        assert "etc" not in out.stdout.split()


def test_a_real_container_keeps_its_name_despite_a_fake_dockerd_data_root(fake_runtimes, testbed):
    started = testbed.run_docker(unique_name("real"))
    try:
        listed = {c["id"]: c for c in ctrlens_json("containers")}
        assert listed[started.id]["name"] == started.name
    finally:
        testbed.remove(started)
