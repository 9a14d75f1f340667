"""What a variable's (or an option's) name says about its value.

Names are split into upper-case words ("dbPassword", "DB_PASSWORD", "-Ddb.password" all give DB, PASSWORD).
A name is *secret-named* when it holds a secret word and no word after the last secret word turns it into
metadata about the secret (POSTGRES_PASSWORD_FILE, PASSWORD_MIN_LENGTH, TOKEN_URL, SECRET_NAME…).
A name is *allow-listed* when images set it by the thousand with values that look random but are not secrets
(GPG_KEYS, PYTHON_SHA256, *_VERSION, HOSTNAME…): the entropy rule leaves those alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^A-Za-z0-9]+")

# A word that is, or ends with, one of these names a secret wherever it stands (PGPASSWORD, APITOKEN, SECRETS).
_STRONG = re.compile(
    r"(PASSWORD|PASSWORDS|PASSWD|PASSPHRASE|SECRET|SECRETS|TOKEN|TOKENS|APIKEY|APIKEYS|PRIVATEKEY|"
    r"SECRETKEY|ACCESSKEY|AUTHKEY|CREDENTIAL|CREDENTIALS|CREDS|REQUIREPASS|MASTERAUTH|MASTERPASS|"
    # compounds written as one word: SSHPASS (sshpass -e), DBPASS, SMTPPWD, MYSQLPW
    r"(?:SSH|DB|SMTP|LDAP|ROOT|ADMIN|USER|MYSQL|REDIS|MAIL|FTP|PROXY|VNC|RDP)(?:PASS|PWD|PW|AUTH))$"
)
# Words that name a secret only as the last word (REDIS_AUTH, RABBITMQ_DEFAULT_PASS, ERLANG_COOKIE), since
# AUTH_URL, PASS_MAX_DAYS or COOKIE_DOMAIN are settings.
_LAST_ONLY = {"PASS", "PWD", "PW", "AUTH", "COOKIE", "SALT", "PIN", "PSK", "PASSCODE", "SIGNATURE"}
# KEY names a secret only behind one of these (API_KEY, SIGNING_KEY), not in CACHE_KEY or PARTITION_KEY.
_KEY_QUALIFIERS = {
    "API",
    "ACCESS",
    "SECRET",
    "PRIVATE",
    "PRIV",
    "AUTH",
    "CLIENT",
    "SIGNING",
    "SIGN",
    "ENCRYPTION",
    "ENC",
    "ENCRYPT",
    "CRYPT",
    "CRYPTO",
    "CIPHER",
    "MASTER",
    "SESSION",
    "HMAC",
    "APP",
    "SERVICE",
    "ACCOUNT",
    "DB",
    "DATABASE",
    "LICENSE",
    "WEBHOOK",
    "SHARED",
    "ADMIN",
    "SSH",
    "TLS",
    "SSL",
    "JWT",
    "COOKIE",
    "CSRF",
    "AES",
    "STORAGE",
    "SECURE",
    "LOGGED",
    "NONCE",
    "DEPLOY",
    "MAC",
    "ROOT",
    "USER",
    "SERVER",
    "WRITE",
    "READ",
    "UNSEAL",
    "RECOVERY",
}
_KEY_QUALIFIER_PAIRS = {("LOGGED", "IN")}  # WordPress's LOGGED_IN_KEY
# Words after the last secret word that make the name describe the secret instead of holding it.
_NEGATORS = {
    "FILE",
    "FILES",
    "PATH",
    "PATHS",
    "DIR",
    "DIRS",
    "DIRECTORY",
    "FOLDER",
    "LOCATION",
    "MOUNT",
    "URL",
    "URLS",
    "URI",
    "ENDPOINT",
    "HOST",
    "HOSTNAME",
    "PORT",
    "ADDR",
    "ADDRESS",
    "SERVER",
    "SOCK",
    "SOCKET",
    "LENGTH",
    "LEN",
    "SIZE",
    "BITS",
    "MIN",
    "MAX",
    "MINIMUM",
    "MAXIMUM",
    "COUNT",
    "LIMIT",
    "TTL",
    "TIMEOUT",
    "EXPIRY",
    "EXPIRES",
    "EXPIRATION",
    "EXPIRE",
    "LIFETIME",
    "AGE",
    "DAYS",
    "HOURS",
    "MINUTES",
    "SECONDS",
    "INTERVAL",
    "DURATION",
    "ROTATION",
    "PERIOD",
    "ENABLED",
    "ENABLE",
    "DISABLED",
    "DISABLE",
    "REQUIRED",
    "REQUIRE",
    "METHOD",
    "MODE",
    "TYPE",
    "KIND",
    "ALGORITHM",
    "ALGORITHMS",
    "ALGO",
    "ALG",
    "ENCRYPTION",
    "ENCODING",
    "FORMAT",
    "POLICY",
    "POLICIES",
    "RULES",
    "STRENGTH",
    "COMPLEXITY",
    "PROVIDER",
    "BACKEND",
    "STORE",
    "STORAGE",
    "MANAGER",
    "SOURCE",
    "NAME",
    "NAMES",
    "ID",
    "IDS",
    "USER",
    "USERNAME",
    "HEADER",
    "FIELD",
    "PARAM",
    "PARAMETER",
    "PREFIX",
    "SUFFIX",
    "VERSION",
    "LEVEL",
    "ISSUER",
    "AUDIENCE",
    "SCOPE",
    "SCOPES",
    "REALM",
    "VAR",
    "VARIABLE",
    "FINGERPRINT",
    "REF",
    "ARN",
    "COMMAND",
    "CMD",
    "SCRIPT",
    "HINT",
    "RESET",
    "ENV",
    "CHARS",
    "CHARSET",
    "SEPARATOR",
    "DELIMITER",
    "LOOKUP",
    "RETRIES",
    "ATTEMPTS",
    "LOCKOUT",
    "HISTORY",
    "REUSE",
    "PROMPT",
    "LABEL",
    "KEYS",
    "SHA",
    "SHA256",
    "HASHER",
    "HASHERS",
    "VALIDATOR",
    "VALIDATORS",
    "PATTERN",
    "REGEX",
    "COLUMN",
    "TABLE",
    "DOMAIN",
    "SAMESITE",
    "SECURE",
    "HTTPONLY",
    "STRATEGY",
    "SERVICE",
    "VALIDITY",
    "REFRESH",
    "GRACE",
    "CACHE",
}
# Names set by base images and runtimes whose values are never secrets, however random they look.
_ALLOW_EXACT = {
    "PATH",
    "HOME",
    "HOSTNAME",
    "HOST",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "TERM",
    "TERMINFO",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "TZ",
    "LS_COLORS",
    "LSCOLORS",
    "PS1",
    "PS2",
    "PS4",
    "PROMPT_COMMAND",
    "MAIL",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "_",
    "CONTAINER",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED",
    "PYTHONPATH",
    "PYTHONIOENCODING",
    "PYTHONWARNINGS",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_ROOT_USER_ACTION",
    "GPG_KEY",
    "GPG_KEYS",
    "JAVA_HOME",
    "GOPATH",
    "GOROOT",
    "GOTOOLCHAIN",
    "NODE_ENV",
    "PHPIZE_DEPS",
    "DEBIAN_FRONTEND",
    "MANPATH",
    "INFOPATH",
    "DISPLAY",
    "SSH_AUTH_SOCK",
    "INVOCATION_ID",
    "JOURNAL_STREAM",
    "NOTIFY_SOCKET",
    "MACHINE_ID",
    "BOOT_IMAGE",
    "RUNNING_IN_DOCKER",
    "LD_LIBRARY_PATH",
    "TINI_SUBREAPER",
    "CATALINA_HOME",
    "CATALINA_BASE",
    "PGDATA",
}
_ALLOW_PREFIXES = ("LC_", "XDG_", "KUBERNETES_SERVICE_", "KUBERNETES_PORT")
# Last words whose values are versions, checksums, ids and key fingerprints: random-looking, not secret.
_ALLOW_LAST = {
    "VERSION",
    "VERSIONS",
    "RELEASE",
    "SHA",
    "SHA1",
    "SHA224",
    "SHA256",
    "SHA384",
    "SHA512",
    "MD5",
    "SHASUM",
    "CHECKSUM",
    "CHECKSUMS",
    "DIGEST",
    "COMMIT",
    "REVISION",
    "REV",
    "REF",
    "FINGERPRINT",
    "FINGERPRINTS",
    "ID",
    "IDS",
    "SID",
    "UUID",
    "GUID",
    "HOME",
    "DIR",
    "PATH",
    "DEPS",
    "KEYS",
    "ASC",
    "SIG",
    "CFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "PGP",
    "GPG",
}


def words(name: str) -> tuple[str, ...]:
    """ "dbPassword" -> ("DB", "PASSWORD"); "-Djavax.net.ssl.keyStorePassword" -> (…, "KEY", "STORE", "PASSWORD")."""
    # Names are the container's too: only short ones are cached, so the cache stays small whatever they hold.
    return _cached_words(name) if len(name) <= 256 else _split_words(name)


def _split_words(name: str) -> tuple[str, ...]:
    return tuple(w.upper() for w in _SPLIT.split(_CAMEL.sub("_", name)) if w)


_cached_words = lru_cache(maxsize=4096)(_split_words)


def _secret_word_at(ws: tuple[str, ...], i: int) -> bool:
    w = ws[i]
    if _STRONG.search(w):
        return True
    last = i == len(ws) - 1
    if w in _LAST_ONLY:
        return last
    if w in ("KEY", "KEYS"):
        return i > 0 and (ws[i - 1] in _KEY_QUALIFIERS or ws[max(i - 2, 0) : i] in _KEY_QUALIFIER_PAIRS)
    return False


def last_secret_word(name: str) -> int | None:
    """Index of the last word that names a secret, or None."""
    ws = words(name)
    for i in range(len(ws) - 1, -1, -1):
        if _secret_word_at(ws, i):
            return i
    return None


def is_secret_name(name: str) -> bool:
    """The name says its value is a secret (and not, say, the path of a file holding one)."""
    ws = words(name)
    i = last_secret_word(name)
    if i is None:
        return False
    return not any(w in _NEGATORS for w in ws[i + 1 :])


def is_strong_secret_name(name: str) -> bool:
    """A secret name whose value is secret even when short or numeric (PASSWORD=123456, PIN=4711)."""
    if not is_secret_name(name):
        return False
    last = words(name)[-1]
    return bool(re.search(r"(PASSWORD|PASSWD|PASS|PWD|PW|PIN|PASSCODE|PASSPHRASE|SECRET)$", last))


def is_file_reference(name: str) -> bool:
    """`*_FILE` / `*_PATH` conventions (POSTGRES_PASSWORD_FILE): the value names where the secret lives."""
    ws = words(name)
    return bool(ws) and ws[-1] in {"FILE", "FILES", "PATH", "DIR", "DIRECTORY", "LOCATION"}


def is_allowlisted(name: str) -> bool:
    """Variables images set by the thousand (PATH, LANG, *_VERSION, *_SHA256, GPG_KEYS…)."""
    upper = name.upper()
    if upper in _ALLOW_EXACT or upper.startswith(_ALLOW_PREFIXES):
        return True
    ws = words(name)
    if not ws or is_secret_name(name):
        return False
    return ws[-1] in _ALLOW_LAST or (len(ws) > 1 and ws[-2:] in (("KEY", "ID"), ("KEY", "IDS")))
