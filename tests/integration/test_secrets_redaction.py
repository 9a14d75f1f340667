"""One redaction rule in every face (issue 12), on real Docker and Podman containers holding a password in a
command-line option (`app -pMyPassword db1`), a `--password=` option, a URL with a password, a secret label and
a secret inside a JSON environment value (issue 15): grep each face's output for the secret values; they are
absent without --reveal and present with it where the command has --reveal. Plus a hostile-sized container
(a 128 kB argument, 512 kB of environment): every scan finishes and says what it cut.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from testbed import unique_name

pytestmark = pytest.mark.integration

OPT_SECRET = "MyItgPassword"  # `app -pMyItgPassword db1`: was reported under the NAME "-pMyItgPassword"
LONG_SECRET = "itgLongOptPw55"
URL_SECRET = "itgUrlPw3141"
LABEL_SECRET = "itgLabelPw2718"
JSON_SECRET = "itgJsonPw1618"
SECRETS = (OPT_SECRET, LONG_SECRET, URL_SECRET, LABEL_SECRET, JSON_SECRET)
CMD = (
    "sh",
    "-c",
    f"sleep 1000000; : app -p{OPT_SECRET} db1; : --password={LONG_SECRET}; : postgres://app:{URL_SECRET}@db/x",
    "app",
)
OPTS = (
    "--label",
    f"db.password={LABEL_SECRET}",
    "--label",
    "tier=web",
    "-e",
    "CONFIG_JSON=" + json.dumps({"db": {"host": "db", "password": JSON_SECRET}}),
    "-e",
    "MODE=prod",
)


def ctrlens(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("ctrlens") or "ctrlens"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False
    )


@pytest.fixture(scope="module")
def pair(testbed):
    started = []
    try:
        started.append(testbed.run_docker(unique_name("red-docker"), *OPTS, cmd=CMD))
        started.append(testbed.run_podman(unique_name("red-podman"), *OPTS, cmd=CMD))
        time.sleep(0.3)
        yield started
    finally:
        for s in started:
            testbed.remove(s)


def _faces(name: str, pid: int, tmp: Path) -> dict[str, str]:
    """The output of every face that can show argv, environment or labels, without --reveal."""
    out: dict[str, str] = {}
    for fmt in ("table", "json"):
        out[f"ps {fmt}"] = ctrlens("ps", "--container", name, "-o", fmt).stdout
        out[f"inspect {fmt}"] = ctrlens("inspect", name, "-o", fmt).stdout
        out[f"containers {fmt}"] = ctrlens("containers", "-o", fmt).stdout
        out[f"env {fmt}"] = ctrlens("env", name, "-o", fmt).stdout
        out[f"secrets {fmt}"] = ctrlens("secrets", name, "-o", fmt).stdout
        out[f"audit {fmt}"] = ctrlens("audit", name, "-o", fmt).stdout
    out["ps forest"] = ctrlens("ps", "--forest").stdout
    out["inspect pid"] = ctrlens("inspect", str(pid)).stdout
    kill = ctrlens("kill", name, "--dry-run")
    out["kill -n"] = kill.stdout + kill.stderr
    bundle = tmp / f"{name}.tar.gz"
    snap = ctrlens("snapshot", name, "-o", str(bundle))
    assert snap.returncode == 0, snap.stderr
    with tarfile.open(bundle) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".json"):
                data = tar.extractfile(member)
                out[f"snapshot {member.name}"] = data.read().decode("utf-8", "replace") if data else ""
    return out


def test_no_face_shows_a_secret_without_reveal(pair, tmp_path: Path) -> None:
    for started in pair:
        faces = _faces(started.name, started.pid, tmp_path)
        assert faces["ps table"].strip() and faces["inspect table"].strip()
        for face, text in faces.items():
            for secret in SECRETS:
                assert secret not in text, f"{started.runtime}: {face} shows {secret[:6]}…"
        # What stays: the option, the harmless label and variable, and a marker in place of each secret.
        assert "-p<redacted: secret-name" in faces["ps table"] + faces["ps json"]
        assert "--password=<redacted:" in faces["ps json"]
        assert "tier" in faces["containers json"] and "web" in faces["containers json"]
        assert "<redacted: secret-name" in faces["inspect table"]  # the label
        assert "MODE" in faces["env json"] and "prod" in faces["env json"]


def test_the_same_secret_has_one_fingerprint_in_every_face(pair) -> None:
    name = pair[0].name
    secrets = json.loads(ctrlens("secrets", name, "-o", "json").stdout)[0]["secrets"]
    by_name = {s["name"]: s["fingerprint"] for s in secrets}
    fp = by_name["CONFIG_JSON"]
    env = json.loads(ctrlens("env", name, "-o", "json").stdout)
    assert {r["secret"]["fingerprint"] for r in env if r["name"] == "CONFIG_JSON"} == {fp}
    audit = ctrlens("audit", name, "-o", "json").stdout
    assert f"fp {fp}" in audit and f"fp {by_name['-p']}" in audit


def test_reveal_shows_them_where_the_command_has_it(pair) -> None:
    name = pair[0].name
    ps = ctrlens("ps", "--container", name, "--reveal", "-o", "json").stdout
    assert OPT_SECRET in ps and LONG_SECRET in ps and URL_SECRET in ps
    inspect = ctrlens("inspect", name, "--reveal").stdout
    assert LABEL_SECRET in inspect and OPT_SECRET in inspect
    assert LABEL_SECRET in ctrlens("containers", "--reveal", "-o", "json").stdout
    assert JSON_SECRET in ctrlens("env", name, "--reveal", "-o", "json").stdout


def test_secrets_finds_the_option_the_label_free_json_and_the_url(pair) -> None:
    name = pair[1].name
    found = {
        (s["source"], s["name"]): s
        for s in json.loads(ctrlens("secrets", name, "-o", "json").stdout)[0]["secrets"]
    }
    assert found["cmdline", "-p"]["rule"] == "secret-name"
    assert found["cmdline", "--password"]["rule"] == "secret-name"
    assert found["environ", "CONFIG_JSON"]["detail"] == "db.password"
    assert any(s["rule"] == "url-password" for s in found.values())


def test_watch_events_mask_the_argv(testbed) -> None:
    exe = shutil.which("ctrlens") or "ctrlens"
    name = unique_name("red-watch")
    started = testbed.run_docker(name, cmd=CMD)
    try:
        got = subprocess.run(
            [exe, "watch", "--initial", "--duration", "3"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        testbed.remove(started)
    assert name in got.stdout
    for secret in (OPT_SECRET, LONG_SECRET, URL_SECRET):
        assert secret not in got.stdout


def test_a_huge_argument_and_environment_are_scanned_in_part_and_said_so(testbed) -> None:
    # execve caps one string at MAX_ARG_STRLEN (128 kB): a 127 kB argument and four 127 kB variables.
    big = "ab" * (127 * 512)
    env = [arg for i in range(4) for arg in ("-e", f"BIG{i}={big}")]
    started = testbed.run_docker(
        unique_name("red-huge"), *env, cmd=("sh", "-c", "sleep 1000000; :", "huge", big)
    )
    try:
        res = ctrlens("secrets", started.name, "-o", "json")
        assert res.returncode == 0, res.stderr
        (record,) = json.loads(res.stdout)
        cut = {(t["source"], t["name"]) for t in record["truncated"]}
        assert ("cmdline", "argv[4]") in cut and ("environ", "BIG0") in cut
        assert "scanned only in part" in res.stderr
        audit = ctrlens("audit", started.name, "-o", "json").stdout
        assert "CTRL-SECRETS-TRUNCATED" in audit
        ps = ctrlens("ps", "--container", started.name, "-o", "json").stdout
        assert big not in ps and "not scanned in full" in ps  # ps shows the marker, not 127 kB
    finally:
        testbed.remove(started)


@pytest.mark.asyncio
async def test_top_shows_no_secret_and_the_cli_fingerprint(pair) -> None:
    """top: the table and the facts tab (argv, labels) redacted; the Environment tab's fingerprint for a secret is
    the one `ctrlens secrets` and the Audit tab print (it used to be a per-run key: 5c53… vs 9afc…)."""
    from textual.widgets import DataTable

    from ctrlens.tui.detail import DetailScreen
    from ctrlens.tui.panels import EnvPanel
    from ctrlens.tui.table import TopTable
    from tests.integration.test_top_app import make_app, screen_lines, wait_for

    web = pair[0]
    secrets = json.loads(ctrlens("secrets", web.name, "-o", "json").stdout)[0]["secrets"]
    fp = {s["name"]: s["fingerprint"] for s in secrets}["CONFIG_JSON"]
    app = make_app()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: f"c:{web.id}" in app.model.rows, what="the container row")
        table_text = "\n".join(screen_lines(app))
        assert app.screen.query_one(TopTable).select_key(f"c:{web.id}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen), what="the detail screen")
        screen = app.screen
        facts = str(screen.query_one("#facts-text").render())
        await pilot.press("2")
        findings = screen.query_one("#audit-findings")
        await wait_for(pilot, lambda: "CTRL-" in str(findings.content), timeout=60, what="the audit findings")
        audit_text = str(findings.content)
        await pilot.press("3")
        env = screen.query_one(EnvPanel)
        await wait_for(pilot, lambda: env.pairs, what="the environment")
        grid = env.query_one(DataTable)
        cells = "\n".join(" ".join(str(c) for c in grid.get_row_at(i)) for i in range(grid.row_count))
    for text in (table_text, facts, audit_text, cells):
        for secret in SECRETS:
            assert secret not in text
    assert "tier" in facts and "<redacted: secret-name" in facts  # the secret label, as inspect shows it
    assert f"fp {fp}" in cells and f"fp {fp}" in audit_text
