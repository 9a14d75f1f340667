"""ctrlens audit next to its peers, on real containers of the testbed.

- CIS ids and verdicts against docker-bench-security v1.6.0's section 5: its numbering table is vendored in
  tests/data/docker-bench-security-1.6.0-section5.json (source named there), and its checks, which read
  `docker inspect`, are transcribed below as predicates on the same containers' real `docker inspect` output.
  For every posture, each compared CIS id must get the same verdict from ctrlens (a finding carrying that id)
  as from docker-bench-security, except the divergences listed in KNOWN_DIVERGENCES (docs/audit.md says why).
- Device allow-lists per runtime: `--device /dev/kmsg` and `--device /dev/fuse` on Docker are findings (moby
  denies fuse and never allows kmsg); LXC's own default (its common.conf) allows fuse and is not.
- The restart-policy rule (CIS 5.15) on `always`, `on-failure` without and with a limit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

BENCH = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "docker-bench-security-1.6.0-section5.json").read_text()
)
BENCHMARK = "CIS Docker Benchmark v1.6.0"
HARDENED = ("--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only", "--user", "65534",
            "--memory", "64m", "--pids-limit", "100", "--cpus", "1", "--cpu-shares", "512",
            "--restart", "on-failure:3")  # fmt: skip
PRIVLIKE = ("--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE", "--security-opt", "seccomp=unconfined",
            "--security-opt", "systempaths=unconfined", "--device-cgroup-rule", "a *:* rwm")  # fmt: skip
POSTURES: dict[str, tuple[str, ...]] = {
    "default": (),
    "hardened": HARDENED,
    "pidhost": ("--pid", "host"),
    "nethost": ("--network", "host"),
    "ipchost": ("--ipc", "host"),
    "utshost": ("--uts", "host"),
    "capadd": ("--cap-add", "SYS_ADMIN"),
    "capdefault": ("--cap-add", "NET_RAW"),  # already in Docker's default set: not an added capability
    "seccomp": ("--security-opt", "seccomp=unconfined"),
    "privlike": PRIVLIKE,
    "etc-rw": ("-v", "/etc:/host-etc"),
    "kmsg": ("--device", "/dev/kmsg"),
    "fuse": ("--device", "/dev/fuse"),
    "restart-10": ("--restart", "on-failure:10"),
    "restart-always": ("--restart", "always"),
    "restart-unlimited": ("--restart", "on-failure"),
}
# CIS ids ctrlens has a rule for and docker-bench-security decides from `docker inspect`.
COMPARED = ("5.2", "5.4", "5.5", "5.6", "5.10", "5.11", "5.12", "5.13", "5.15", "5.16", "5.17", "5.18", "5.21",
            "5.22", "5.26", "5.29", "5.32")  # fmt: skip
# (posture or "*", CIS id) -> (docker-bench's verdict, ctrlens's verdict, why they differ).
KNOWN_DIVERGENCES = {
    ("*", "5.2"): (True, False, "no AppArmor on this host: the recommendation is 'if applicable'; ctrlens says n/a"),
    ("restart-always", "5.15"): (False, True, "the benchmark's audit text: RestartPolicyName=always fails 5.15; "
                                              "docker-bench only compares MaximumRetryCount (0) with 5"),
    ("restart-unlimited", "5.15"): (False, True, "on-failure with MaximumRetryCount 0 retries without limit"),
    ("privlike", "5.18"): (False, True, "--device-cgroup-rule 'a *:* rwm' opens every device; docker-bench "
                                        "reads only HostConfig.Devices"),
}  # fmt: skip
DOCKER_DEFAULT_CAPS = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                       "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}  # fmt: skip
SENSITIVE_DIRS = ("/", "/boot", "/dev", "/etc", "/lib", "/proc", "/sys", "/usr")


def docker_bench(inspect: dict) -> dict[str, bool]:
    """docker-bench-security 1.6.0's section-5 verdicts (True: WARN or INFO, i.e. flagged) for one container,
    from the same `docker inspect` fields its shell checks read."""
    hc = inspect["HostConfig"]
    security = " ".join(hc.get("SecurityOpt") or [])
    cap_add = {c.upper().removeprefix("CAP_") for c in hc.get("CapAdd") or []}
    mounts = inspect.get("Mounts") or []
    return {
        "5.2": inspect.get("AppArmorProfile") in ("", None, "unconfined"),
        "5.4": bool(cap_add - DOCKER_DEFAULT_CAPS),
        "5.5": bool(hc.get("Privileged")),
        "5.6": any(m.get("Source") in SENSITIVE_DIRS and m.get("RW") for m in mounts),
        "5.10": hc.get("NetworkMode") == "host",
        "5.11": (hc.get("Memory") or 0) == 0,
        "5.12": (hc.get("CpuShares") or 0) == 0 and (hc.get("NanoCpus") or 0) == 0,
        "5.13": not hc.get("ReadonlyRootfs"),
        "5.15": (hc.get("RestartPolicy") or {}).get("MaximumRetryCount", 0) > 5,
        "5.16": hc.get("PidMode") == "host",
        "5.17": hc.get("IpcMode") == "host",
        "5.18": bool(hc.get("Devices")),
        "5.21": hc.get("UTSMode") == "host",
        "5.22": "seccomp:unconfined" in security or "seccomp=unconfined" in security,
        "5.26": "no-new-privileges" not in security,
        "5.29": hc.get("PidsLimit") in (0, None, -1),
        "5.32": "docker.sock" in json.dumps(mounts),
    }


def ctrlens(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=180, check=False,
                          env=dict(os.environ))  # fmt: skip


def audit_records(*refs: str) -> dict[str, dict]:
    out = ctrlens("audit", "-o", "json", "--severity", "good", "--no-secrets", *refs)
    assert out.returncode == 0, out.stderr
    return {r["id"]: r for r in json.loads(out.stdout)}


def flagged(record: dict) -> set[str]:
    """The CIS ids ctrlens says the container fails: any finding (not a 'good' one) carrying the id."""
    return {f["cis"] for f in record["findings"] if f["cis"] and f["severity"] != "good"}


@pytest.fixture(scope="module")
def postures(testbed):
    sock = str(testbed.paths.docker_socket)
    specs = {**POSTURES, "sock": ("-v", f"{sock}:/var/run/docker.sock")}
    started = {}
    try:
        for key, opts in specs.items():
            started[key] = testbed.run_docker(unique_name(f"peer-{key}"), *opts, cmd=("sleep", "1000000"))
        inspect = json.loads(testbed.docker("inspect", *(s.id for s in started.values())).stdout)
        by_id = {i["Id"]: i for i in inspect}
        records = audit_records(*(s.id for s in started.values()))
        yield {key: (s, by_id[s.id], records[s.id]) for key, s in started.items()}
    finally:
        for s in started.values():
            testbed.remove(s)


def test_vendored_table_is_docker_bench_1_6_0_numbering():
    checks = BENCH["checks"]
    assert BENCH["benchmark"] == BENCHMARK and len(checks) == 32
    assert checks["5.16"]["title"] == "Ensure that the host's process namespace is not shared"
    assert checks["5.1"]["title"].startswith("Ensure swarm mode is not Enabled")


@pytest.mark.parametrize("key", [*POSTURES, "sock"])
def test_same_cis_id_and_verdict_as_docker_bench(postures, key):
    _, inspect, record = postures[key]
    theirs, ours = docker_bench(inspect), flagged(record)
    assert record["benchmark"] == BENCHMARK
    for cis in COMPARED:
        expected = KNOWN_DIVERGENCES.get((key, cis)) or KNOWN_DIVERGENCES.get(("*", cis))
        if expected is not None:
            assert (theirs[cis], cis in ours) == expected[:2], f"{key} {cis}: {expected[2]}"
        else:
            assert (cis in ours) == theirs[cis], (
                f"{key}: CIS {cis} ({BENCH['checks'][cis]['title']}): docker-bench "
                f"{'WARN' if theirs[cis] else 'PASS'}, ctrlens {'WARN' if cis in ours else 'PASS'}"
            )


def test_postures_fail_the_recommendation_they_are_about(postures):
    """Guards the comparison against 'both pass everything': each posture's own CIS id is flagged by both."""
    about = {"pidhost": "5.16", "nethost": "5.10", "ipchost": "5.17", "utshost": "5.21", "capadd": "5.4",
             "seccomp": "5.22", "etc-rw": "5.6", "sock": "5.32", "kmsg": "5.18", "fuse": "5.18",
             "restart-10": "5.15", "privlike": "5.4"}  # fmt: skip
    for key, cis in about.items():
        _, inspect, record = postures[key]
        assert docker_bench(inspect)[cis] and cis in flagged(record), key
    _, inspect, record = postures["hardened"]
    assert not flagged(record) and not any(v for k, v in docker_bench(inspect).items() if k != "5.2")


