"""The detectors on hostile sizes and shapes (issue 12 "Stall"), secrets inside structured values and the
public lookalikes (issue 15), and the one redaction rule (argv, environ, labels) every face uses.

No timing assertions here (bench/secrets_stall.py measures): a quadratic path on these megabyte inputs would
take hours, so a run that completes is the evidence; each test also checks the verdict or the report."""

from __future__ import annotations

import base64
import json
import re

import pytest

from ctrlens.secrets import Fingerprinter, classify, providers, scan_argv, scan_environ, values
from ctrlens.secrets.findings import ARG_LIMIT, SCAN_LIMIT, truncations
from ctrlens.secrets.redact import Redactor
from ctrlens.secrets.structured import leaves

MB = 1024 * 1024
FP = Fingerprinter.for_run()

ADVERSARIAL = {
    "a": "a" * MB,
    "scheme-sep": "://" * (MB // 3),
    "colon-at": ":@" * (MB // 2),
    "url-ish": "a://b:c@" * (MB // 8),
    "jwt-head": "eyJ" * (MB // 3),
    "jwt-dots": "eyJa." * (MB // 5),
    "slashes": "//" * (MB // 2),
    "password-quote": " password='" * (MB // 11),
    "version": "1." * (MB // 2) + "!",
    "artifactory": " AKC" * (MB // 4),
    "spaces": "clkey" + " " * MB + "!",
    "begin": "-----BEGIN " * (MB // 11),
    "braces": "{" * MB,
    "nested-json": "[" * 10_000 + "]" * 10_000,
}


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_every_format_regex_finishes_on_a_hostile_megabyte(shape: str) -> None:
    text = ADVERSARIAL[shape]
    for _rule, pattern in providers._FORMATS:
        list(pattern.finditer(text))
    assert providers.find_formats("X", text) is not None
    assert isinstance(values.url_passwords(text), list)


@pytest.mark.parametrize("shape", sorted(ADVERSARIAL))
def test_environ_and_argv_scans_finish_and_report_the_cut(shape: str) -> None:
    text = ADVERSARIAL[shape]
    found = scan_environ([("BLOB", text)], FP)
    assert all(f.name == "BLOB" for f in found)
    scan_argv(["app", text, "--password", text], FP)
    (cut,) = truncations([("BLOB", text)], [])
    assert (cut.name, cut.length, cut.scanned) == ("BLOB", len(text), SCAN_LIMIT)
    assert "truncated at 16384" in cut.note


def test_many_arguments_are_capped_and_reported() -> None:
    argv = ["app"] + ["x"] * (ARG_LIMIT + 10)
    scan_argv(argv, FP)
    (cut,) = truncations([], argv)
    assert (cut.name, cut.length, cut.scanned) == ("argv", len(argv), ARG_LIMIT)


def test_a_secret_past_the_scan_limit_is_hidden_by_redaction_not_shown() -> None:
    value = "x" * (SCAN_LIMIT + 10) + " password=hunter22"
    (shown,) = Redactor(FP).environ([("NOTES", value)])
    assert shown.redacted and "hunter22" not in shown.value and "not scanned in full" in shown.value
    masked = Redactor(FP).argv(["app", value])
    assert "hunter22" not in " ".join(masked)


def test_nested_json_ten_thousand_deep_is_not_parsed_and_does_not_raise() -> None:
    deep = '{"a":' * 10_000 + '"x"' + "}" * 10_000
    assert list(leaves(deep)) == []
    assert classify("CONFIG", deep) is None


# -- structured values (issue 15) ---------------------------------------------------------------------------


def _auth() -> str:
    return json.dumps(
        {"auths": {"registry.example.com": {"auth": base64.b64encode(b"deploy:Xk2p9QzLm").decode()}}}
    )


@pytest.mark.parametrize(
    ("name", "value", "detail"),
    [
        ("DOCKER_AUTH_CONFIG", _auth(), "auths.registry.example.com.auth"),
        ("CONFIG_JSON", json.dumps({"db": {"host": "db", "password": "Tr0ub4dor&3"}}), "db.password"),
        ("PGPASS", "db.example.com:5432:app:app:s3cretPw99", "pgpass"),
        ("APP_SETTINGS", "DEBUG=false\nDB_HOST=db\nDB_PASSWORD=hunter22x\n", "DB_PASSWORD"),
        ("APP_YAML", "server:\n  port: 8080\napi_key: 9f8e7d6c5b4a39281706\n", "api_key"),
    ],
)
def test_a_secret_inside_a_structured_value_is_found_under_its_own_key(
    name: str, value: str, detail: str
) -> None:
    found = classify(name, value)
    assert found is not None and found.rule == "secret-name" and found.detail == detail


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("APP_CONFIG", json.dumps({"log_level": "info", "token_url": "https://auth.example.com/token"})),
        ("SECRETS_JSON", json.dumps({"password_file": "/run/secrets/db", "password_min_length": 12})),
        ("SERVICE_MAP", "web:80:api:8080:backend"),
        ("LOGGING_CONF_B64", base64.b64encode(b"[loggers]\nkeys=root\n[handler]\nlevel=INFO\n").decode()),
        ("RECAPTCHA_SITE_KEY", "6LcXr2kqAAAAAJ8vN3fPq1u7T0mZk9bQe4wYh5sD"),
        ("MAPBOX_TOKEN", "pk.eyJ1IjoiZGVtbyIsImEiOiJja2xtbm9wcXIifQ.AbCdEfGhIjKlMnOpQrStUv"),
    ],
)
def test_structured_settings_and_public_lookalikes_are_not_secrets(name: str, value: str) -> None:
    assert classify(name, value) is None


def test_the_secret_twins_of_public_lookalikes_still_count() -> None:
    assert classify("RECAPTCHA_SECRET_KEY", "6LcXr2kqAAAAAJ8vN3fPq1u7T0mZk9bQe4wYh5sD") is not None
    found = classify("MAPBOX_WRITE", "sk.eyJ1IjoiZGVtbyIsImEiOiJja2xtbm9wcXIifQ.AbCdEfGhIjKlMnOpQrStUv")
    assert found is not None and found.rule == "jwt"


# -- the one redaction rule ----------------------------------------------------------------------------------

MARKER = re.compile(r"<redacted: [a-z-]+, \d+ chars, fp [0-9a-f]{12}>")


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["app", "-pMyPassword", "db1"], ["app", "-p", "db1"]),
        (["mysql", "-phunter2", "db"], ["mysql", "-p", "db"]),
        (["app", "--password=s3cretpass"], ["app", "--password="]),
        (["app", "--token", "ghp_" + "a1B2c3D4e5" * 3 + "000001"], ["app", "--token", ""]),
        (["app", "postgres://u:Pa55word9@db/x"], ["app", "postgres://u:"]),
        (["sh", "-c", "sleep 1; mysql -pSECRET99 db"], ["sh", "-c", "sleep 1; mysql -p"]),
    ],
)
def test_argv_keeps_the_option_and_hides_the_secret(argv: list[str], kept: list[str]) -> None:
    secret_words = {"MyPassword", "hunter2", "s3cretpass", "a1B2c3D4e5", "Pa55word9", "SECRET99"}
    shown = Redactor(FP).argv(argv)
    assert len(shown) == len(argv)
    for before, after in zip(kept, shown, strict=False):
        assert after.startswith(before)
    joined = " ".join(shown)
    assert MARKER.search(joined)
    assert not any(word in joined for word in secret_words)
    assert Redactor(FP, reveal=True).argv(argv) == argv


def test_a_password_option_is_never_reported_under_a_name_that_holds_it() -> None:
    (found,) = scan_argv(["app", "-pMyPassword", "db1"], FP)
    assert found.name == "-p" and "MyPassword" not in json.dumps(found.to_dict())


def test_labels_and_environ_follow_the_same_rule_and_the_same_fingerprint() -> None:
    redactor = Redactor(FP)
    labels = redactor.labels({"app": "web", "db.password": "Xk2p9QzLm77"})
    env = {s.name: s for s in redactor.environ([("DB_PASSWORD", "Xk2p9QzLm77"), ("MODE", "prod")])}
    argv = redactor.argv(["app", "--db-password=Xk2p9QzLm77"])
    assert labels["app"] == "web" and env["MODE"].value == "prod"
    fps = {
        m.group(0)[-13:-1]
        for m in map(MARKER.search, (labels["db.password"], env["DB_PASSWORD"].value, argv[1]))
    }
    assert len(fps) == 1 and "Xk2p9QzLm77" not in labels["db.password"] + argv[1]


def test_a_failing_detector_hides_every_argument_but_the_program(monkeypatch: pytest.MonkeyPatch) -> None:
    from ctrlens.secrets import findings

    def boom(*_args: object, **_kwargs: object) -> None:
        raise ValueError("quotes the value: hunter2")

    monkeypatch.setattr(findings, "classify_value", boom)
    shown = Redactor(FP).argv(["app", "plain", "hunter2"])
    assert shown == ["app", "<redacted: 5 chars>", "<redacted: 7 chars>"]


def test_a_megabyte_variable_name_is_judged_by_its_end_and_hidden_when_it_says_secret() -> None:
    name = "X" * MB + "_PASSWORD"
    (found,) = scan_environ([(name, "hunter22x")], FP)
    assert found.rule == "secret-name"
    (shown,) = Redactor(FP).environ([(name, "hunter22x")])
    assert shown.redacted and "hunter22x" not in shown.value
