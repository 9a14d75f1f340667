"""Is this NAME=value a secret, and by which rule? The layers, first verdict wins:

1. token formats (detect-secrets plugins + `providers`): a format names its issuer, so it counts whatever the
   variable is called, allow-listed or not;
2. passwords in URLs and connection strings;
3. allow-listed names (PATH, *_VERSION, GPG_KEYS, *_SHA256…) stop here;
4. options embedded in *_OPTS-like values (JAVA_OPTS="-Djavax.net.ssl.keyStorePassword=…");
5. the name says secret and the value is not a harmless shape (`*_FILE` paths, booleans, placeholders);
6. the value alone is random-looking (high entropy), unless it has the shape of an id, digest or path.

A `Detection` carries the secret part (to fingerprint it) and must never be printed: `repr` hides it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from . import names, providers, values

MIN_NAMED_LENGTH = 3  # shorter values under a secret name are stand-ins ("-", "no"), not credentials
MIN_ENTROPY_LENGTH = 20
MIN_HEX_LENGTH = 32
HEX_ENTROPY = 3.0  # detect-secrets' default limit for hex strings
_B64_CHARS = re.compile(r"[A-Za-z0-9+/=_-]+")
_HEX_CHARS = re.compile(r"[0-9a-fA-F]+")
# Lower-case slugs and dotted names ("ingress-nginx-controller", "svc.cluster.local") are names, not keys.
_SLUG = re.compile(r"[a-z0-9]+(?:[-._][a-z0-9]+)+")


@dataclass(frozen=True, slots=True)
class Detection:
    rule: str
    secret: str = field(repr=False)  # the part to fingerprint; never shown
    detail: str | None = None  # e.g. the embedded option name; never holds a value


def classify(name: str, value: str, *, entropy: bool = True, nested: bool = False) -> Detection | None:
    """The verdict for one variable (or one option and its argument). `entropy=False` skips layer 6, for
    command-line arguments, where long ids and hashes are common and a name rarely says what they are."""
    if not value or not value.strip():
        return None
    found = _by_format(name, value)
    if found is not None:
        return found
    if names.is_allowlisted(name):
        return None
    if not nested:
        inside = _structured(value)
        if inside is not None:
            return inside
    spaced = values.looks_like_list_of_words(value)
    if spaced:
        embedded = _embedded_option(value)
        if embedded is not None:
            return embedded
    if names.is_secret_name(name):
        return _named(name, value)
    return None if spaced or not entropy else _random_looking(name, value)


def classify_value(value: str) -> Detection | None:
    """Layers 1-2 only: a token format or a URL password, for a value with no name (a bare argument)."""
    return _by_format("", value) if value.strip() else None


def _by_format(name: str, value: str) -> Detection | None:
    formats = providers.find_formats(name, value)
    if formats:
        best = formats[0]
        # A private key's header is the same in every key: fingerprint the key itself.
        return Detection(best.rule, value if best.rule == "private-key" else best.secret)
    passwords = _url_passwords(value)
    return Detection("url-password", passwords[0]) if passwords else None


@lru_cache(maxsize=1024)
def _url_passwords(value: str) -> tuple[str, ...]:
    # Cached: a container's processes inherit one environment, so the same values come back per process.
    return tuple(values.url_passwords(value))


def _named(name: str, value: str) -> Detection | None:
    v = value.strip()
    if values.is_number(v):
        # PASSWORD=123456 is a (weak) password; TOKEN=30 is a setting.
        if names.is_strong_secret_name(name) and v.isdigit() and len(v) >= 4:
            return Detection("secret-name", value)
        return None
    if len(v) < MIN_NAMED_LENGTH or values.is_harmless_under_secret_name(v):
        return None
    return Detection("secret-name", value)


def _structured(value: str) -> Detection | None:
    """JSON, `.env`/INI, YAML-ish and pgpass values: the first leaf that is a secret under its own key."""
    from .structured import leaves

    for path, leaf in leaves(value):
        key = path.rsplit(".", 1)[-1]
        found = classify("PASSWORD" if key == "pgpass" else key, leaf, entropy=False, nested=True)
        if found is not None and found.rule != "high-entropy":
            return Detection(found.rule, found.secret, detail=path[-80:])
    return None


def _embedded_option(value: str) -> Detection | None:
    """Option strings (JAVA_OPTS, NODE_OPTIONS, *_ARGS): judge each `name=value` or `--name value` inside."""
    from .argv import option_pairs

    for opt in option_pairs(value.split()):
        found = classify(opt.name, opt.value, entropy=False)
        if found is not None and found.rule != "high-entropy":
            return Detection(found.rule, found.secret, detail=opt.name)
    return None


def _random_looking(name: str, value: str) -> Detection | None:
    v = value.strip()
    if len(v) < MIN_ENTROPY_LENGTH or values.is_harmless(v):
        return None
    if _HEX_CHARS.fullmatch(v):
        if len(v) >= MIN_HEX_LENGTH and providers.hex_entropy(v) > HEX_ENTROPY and not _sequential(v):
            return Detection("high-entropy", value)
        return None
    if _SLUG.fullmatch(v) or not _B64_CHARS.fullmatch(v) or not _mixed(v) or _sequential(v):
        return None
    if values.is_encoded_document(v) or values.is_public_site_key(v):
        return None
    if providers.base64_entropy(v) >= _base64_limit(len(v)):
        return Detection("high-entropy", value)
    return None


def _base64_limit(length: int) -> float:
    """detect-secrets uses 4.5 bits, which a string shorter than 23 characters cannot reach (log2 of its
    length is the maximum); ask short strings for 85% of their maximum instead."""
    return min(4.5, 0.85 * math.log2(length))


def _mixed(v: str) -> bool:
    """Random keys mix at least upper case, lower case and digits; words and names rarely do."""
    classes = sum((any(c.isupper() for c in v), any(c.islower() for c in v), any(c.isdigit() for c in v)))
    return classes >= 3 or (classes == 2 and any(c in "+/=" for c in v))


def _sequential(v: str) -> bool:
    return providers.is_sequential(v)