def test_json_sarif_and_table_name_the_benchmark_followed(postures):
    ref = postures["pidhost"][0].id
    table = ctrlens("audit", "--no-secrets", ref)
    assert table.returncode == 0 and table.stdout.rstrip().endswith(f"CIS ids: {BENCHMARK}")
    assert "CIS:      5.16" in table.stdout
    sarif = json.loads(ctrlens("audit", "-o", "sarif", "--no-secrets", ref).stdout)
    run = sarif["runs"][0]
    assert run["properties"]["benchmark"] == BENCHMARK
    result = next(r for r in run["results"] if r["ruleId"] == "CTRL-NS-PID-HOST")
    assert result["properties"]["cis"] == "5.16"
    explain = ctrlens("audit", "--explain", "CTRL-LIMIT-RESTART")
    assert f"{BENCHMARK}: 5.15" in explain.stdout


def test_docker_devices_beyond_moby_default_are_findings(postures):
    for key, device in (("kmsg", "c 1:11 rwm (kmsg)"), ("fuse", "c 10:229 rwm (fuse)")):
        record = postures[key][2]
        extra = [f for f in record["findings"] if f["id"] == "CTRL-DEV-EXTRA"]
        assert len(extra) == 1 and extra[0]["severity"] == "medium", key
        assert extra[0]["title"] == f"devices allowed beyond docker's default: {device}"
    default = postures["default"][2]
    assert [f["title"] for f in default["findings"] if f["layer"] == "devices"] == [
        "docker's default device allow-list"
    ]


