"""`ctrlens secrets` and `ctrlens env` against real Docker and Podman containers started with known secrets and
known harmless variables: every secret found, every harmless variable left alone, no value in any output, and
the readers it reports checked by actually reading /proc/PID/environ as them (setpriv, docker exec).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

SCHEMA = Path(__file__).resolve().parents[1] / "data" / "sarif-schema-2.1.0.json"
SECRET_ENV = {  # variable -> rule
    "DB_PASSWORD": ("itg-Hunter2-pw", "secret-name"),
    "AWS_ACCESS_KEY_ID": ("AKIA" + "ITGQ3EGRTZLM2NVX", "aws-access-key"),
    "AWS_SECRET_ACCESS_KEY": ("itgJalrXUtnFEMI/K7MDENG/bPxRfiCYz8Q2vLk3", "aws-access-key"),
    "GITHUB_TOKEN": ("ghp_" + "ItgA1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q", "github-token"),
    "DATABASE_URL": ("postgres://app:itgDbUrlPw77@db:5432/app", "url-password"),
    "STRIPE_SECRET_KEY": ("sk_live_" + "ItgC39HqLyjWDarjtT1zdp7d", "stripe-key"),
    "SESSION_SECRET": ("itgSessionSecretValue9", "secret-name"),
}
HARMLESS_ENV = {
    "NODE_VERSION": "20.11.1",
    "PYTHON_SHA256": "24887b92e2afd4a2ac602419ad4b596372f67ac9b077190f459aba390faf5550",
    "GPG_KEY": "A035C8C19219BA821ECEA86B64E628F8D684696D",
    "POSTGRES_PASSWORD_FILE": "/run/secrets/pg",
    "MYSQL_ALLOW_EMPTY_PASSWORD": "yes",
    "REDIS_URL": "redis://redis:6379/0",
    "TOKEN_TTL": "900",
    "BUILD_ID": "0b5c3d2e-8f1a-4c6b-9d7e-2a4f6b8c0d1e",
    "LANG": "C.UTF-8",
    "PYTHONUNBUFFERED": "1",
}
ARGV_SECRET = "itgArgvTok3n99"
MYSQL_SECRET = "itgMysqlPw42"
# sh stays the init (two commands); its argv carries a secret option and a mysql -p password.
CMD = ("sh", "-c", f"sleep 1000000; : --api-token={ARGV_SECRET}; : mysql -p{MYSQL_SECRET} db")
USER_SECRET = "itgUser1000Key"
GID0_SECRET = "itgUserGid0Key"
ALL_VALUES = [v for v, _ in SECRET_ENV.values()] + [ARGV_SECRET, MYSQL_SECRET, USER_SECRET, GID0_SECRET]


def env_opts(extra: dict[str, str] | None = None) -> list[str]:
    values = {**{k: v for k, (v, _) in SECRET_ENV.items()}, **HARMLESS_ENV, **(extra or {})}
    return [arg for k, v in values.items() for arg in ("-e", f"{k}={v}")]


def ctrlens(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run([exe, *args], check=False, capture_output=True, text=True, timeout=120)


def report(*refs: str) -> dict[str, dict]:
    out = ctrlens("secrets", *refs, "-o", "json")
    assert out.returncode == 0, out.stderr
    return {r["container"]["name"]: r for r in json.loads(out.stdout)}


def as_user(uid: int, gid: int, *cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", *cmd],
        check=False,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def host_user_1000():
    """The host user with uid 1000 (created for the test when the host has none)."""
    try:
        yield pwd.getpwuid(1000).pw_name
        return
    except KeyError:
        pass
    subprocess.run(["useradd", "-u", "1000", "-U", "-M", "ctrlens-itg"], check=True)
    try:
        yield "ctrlens-itg"
    finally:
        subprocess.run(["userdel", "ctrlens-itg"], check=False)


@pytest.fixture(scope="module")
def fleet(testbed, host_user_1000):
    names = {k: unique_name(f"sec-{k}") for k in ("docker", "podman", "u1000", "u1000g0", "pidhost")}
    started = {}
    try:
        started["docker"] = testbed.run_docker(names["docker"], *env_opts(), cmd=CMD)
        started["podman"] = testbed.run_podman(names["podman"], *env_opts(), cmd=CMD)
        started["u1000"] = testbed.run_docker(
            names["u1000"], "--user", "1000:1000", "-e", f"API_KEY={USER_SECRET}"
        )
        started["u1000g0"] = testbed.run_docker(
            names["u1000g0"], "--user", "1000", "-e", f"API_KEY={GID0_SECRET}"
        )
        started["pidhost"] = testbed.run_docker(names["pidhost"], "--pid=host")
        time.sleep(0.5)
        yield started
    finally:
        for s in started.values():
            testbed.remove(s)


@pytest.mark.parametrize("engine", ["docker", "podman"])
def test_every_secret_is_found_and_every_harmless_variable_left_alone(fleet, engine: str) -> None:
    name = fleet[engine].name
    found = {(s["source"], s["name"]): s for s in report(name)[name]["secrets"]}
    for var, (value, rule) in SECRET_ENV.items():
        assert ("environ", var) in found, f"{engine}: {var} not found"
        assert found["environ", var]["rule"] == rule, var
        assert found["environ", var]["length"] == len(value)
    for var in HARMLESS_ENV:
        assert ("environ", var) not in found, f"{engine}: harmless {var} flagged"
    assert found["cmdline", "--api-token"]["rule"] == "secret-name"
    assert found["cmdline", "-p"]["rule"] == "secret-name"
    assert {k for k in found if k[0] == "environ"} == {("environ", v) for v in SECRET_ENV}


def test_one_secret_in_two_containers_has_one_fingerprint(fleet) -> None:
    names = fleet["docker"].name, fleet["podman"].name
    reports = report(*names)
    fps = [{s["name"]: s["fingerprint"] for s in reports[n]["secrets"]} for n in names]
    assert fps[0]["DB_PASSWORD"] == fps[1]["DB_PASSWORD"]
    assert fps[0]["DB_PASSWORD"] != fps[0]["SESSION_SECRET"]
    assert fps[0]["DATABASE_URL"] != fps[0]["DB_PASSWORD"]


def test_no_value_in_any_output_format_or_stderr(fleet) -> None:
    refs = [s.name for s in fleet.values()]
    outputs = [ctrlens("secrets", *refs, "-o", fmt) for fmt in ("table", "json", "ndjson", "sarif")]
    outputs += [
        ctrlens("env", ref, *extra, "-o", fmt)
        for ref in refs
        for fmt in ("table", "json", "ndjson")
        for extra in ((), ("--all-processes",))
    ]
    outputs.append(ctrlens("secrets", "-o", "json"))  # host-wide
    for out in outputs:
        assert out.returncode == 0, (out.args, out.stderr)
        for value in ALL_VALUES:
            assert value not in out.stdout, (out.args, value[:4])
            assert value not in out.stderr, (out.args, value[:4])
    revealed = ctrlens("env", fleet["docker"].name, "--reveal", "-o", "json")
    assert (
        SECRET_ENV["DB_PASSWORD"][0] in revealed.stdout and SECRET_ENV["GITHUB_TOKEN"][0] in revealed.stdout
    )


def test_sarif_of_real_containers_validates(fleet) -> None:
    out = ctrlens("secrets", fleet["docker"].name, fleet["podman"].name, "-o", "sarif")
    log = json.loads(out.stdout)
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(log)
    containers = {r["locations"][0]["logicalLocations"][1]["name"] for r in log["runs"][0]["results"]}
    assert containers == {fleet["docker"].name, fleet["podman"].name}


def test_fail_on_exits_1_when_a_secret_is_found(fleet) -> None:
    assert ctrlens("secrets", fleet["docker"].name, "--fail-on").returncode == 1
    assert ctrlens("secrets", fleet["pidhost"].name, "--fail-on").returncode == 0


def readers(name: str, var: str, *, containers: tuple[str, ...] = ()) -> list[dict]:
    """The readers reported, leaving out containers other than `containers`: other suites run privileged
    --pid=host containers on the same testbed, and those are real readers of ours too."""
    [secret] = [s for s in report(name)[name]["secrets"] if s["name"] == var]
    return [r for r in secret["readers"] if r["kind"] != "container" or r["name"] in containers]


def test_uid_1000_container_is_readable_by_that_host_user_and_no_other(fleet, host_user_1000: str) -> None:
    s = fleet["u1000"]
    labels = {(r["kind"], r["name"]) for r in readers(s.name, "API_KEY", containers=(fleet["pidhost"].name,))}
    assert labels == {("root", "root"), ("user", host_user_1000)}  # not the --pid=host container: uid differs
    got = as_user(1000, 1000, "cat", f"/proc/{s.pid}/environ")
    assert got.returncode == 0 and "API_KEY=" in got.stdout  # the report is right: uid 1000 reads it
    other = as_user(1001, 1001, "cat", f"/proc/{s.pid}/environ")
    assert other.returncode != 0 and "API_KEY" not in other.stdout


def test_user_1000_with_gid_0_is_not_readable_by_host_user_1000(fleet) -> None:
    s = fleet["u1000g0"]  # docker --user 1000 runs with gid 0: the kernel also compares gids
    assert [r["kind"] for r in readers(s.name, "API_KEY", containers=(fleet["pidhost"].name,))] == ["root"]
    got = as_user(1000, 1000, "cat", f"/proc/{s.pid}/environ")
    assert got.returncode != 0 and "API_KEY" not in got.stdout


def test_pid_host_container_reads_root_containers_but_not_uid_1000(fleet, testbed) -> None:
    pidhost, target, user = fleet["pidhost"], fleet["docker"], fleet["u1000"]
    found = readers(target.name, "DB_PASSWORD", containers=(pidhost.name,))
    assert ("container", pidhost.name) in {(r["kind"], r["name"]) for r in found}
    got = testbed.docker("exec", pidhost.id, "cat", f"/proc/{target.pid}/environ", check=False)
    assert got.returncode == 0 and "DB_PASSWORD=" in got.stdout
    assert pidhost.name not in {r["name"] for r in readers(user.name, "API_KEY", containers=(pidhost.name,))}
    denied = testbed.docker("exec", pidhost.id, "cat", f"/proc/{user.pid}/environ", check=False)
    assert denied.returncode != 0


def test_command_line_secrets_are_readable_by_everyone(fleet) -> None:
    s = fleet["docker"]
    assert [r["kind"] for r in readers(s.name, "--api-token")] == ["everyone"]
    got = as_user(65534, 65534, "cat", f"/proc/{s.pid}/cmdline")
    assert got.returncode == 0 and "--api-token=" in got.stdout
    assert as_user(65534, 65534, "cat", f"/proc/{s.pid}/environ").returncode != 0


def test_env_lists_the_init_environment_with_secrets_redacted(fleet) -> None:
    s = fleet["podman"]
    rows = json.loads(ctrlens("env", s.name, "-o", "json").stdout)
    by_name = {r["name"]: r for r in rows if r["pid"] == s.pid}
    assert by_name["NODE_VERSION"]["value"] == "20.11.1" and not by_name["NODE_VERSION"]["redacted"]
    assert by_name["GITHUB_TOKEN"]["redacted"] and by_name["GITHUB_TOKEN"]["secret"]["rule"] == "github-token"
    assert by_name["GITHUB_TOKEN"]["value"].startswith("<redacted: github-token, 40 chars, fp ")
    assert by_name["container"]["value"] == "podman"
    assert os.path.exists(f"/proc/{s.pid}")
