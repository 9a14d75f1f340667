"""ctrlens.secrets detection: provider formats, names, values, arguments, fingerprints, readers, laziness."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ctrlens.accounts import parse_group, parse_passwd
from ctrlens.host import Host
from ctrlens.secrets import (
    Creds,
    DetectionFailed,
    Fingerprinter,
    HostUser,
    classify,
    environ_readers,
    is_allowlisted,
    is_secret_name,
    judge_environ,
    may_read_environ,
    providers,
    scan_argv,
    scan_environ,
)
from ctrlens.secrets.readers import INIT_USER_NS

REPO = Path(__file__).resolve().parents[2]
GH = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
AWS_ID = "AKIA" + "Q3EGRTZLM2NVXWPK"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYz8Q2vLk3Tn"
PEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAq7Bk9Z\n-----END RSA PRIVATE KEY-----"
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ."
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def rule(name: str, value: str) -> str | None:
    found = classify(name, value)
    return None if found is None else found.rule


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("AWS_ACCESS_KEY_ID", AWS_ID, "aws-access-key"),
        ("S3_KEY", AWS_ID, "aws-access-key"),
        ("AWS_SECRET_ACCESS_KEY", AWS_SECRET, "aws-access-key"),
        ("GITHUB_TOKEN", GH, "github-token"),
        ("ANYTHING", GH, "github-token"),  # a format counts whatever the name
        (
            "GH_PAT",
            "github_pat_" + "A1b2C3d4E5f6G7h8I9j0K1" + "_" + "x" * 20 + "Y7z8" * 9 + "Q",
            "github-token",
        ),
        ("GITLAB_TOKEN", "glpat-" + "Ab3De5Gh7Jk9Mn1Pq3St", "gitlab-token"),
        ("SLACK_BOT_TOKEN", "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack-token"),
        (
            "ALERT_URL",
            "https://hooks.slack.com/services/T0AB12CD3/B0CD34EF5/AbCdEfGhIjKlMnOpQrStUvWx",
            "slack-token",
        ),
        ("STRIPE_SECRET_KEY", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("STRIPE_TEST", "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc", "stripe-key"),
        ("GOOGLE_API_KEY", "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "google-api-key"),
        (
            "SENDGRID_API_KEY",
            "SG." + "ngeVfQFYQlKU0ufo8x5d1A" + "." + "TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr",
            "sendgrid-key",
        ),
        ("TWILIO_API_KEY", "SK" + "0123456789abcdef0123456789abcdef", "twilio-key"),
        ("NPM_TOKEN", "npm_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8", "npm-token"),
        ("PYPI_TOKEN", "pypi-AgEIcHlwaS5vcmc" + "Ab1Cd2Ef3G" * 8, "pypi-token"),
        ("OPENAI_API_KEY", "sk-proj-" + "Ab1Cd2Ef3Gh4" * 6, "openai-key"),
        ("HF_TOKEN", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "huggingface-token"),
        ("VAULT_TOKEN", "hvs." + "CAESIAbCdEfGhIjKlMnOpQrS", "vault-token"),
        (
            "AZURE_STORAGE_CONNECTION_STRING",
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=" + "A" * 86 + "==",
            "azure-key",
        ),
        ("TLS_KEY", PEM, "private-key"),
        ("SOPS_AGE_KEY", "AGE-SECRET-KEY-1" + "QYZ3" * 14 + "QY", "private-key"),
        ("ID_TOKEN", JWT, "jwt"),
        ("DATABASE_URL", "postgres://app:s3cr3tpw@db:5432/app", "url-password"),
        ("REDIS_URL", "redis://:p4ssw0rd@redis:6379/0", "url-password"),
        ("MONGO", "mongodb://u:pw42@h1:27017,h2:27017/db?replicaSet=rs", "url-password"),
        ("HTTP_PROXY", "http://user:pr0xy@proxy:3128", "url-password"),  # allow-listed names still hold URLs
        ("CONN", "Server=db;Database=app;User Id=sa;Password=Str0ng!;", "url-password"),
        ("DSN", "host=db user=app password=s3cret dbname=app", "url-password"),
        ("WEBHOOK", "https://api.example.com/hook?access_token=abcdef123456", "url-password"),
        ("DB_PASSWORD", "hunter2", "secret-name"),
        ("POSTGRES_PASSWORD", "correct horse battery staple", "secret-name"),
        ("MYSQL_ROOT_PASSWORD", "1234", "secret-name"),
        ("PGPASSWORD", "pw1234", "secret-name"),
        ("SSHPASS", "letmein", "secret-name"),
        ("RABBITMQ_DEFAULT_PASS", "guest123", "secret-name"),
        ("RABBITMQ_ERLANG_COOKIE", "SWQOKODSQALRPCLNMEQG", "secret-name"),
        ("REDIS_AUTH", "s3cret", "secret-name"),
        ("SECRET_KEY_BASE", "9f86d081884c7d659a2feaa0c55ad015" * 4, "secret-name"),
        ("WORDPRESS_LOGGED_IN_KEY", "x!Y@z#" * 8, "secret-name"),
        ("dbPassword", "hunter22", "secret-name"),
        (
            "CONSUL_HTTP_TOKEN",
            "b1gs33cr-3t00-4000-8000-000000000001",
            "secret-name",
        ),  # a UUID under a secret name
        ("JAVA_OPTS", "-Xmx512m -Djavax.net.ssl.keyStorePassword=changeit", "secret-name"),
        ("RANDOM_BLOB", "Zx8Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9L", "high-entropy"),
        ("LICENSE", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "high-entropy"),
    ],
)
def test_secret_values_are_found_with_their_rule(name: str, value: str, expected: str) -> None:
    assert rule(name, value) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("HOME", "/root"),
        ("HOSTNAME", "3f9a1c0d2e7b"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "en_US.UTF-8"),
        ("TERM", "xterm"),
        ("PWD", "/app"),
        ("PYTHONUNBUFFERED", "1"),
        ("NODE_VERSION", "20.11.1"),
        ("GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D"),
        ("GPG_KEYS", "A035C8C19219BA821ECEA86B64E628F8D684696D 0D96DF4D4110E5C43FBFB17F2D347EA6AA65421D"),
        ("PYTHON_SHA256", "24887b92e2afd4a2ac602419ad4b596372f67ac9b077190f459aba390faf5550"),
        ("RABBITMQ_PGP_KEY_ID", "0x0A9AF2115F4687BD29803A206B73A36E6026DFCA"),
        ("GIT_COMMIT", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
        ("VCS_REF", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"),
        ("IMAGE_DIGEST", "sha256:24887b92e2afd4a2ac602419ad4b596372f67ac9b077190f459aba390faf5550"),
        ("BUILD_ID", "0b5c3d2e-8f1a-4c6b-9d7e-2a4f6b8c0d1e"),
        ("POSTGRES_PASSWORD_FILE", "/run/secrets/pg"),
        ("GF_SECURITY_ADMIN_PASSWORD__FILE", "/run/secrets/admin"),
        ("MYSQL_ALLOW_EMPTY_PASSWORD", "yes"),
        ("MYSQL_RANDOM_ROOT_PASSWORD", "yes"),
        ("ALLOW_EMPTY_PASSWORD", "yes"),
        ("POSTGRES_HOST_AUTH_METHOD", "trust"),
        ("PASSWORD_MIN_LENGTH", "12"),
        ("TOKEN_TTL", "900"),
        ("JWT_ALGORITHM", "HS256"),
        ("SECRET_NAME", "app/prod/db"),
        ("TOKEN_URL", "https://auth.example.com/token"),
        ("API_KEY_HEADER", "X-API-Key"),
        ("AUTH_METHOD", "oidc"),
        ("CACHE_KEY", "user-profile-v2"),
        ("TOKENIZERS_PARALLELISM", "false"),
        ("KEYCLOAK_ADMIN", "admin"),
        ("POSTGRES_USER", "app"),
        ("REDIS_URL", "redis://redis:6379/0"),
        ("DATABASE_URL", "postgres://app@db:5432/app"),
        ("KUBERNETES_PORT", "tcp://10.96.0.1:443"),
        ("HTTP_PROXY", "http://proxy.corp:3128"),
        ("DB_PASSWORD", ""),
        ("DB_PASSWORD", "${DB_PASSWORD}"),
        ("API_TOKEN", "<your-token>"),
        ("SECRET", "*****"),
        ("SECRET_KEY", "{{ .Values.secretKey }}"),
        ("PASSWORD", "-"),
        ("PUBLIC_KEY", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx8Yp5Tq deploy@ci"),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
        ("TLS_CERT", "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----"),
        ("PHPIZE_DEPS", "autoconf dpkg-dev file g++ gcc libc-dev make pkg-config re2c"),
        ("JAVA_OPTS", "-Xms256m -Xmx1g -Dfile.encoding=UTF-8"),
        ("NODE_OPTIONS", "--max-old-space-size=4096"),
        ("LS_COLORS", "rs=0:di=01;34:ln=01;36:mh=00:pi=40;33:so=01;35:do=01;35:bd=40;33;01"),
        ("TWILIO_ACCOUNT_SID", "AC" + "0123456789abcdef0123456789abcdef"),  # an account id, not a key
        ("CONFIG_B64", "eyJsb2ciOiJpbmZvIiwicG9ydCI6ODA4MH0="),
        ("POD_NAME", "api-6d5f7c9b8-qwz4r"),
        ("NO_PROXY", "localhost,127.0.0.1,.svc,.cluster.local"),
    ],
)
def test_harmless_values_are_left_alone(name: str, value: str) -> None:
    assert rule(name, value) is None


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("DB_PASSWORD", True),
        ("PGPASSWORD", True),
        ("API_KEY", True),
        ("apiKey", True),
        ("X_API_KEY", True),
        ("CLIENT_SECRET", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("GOOGLE_CREDENTIALS", True),
        ("REDIS_AUTH", True),
        ("RABBITMQ_DEFAULT_PASS", True),
        ("-Dspring.datasource.password", True),
        ("--requirepass", True),
        ("POSTGRES_PASSWORD_FILE", False),
        ("PASSWORD_MIN_LENGTH", False),
        ("TOKEN_URL", False),
        ("AUTH_URL", False),
        ("PASS_MAX_DAYS", False),
        ("CACHE_KEY", False),
        ("PARTITION_KEY", False),
        ("PUBLIC_KEY", False),
        ("KEYCLOAK_ADMIN", False),
        ("SECRET_NAME", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("BYPASS", False),
    ],
)
def test_secret_names(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


def test_allow_list_covers_image_defaults_but_not_secret_names() -> None:
    for name in ("PATH", "LC_ALL", "NODE_VERSION", "PYTHON_SHA256", "GPG_KEYS", "GIT_COMMIT", "JAVA_HOME"):
        assert is_allowlisted(name), name
    for name in ("DB_PASSWORD", "API_KEYS", "SESSION", "TOKEN_SHA_SALT"):
        assert not is_allowlisted(name), name


def fp(secret: str) -> str:
    return Fingerprinter(b"k" * 32, "run")(secret)


@pytest.mark.parametrize(
    ("argv", "name", "secret_rule"),
    [
        (["app", "--token=abc123def456"], "--token", "secret-name"),
        (["app", "--password", "hunter22"], "--password", "secret-name"),
        (["mysql", "-uroot", "-pS3cretPw", "db"], "-p", "secret-name"),
        (["mysqldump", "-pS3cretPw", "db"], "-p", "secret-name"),
        (["redis-cli", "-a", "pw1234", "ping"], "-a", "secret-name"),
        (["redis-server", "--requirepass", "foob4rbaz"], "--requirepass", "secret-name"),
        (["sshpass", "-p", "letmein1", "ssh", "host"], "-p", "secret-name"),
        (["curl", "-u", "bob:hunter22", "https://x"], "-u", "secret-name"),
        (["openssl", "enc", "-pass", "pass:s3cret!", "-in", "f"], "-pass", "secret-name"),
        (
            ["java", "-Dspring.datasource.password=pw123", "-jar", "app.jar"],
            "-Dspring.datasource.password",
            "secret-name",
        ),
        (["env", "DB_PASSWORD=hunter22", "app"], "DB_PASSWORD", "secret-name"),
        (["app", "--db", "postgres://u:pw99@db/x"], "argv[2]", "url-password"),
        (["app", GH], "argv[1]", "github-token"),
        (["sh", "-c", "sleep 1; exec mysql -pXyz123 db"], "-p", "secret-name"),
        (["sh", "-c", "sleep 100000; : --token=ARGVSECRET123"], "--token", "secret-name"),
    ],
)
def test_arguments_with_secrets(argv: list[str], name: str, secret_rule: str) -> None:
    found = scan_argv(argv, fp)
    assert [(f.name, f.rule) for f in found] == [(name, secret_rule)]


@pytest.mark.parametrize(
    "argv",
    [
        ["sleep", "1000000"],
        ["mysql", "-p", "db"],
        ["tar", "-pxf", "a.tar"],
        ["docker", "run", "-p", "8080:80"],
        ["nginx", "-g", "daemon off;"],
        ["ssh", "-p22", "host"],
        ["app", "--password-file", "/run/secrets/pw"],
        ["app", "--password", "--verbose"],
        ["java", "-Xmx1g", "-jar", "app.jar"],
        [
            "containerd-shim-runc-v2",
            "-namespace",
            "moby",
            "-id",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b9f86d081",
        ],
    ],
)
def test_arguments_without_secrets(argv: list[str]) -> None:
    assert scan_argv(argv, fp) == []


def test_finding_carries_no_value_and_fingerprints_the_secret_part() -> None:
    pairs = [("DATABASE_URL", "postgres://app:s3cr3tpw@db/app"), ("DB_PASSWORD", "s3cr3tpw"), ("LANG", "C")]
    url, pw = scan_environ(pairs, fp)
    assert url.fingerprint == pw.fingerprint == fp("s3cr3tpw")  # the same password in two places
    assert url.length == len(pairs[0][1]) and pw.length == 8
    for finding in (url, pw):
        text = repr(finding) + str(finding.to_dict()) + finding.redacted
        assert "s3cr3tpw" not in text
    assert pw.redacted == f"<redacted: secret-name, 8 chars, fp {fp('s3cr3tpw')}>"


def test_duplicate_names_are_judged_one_by_one() -> None:
    verdicts = judge_environ([("X_PASSWORD", "hunter22"), ("X_PASSWORD", "")], fp)
    assert verdicts[0] is not None and verdicts[1] is None


def test_detector_errors_never_quote_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(name: str, value: str) -> list[object]:
        raise ValueError(f"cannot parse {value!r}")

    monkeypatch.setattr(providers, "find_formats", explode)
    with pytest.raises(DetectionFailed) as err:
        scan_environ([("DB_PASSWORD", "hunter2-very-secret")], fp)
    assert "hunter2-very-secret" not in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__


def test_fingerprint_key_is_created_root_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "lib" / "ctrlens" / "fingerprint.key"
    first = Fingerprinter.for_host(str(path))
    assert first.scope == "host"
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Fingerprinter.for_host(str(path))("x") == first("x")
    assert len(first("x")) == 12 and first("x") != first("y")


def test_fingerprint_falls_back_to_a_run_key_not_a_public_one(tmp_path: Path) -> None:
    path = tmp_path / "fingerprint.key"
    path.write_bytes(b"k" * 32)
    os.chmod(path, 0o644)  # readable by others: refused
    a, b = Fingerprinter.for_host(str(path)), Fingerprinter.for_host(str(path))
    assert a.scope == b.scope == "run"
    assert a("hunter2") != b("hunter2")  # no fixed key: nobody can precompute fingerprints of weak passwords
    assert Fingerprinter.for_host("/proc/no/such/dir/key").scope == "run"


def creds(
    uid: int,
    gid: int | None = None,
    *,
    prm: int = 0,
    eff: int = 0,
    userns: int = INIT_USER_NS,
    pidns: int = 1,
    owner: int | None = None,
    dumpable: bool = True,
) -> Creds:
    g = uid if gid is None else gid
    return Creds(
        (uid,) * 4,
        (g,) * 4,
        cap_eff=eff,
        cap_prm=prm,
        user_ns=userns,
        pid_ns=pidns,
        dumpable=dumpable,
        userns_owner=owner,
    )


DOCKER_CAPS = 0xA80425FB
ROOT_CAPS = 0x1FFFEFFFFFF


def test_may_read_follows_ptrace_may_access() -> None:
    user1000 = Creds.of_user(1000, 1000)
    assert may_read_environ(user1000, creds(1000, 1000))
    assert not may_read_environ(user1000, creds(1000, 0))  # docker --user 1000 runs with gid 0
    assert not may_read_environ(Creds.of_user(1001, 1001), creds(1000, 1000))
    assert not may_read_environ(user1000, creds(1000, 1000, prm=1 << 10))  # target holds a cap the user lacks
    assert not may_read_environ(user1000, creds(1000, 1000, dumpable=False))
    assert not may_read_environ(user1000, creds(1000, 1000, userns=123))  # remapped: not the same namespace
    assert may_read_environ(user1000, creds(100000, 100000, userns=123, owner=1000))  # rootless engine owner
    root = creds(0, eff=ROOT_CAPS, prm=ROOT_CAPS)
    assert may_read_environ(root, creds(1000, 0, prm=DOCKER_CAPS))
    assert not may_read_environ(creds(0), creds(0, prm=DOCKER_CAPS))  # root with no caps (host-facts §5)
    pidhost = creds(0, eff=DOCKER_CAPS, prm=DOCKER_CAPS)
    assert may_read_environ(pidhost, creds(0, prm=DOCKER_CAPS))
    assert not may_read_environ(pidhost, creds(0, prm=ROOT_CAPS))  # dockerd: full caps
    assert not may_read_environ(pidhost, creds(1000, 1000))  # uid differs, no CAP_SYS_PTRACE


def test_environ_readers_names_host_users_and_containers() -> None:
    users = [
        HostUser("root", 0, 0),
        HostUser("cloudsdk", 1000, 1000),
        HostUser("alice", 1001, 1001),
        HostUser("bob", 1000, 2000, frozenset({0})),
    ]  # bob can `sg root`: gid 0 is within reach
    target = creds(1000, 0)
    readers = environ_readers(
        target, users, [("c1", "pidhost", [creds(0, eff=DOCKER_CAPS, prm=DOCKER_CAPS)])]
    )
    assert [r.label for r in readers] == ["root", "bob(1000)"]
    readers = environ_readers(
        creds(0, prm=DOCKER_CAPS), users, [("c1", "pidhost", [creds(0, eff=DOCKER_CAPS, prm=DOCKER_CAPS)])]
    )
    assert [r.label for r in readers] == ["root", "ctr:pidhost"]


def test_passwd_and_group_are_parsed_from_the_host_root(tmp_path: Path) -> None:
    assert parse_passwd("root:x:0:0::/root:/bin/sh\nbad line\ncloudsdk:x:1000:1000::/home/c:/bin/bash\n") == [
        ("root", 0, 0),
        ("cloudsdk", 1000, 1000),
    ]
    assert parse_group("root:x:0:bob\nstaff:x:50:bob,carol\n") == {"bob": {0, 50}, "carol": {50}}
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("ghost:x:4242:4242::/:/bin/false\n")
    from ctrlens.secrets import host_users

    assert [(u.name, u.uid) for u in host_users(Host(str(tmp_path)))] == [("ghost", 4242)]


def test_importing_the_cli_and_the_package_does_not_import_detect_secrets() -> None:
    code = (
        "import sys; import ctrlens.cli as c; c.build_parser(); import ctrlens.secrets; "
        "print('detect_secrets' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_corpus_precision_and_recall_stay_above_095() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import secrets_precision as bench
    finally:
        sys.path.pop(0)
    rows = bench.load(bench.CORPUS)
    assert len(rows) >= 400
    results = [(label, bench.predict(name, value)) for name, value, label in rows]
    tp = sum(1 for lb, pr in results if lb != "none" and pr != "none")
    fp_ = sum(1 for lb, pr in results if lb == "none" and pr != "none")
    fn = sum(1 for lb, pr in results if lb != "none" and pr == "none")
    precision, recall, _ = bench.prf(tp, fp_, fn)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)


def test_fingerprints_tell_different_tokens_apart_and_match_the_same_token_anywhere():
    # detect-secrets' own analyze_string yields only a grouped pattern's first group ("ghp" for every GitHub token).
    from ctrlens.secrets import Fingerprinter, scan_environ

    fp = Fingerprinter.for_run()
    one, two = "ghp_" + "a1B2c3D4e5" * 3 + "000001", "ghp_" + "Z9y8X7w6V5" * 3 + "999999"
    first = scan_environ([("GITHUB_TOKEN", one)], fp)[0].fingerprint
    assert scan_environ([("GH_PAT", one)], fp)[0].fingerprint == first
    assert scan_environ([("GITHUB_TOKEN", two)], fp)[0].fingerprint != first


def test_detection_is_built_in_and_imports_neither_detect_secrets_nor_a_network_client():
    # The rule set is ctrlens's own (issue 16: `pip install .` without extras must detect secrets), and a
    # secret must never reach a provider's API for verification.
    code = (
        "import sys\nfrom ctrlens.secrets import Fingerprinter, scan_environ\n"
        "f = scan_environ([('X', 'ghp_' + 'a1B2c3D4e5' * 3 + '000001')], Fingerprinter.for_run())\n"
        "print(f[0].rule, 'detect_secrets' in sys.modules, 'requests' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["github-token", "False", "False"]