def test_restart_policy_rule(postures):
    def restart(key: str) -> list[tuple[str, str]]:
        record = postures[key][2]
        return [(f["severity"], f["title"]) for f in record["findings"] if f["id"] in ("CTRL-LIMIT-RESTART",)
                or f["title"].startswith("restart policy")]  # fmt: skip

    assert restart("restart-always") == [("low", "restart policy always: restarted without a limit")]
    assert restart("restart-unlimited") == [("low", "restart policy on-failure without a retry limit")]
    assert restart("restart-10") == [("low", "restart policy on-failure:10, more than 5 retries")]
    assert restart("hardened") == [("good", "restart policy on-failure:3")]
    assert restart("default") == []  # `no`: nothing restarts it
    always = next(f for f in postures["restart-always"][2]["findings"] if f["id"] == "CTRL-LIMIT-RESTART")
    assert always["cis"] == "5.15" and always["fix"] == "docker update --restart on-failure:5 <container>"
    assert always["evidence"][0].endswith("hostconfig.json: RestartPolicy always")


def test_podman_default_has_no_device_finding_and_kmsg_has_one(testbed):
    started = []
    try:
        plain = testbed.run_podman(unique_name("peer-p"), cmd=("sleep", "1000000"))
        started.append(plain)
        kmsg = testbed.run_podman(unique_name("peer-pk"), "--device", "/dev/kmsg", cmd=("sleep", "1000000"))
        started.append(kmsg)
        records = audit_records(plain.id, kmsg.id)
        devices = {k: [(f["id"], f["title"]) for f in records[s.id]["findings"] if f["layer"] == "devices"]
                   for k, s in (("plain", plain), ("kmsg", kmsg))}  # fmt: skip
        assert devices["plain"] == [("CTRL-DEV-DEFAULT", "podman's default device allow-list")]
        assert devices["kmsg"] == [
            ("CTRL-DEV-EXTRA", "devices allowed beyond podman's default: c 1:11 rwm (kmsg)")
        ]
    finally:
        for s in started:
            testbed.remove(s)


def test_lxc_with_its_own_default_device_list_has_no_device_finding(testbed, tmp_path):
    """LXC's own defaults (the devices part of /usr/share/lxc/config/common.conf, which allows fuse) give no
    finding; the busybox template without them allows every device (CTRL-DEV-ALL, test_audit_engines)."""
    common = Path("/usr/share/lxc/config/common.conf").read_text()
    rules = [line for line in common.splitlines() if line.startswith("lxc.cgroup.devices.")]
    assert "lxc.cgroup.devices.allow = c 10:229 rwm" in rules  # fuse: LXC's default, not Docker's
    conf = tmp_path / "lxc-devices.conf"
    conf.write_text(testbed.paths.lxc_conf.read_text() + "\n".join(rules) + "\n")
    name = unique_name("peer-lxc")
    testbed.lxc("lxc-create", "-n", name, "-t", "busybox", "-f", str(conf))
    try:
        testbed.lxc("lxc-start", "-n", name, "-d")
        pid = 0
        for _ in range(100):
            out = testbed.lxc("lxc-info", "-n", name, "-p", "-H", check=False).stdout.strip()
            if out.isdigit() and int(out) > 0:
                pid = int(out)
                break
            time.sleep(0.1)
        assert pid, "the LXC container did not start"
        record = audit_records(name)[name]
        devices = [(f["id"], f["title"]) for f in record["findings"] if f["layer"] == "devices"]
        assert devices == [("CTRL-DEV-DEFAULT", "lxc's default device allow-list")]
    finally:
        testbed.lxc("lxc-stop", "-n", name, "-k", check=False)
        testbed.lxc("lxc-destroy", "-n", name, "-f", check=False)
