"""What a value's shape says: harmless shapes (booleans, numbers, paths, versions, URLs without a password,
placeholders) and passwords embedded in URLs or connection strings. Pure string functions, no library."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl

from .names import is_secret_name

_BOOLEANS = {
    "true",
    "false",
    "yes",
    "no",
    "on",
    "off",
    "y",
    "n",
    "t",
    "f",
    "enabled",
    "disabled",
    "enable",
    "disable",
    "none",
    "null",
    "nil",
    "undefined",
    "empty",
    "unset",
    "trust",
    "required",
    "optional",
}
_PLACEHOLDER_WORDS = {
    "redacted",
    "<redacted>",
    "[redacted]",
    "secret-here",
    "your-secret",
    "your-token",
    "your-password",
    "replace-me",
    "replaceme",
    "todo",
    "tbd",
    "dummy-value",
    "notset",
}
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[a-zA-Z]{1,3})?")  # 30, 0.5, 512m, 10s, 1Gi
_VERSION = re.compile(r"(?:\d+:)?v?\d+(?:\.\d+)+(?:[-+~._]?[A-Za-z0-9][A-Za-z0-9.~+-]*)?")
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.~@+,%=-]*(?:/[\w.~@+,%=-]*)*")
_PATH_LIST = re.compile(rf"{_PATH.pattern}(?::{_PATH.pattern})+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DIGEST = re.compile(r"(?:sha1|sha256|sha384|sha512|md5):[0-9a-fA-F]{32,128}")
_SCHEME_MAX = 32
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_TOKEN = re.compile(r"[^\s\"'<>]++")  # a URL ends at a blank, a quote or an angle bracket
_AUTHORITY_END = re.compile(r"[/?#]")
_CONN_HINT = re.compile(r"password|passwd|pwd", re.IGNORECASE)
# Bounded repetitions: a match starts only at `password` after a separator and reads at most ~1 kB from there.
_CONN_PASSWORD = re.compile(
    r"(?:^|[;\s])(?:password|passwd|pwd)\s{0,16}=\s{0,16}"
    r"('(?:[^'\\]|\\.){0,1024}'|\"[^\"]{0,1024}\"|[^;\s]{1,1024})",
    re.IGNORECASE,
)
_VERSION_MAX = 128  # the version pattern can backtrack; versions are short
_TEMPLATE = re.compile(
    r"^(?:\$\{[^}]*\}|\$\([^)]*\)|\$[A-Za-z_][A-Za-z0-9_]*|\{\{.*\}\}|%\(\w+\)s|%s|<[^<>]*>|\{[^{}]*\})$"
)


def is_boolean(value: str) -> bool:
    return value.strip().lower() in _BOOLEANS


def is_number(value: str) -> bool:
    return bool(_NUMBER.fullmatch(value.strip()))


def is_version(value: str) -> bool:
    v = value.strip()
    return len(v) <= _VERSION_MAX and bool(_VERSION.fullmatch(v))


def is_path(value: str) -> bool:
    """An absolute or ./relative path, or a PATH-like list of them."""
    v = value.strip()
    return bool(_PATH.fullmatch(v) or _PATH_LIST.fullmatch(v))


def is_uuid(value: str) -> bool:
    return bool(_UUID.fullmatch(value.strip()))


def is_digest(value: str) -> bool:
    return bool(_DIGEST.fullmatch(value.strip()))


_PUBLIC = re.compile(
    r"(?:ssh-(?:rsa|dss|ed25519)|ecdsa-sha2-nistp\d+|sk-ssh-ed25519@openssh\.com) AAAA"  # OpenSSH public keys
    r"|-----BEGIN (?:CERTIFICATE|PUBLIC KEY|RSA PUBLIC KEY|PGP PUBLIC KEY BLOCK|X509 CRL)-----"
    r"|pk_(?:live|test)_[0-9A-Za-z]{20,}$"  # Stripe publishable keys are meant for browsers
    r"|age1[0-9a-z]{58}$"  # age recipients (public keys)
    r"|pk\.eyJ[A-Za-z0-9_=-]{1,4096}\.[A-Za-z0-9_=-]{1,4096}$"  # Mapbox public tokens (its secret ones are sk.)
)
# A reCAPTCHA site key is published in every page that uses it; its secret twin has the same shape, so this
# exempts the shape from the entropy rule only (a variable named as a secret still counts).
_RECAPTCHA = re.compile(r"6L[0-9A-Za-z_-]{38}")


def is_public_site_key(value: str) -> bool:
    return bool(_RECAPTCHA.fullmatch(value.strip()))


def is_public_key(value: str) -> bool:
    """Public halves (SSH/PEM public keys, certificates, Stripe publishable keys): random, not secret."""
    return bool(_PUBLIC.match(value.strip()))


def is_placeholder(value: str) -> bool:
    """Unexpanded templates and stand-ins (${DB_PASSWORD}, {{ .token }}, <password>, *****, xxxx)."""
    v = value.strip()
    if not v:
        return True
    if _TEMPLATE.match(v) or v.lower() in _PLACEHOLDER_WORDS:
        return True
    return len(set(v.lower())) == 1 and len(v) >= 3  # "*****", "xxxxxxxx", "0000"


def url_passwords(value: str) -> list[str]:
    """Passwords in `scheme://user:pass@host` URLs and in `Password=…;` / `password=…` connection strings.

    Linear in the value: each `://` is found once, its scheme is read backwards at most `_SCHEME_MAX`
    characters, its authority ends at the next `/?#` or blank, and each blank-free run is parsed for a
    query string once (a container may hand us megabytes of `://://…`)."""
    found: list[str] = []
    if "://" in value:
        for token in _TOKEN.finditer(value):
            found.extend(_token_passwords(token.group(0)))
    if _CONN_HINT.search(value):
        for match in _CONN_PASSWORD.finditer(value):
            password = match.group(1).strip("'\"")
            if password and not is_placeholder(password):
                found.append(password)
    return found


def _token_passwords(token: str) -> list[str]:
    found: list[str] = []
    first_url = -1
    at = token.find("://")
    while at >= 0:
        if _has_scheme(token, at):
            if first_url < 0:
                first_url = at + 3
            end = _AUTHORITY_END.search(token, at + 3)
            netloc = token[at + 3 : end.start() if end else len(token)]
            userinfo, sep, _ = netloc.rpartition("@")
            _, colon, password = userinfo.partition(":")
            if sep and colon and password and not is_placeholder(password):
                found.append(password)
        at = token.find("://", at + 3)
    if first_url >= 0:
        found.extend(_query_secrets(token[first_url:]))
    return found


def _has_scheme(text: str, at: int) -> bool:
    """A URL scheme (`[A-Za-z][A-Za-z0-9+.-]*`) ends right before `at`; read backwards, bounded."""
    i = at
    while i > 0 and at - i < _SCHEME_MAX and text[i - 1] in _SCHEME_CHARS:
        i -= 1
    while i < at and not (text[i].isascii() and text[i].isalpha()):
        i += 1
    return i < at


def _query_secrets(url: str) -> list[str]:
    """`?access_token=…`, `&sig=…` (Azure SAS): secrets carried as query parameters."""
    _, q, query = url.partition("?")
    if not q:
        return []
    return [
        v
        for k, v in parse_qsl(query.partition("#")[0], keep_blank_values=False)
        if (k.lower() in ("sig", "signature", "key") or is_secret_name(k)) and not is_placeholder(v)
    ]


def has_url(value: str) -> bool:
    at = value.find("://")
    while at >= 0:
        if _has_scheme(value, at):
            return True
        at = value.find("://", at + 3)
    return False


def is_harmless_under_secret_name(value: str) -> bool:
    """The stricter test for values under a secret name: there, a UUID or a number is a credential (Consul
    and Heroku tokens are UUIDs; PIN=4711), only stand-ins, flags, paths and public material are not."""
    v = value.strip()
    if is_placeholder(v) or is_boolean(v) or is_path(v) or is_public_key(v):
        return True
    return has_url(v) and not url_passwords(v) and " " not in v


def is_harmless(value: str) -> bool:
    """Shapes that never carry a secret when the name does not say secret: those above, and versions,
    UUIDs and digests."""
    v = value.strip()
    if is_placeholder(v) or is_boolean(v) or is_version(v) or is_path(v) or is_uuid(v) or is_digest(v):
        return True
    if is_public_key(v):
        return True
    # A URL with no password in it is an address, not a credential.
    return has_url(v) and not url_passwords(v) and " " not in v


def is_encoded_document(value: str) -> bool:
    """Base64 of a JSON/XML/YAML/INI document (a config passed as one variable): random-looking once encoded,
    but a key decodes to bytes, not to printable text of several lines or one that opens like a document."""
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except ValueError:
        return False
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return False
    if text.startswith("---"):
        return True
    lines = text.splitlines()
    printable = all(line.isprintable() for line in lines)
    return printable and (text.lstrip()[:1] in ("{", "[", "<") or len(lines) >= 2)


def looks_like_list_of_words(value: str) -> bool:
    """Space-separated words ("autoconf dpkg-dev file g++"): package lists, flags, prose."""
    parts = value.split()
    return len(parts) > 1
