"""Token formats: a built-in rule set, so detection needs no extra package and every pattern is ours to audit.

The formats follow detect-secrets 1.5's plugins (AWS, GitHub, GitLab, Slack, Stripe, JWT, private keys…) plus
the formats it lacks. Every pattern here runs on container-controlled text, so each is written to run in time
linear in the value (tests/unit/test_secrets_linear.py feeds each one adversarial megabytes):
* a match can start only at a token boundary (a look-behind) or after a literal prefix, and
* every repetition is bounded ({m,n}) or possessive (`++`, `{n,}+`: no backtracking into it),
so each start position costs a bounded amount of work, or the possessive run is consumed once.
Nothing is ever sent anywhere: there is no verification against a provider's API.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

# A token starts where no token character precedes it.
_B = r"(?<![A-Za-z0-9])"
_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "private-key",
        re.compile(
            r"BEGIN (?:[A-Z0-9]{1,16} ){0,4}PRIVATE KEY(?: BLOCK)?|PuTTY-User-Key-File-\d"
            r"|AGE-SECRET-KEY-1[0-9A-Z]{58}"
        ),
    ),
    ("aws-access-key", re.compile(_B + r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}")),
    (
        "github-token",
        re.compile(_B + r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}|github_pat_[A-Za-z0-9_]{60,90}"),
    ),
    (
        "gitlab-token",
        re.compile(
            _B + r"(?:(?:glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_-]{20,50}|GR1348941[A-Za-z0-9_-]{20,50}"
            r"|glcbt-(?:[0-9a-fA-F]{2}_)?[A-Za-z0-9_-]{20,50}|glimt-[A-Za-z0-9_-]{25}|glptt-[A-Za-z0-9_-]{40}"
            r"|glagent-[A-Za-z0-9_-]{50,1024}|gloas-[A-Za-z0-9_-]{64})(?![A-Za-z0-9_])"
        ),
    ),
    (
        "slack-token",
        re.compile(
            _B
            + r"xox[abposr]-(?:\d{1,20}-){1,8}[a-z0-9]{1,128}|xapp-\d-[A-Z0-9]{1,64}-\d{1,20}-[a-z0-9]{1,128}"
            r"|https://hooks\.slack\.com/services/T[a-zA-Z0-9_]{1,64}/B[a-zA-Z0-9_]{1,64}/[a-zA-Z0-9_]{1,128}",
            re.IGNORECASE,
        ),
    ),
    (
        "stripe-key",
        re.compile(_B + r"(?:sk|rk)_(?:test|live)_[0-9a-zA-Z]{24,256}|" + _B + r"whsec_[A-Za-z0-9]{32,256}"),
    ),
    ("google-api-key", re.compile(_B + r"AIza[0-9A-Za-z_-]{35}")),
    (
        "azure-key",
        re.compile(
            r"AccountKey=[a-zA-Z0-9+/=]{88}|SharedAccessKey=[A-Za-z0-9+/=]{43,44}"
            r"|" + _B + r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])"
        ),
    ),
    ("twilio-key", re.compile(_B + r"SK[a-z0-9]{32}")),
    ("sendgrid-key", re.compile(_B + r"SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}")),
    (
        "npm-token",
        re.compile(
            _B + r"npm_[A-Za-z0-9]{36}|//[^\s/]{1,256}/:_authToken=\s{0,8}(?:npm_\S{1,256}|[A-Fa-f0-9-]{36})"
        ),
    ),
    ("pypi-token", re.compile(r"pypi-(?:AgEIcHlwaS5vcmc|AgENdGVzdC5weXBpLm9yZw)[A-Za-z0-9_-]{70,}+")),
    (
        "openai-key",
        re.compile(
            _B + r"sk-[A-Za-z0-9_-]{0,64}[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"
            r"|" + _B + r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}+"
            r"|" + _B + r"sk-ant-[a-z]{1,16}\d\d-[A-Za-z0-9_-]{80,}+"
        ),
    ),
    ("huggingface-token", re.compile(_B + r"hf_[A-Za-z]{34}(?![A-Za-z0-9])")),
    ("vault-token", re.compile(_B + r"hv[sbr]\.[A-Za-z0-9_-]{24,}+")),
    ("digitalocean-token", re.compile(_B + r"do[por]_v1_[a-f0-9]{64}")),
    ("mailchimp-key", re.compile(r"(?<![0-9a-z])[0-9a-z]{32}-us[0-9]{1,2}(?![0-9])")),
    (
        "discord-token",
        re.compile(
            r"(?<![A-Za-z0-9_-])[MNO][a-zA-Z\d_-]{23,25}\.[a-zA-Z\d_-]{6}\.[a-zA-Z\d_-]{27}(?![A-Za-z0-9_-])"
        ),
    ),
    ("telegram-token", re.compile(r"(?<!\d)\d{8,10}:[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])")),
    ("square-oauth", re.compile(r"sq0csp-[0-9A-Za-z\\_-]{43}")),
    (
        "artifactory-token",
        re.compile(r"(?<![^\s=:\"'])(?:AKC[a-zA-Z0-9]{10,}+|AP[\dABCDEF][a-zA-Z0-9]{8,}+)(?=[\s\"']|$)"),
    ),
    (
        "ibm-cloud-key",
        re.compile(r"https?://api\.softlayer\.com/soap/(?:v3|v3\.1)/[a-z0-9]{64}(?![a-z0-9])", re.IGNORECASE),
    ),
    (
        "cloudant-credentials",
        re.compile(
            r"https?://[\w-]{1,128}:(?:[0-9a-f]{64}|[a-z]{24})@[\w-]{1,128}\.cloudant\.com", re.IGNORECASE
        ),
    ),
    # A JWT: header.payload[.signature]. A Mapbox public token (`pk.eyJ…`) is meant for browsers: not a secret
    # (no match after a `.`); its secret twin (`sk.eyJ…`) is.
    (
        "jwt",
        re.compile(
            r"(?<![A-Za-z0-9_=.-])(?:sk\.)?eyJ[A-Za-z0-9_=-]++\.[A-Za-z0-9_=-]++(?:\.[A-Za-z0-9_.+/=-]++)?"
        ),
    ),
)

# Rules that need the variable's name as well (detect-secrets finds them in `name = "value"` lines).
_NAMED: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "aws-access-key",
        re.compile(r"aws.{0,20}?(?:key|pwd|pw|password|pass|token)", re.IGNORECASE),
        re.compile(r"[0-9a-zA-Z/+]{40}"),
    ),
    (
        "cloudant-credentials",
        re.compile(r"(?:cloudant|cl|clou)[_-]?(?:api)?(?:key|pwd|pw|password|pass|token)", re.IGNORECASE),
        re.compile(r"[0-9a-f]{64}|[a-z]{24}"),
    ),
    (
        "ibm-cloud-key",
        re.compile(
            r"(?:ibm[_-]?cloud[_-]?iam|cloud[_-]?iam|ibm[_-]?cloud|ibm[_-]?iam|ibm|iam|cloud)[_-]?(?:api)?[_-]?"
            r"(?:key|pwd|password|pass|token)",
            re.IGNORECASE,
        ),
        re.compile(r"[a-zA-Z0-9_-]{44}"),
    ),
    (
        "ibm-cloud-key",
        re.compile(r"(?:softlayer|sl)[_-]?(?:api)?[_-]?(?:key|pwd|password|pass|token)", re.IGNORECASE),
        re.compile(r"[a-z0-9]{64}"),
    ),
)
_NAME_SPAN = 64  # the name rules look at the end of the name only: bounded work per value


@dataclass(frozen=True, slots=True)
class FormatMatch:
    rule: str
    secret: str  # the matched token; kept in memory only, to fingerprint it


def warm_up() -> None:
    """Nothing to load any more (the rules are compiled at import); kept for the benchmarks."""


# Substrings one of which every match of a format holds: a C-speed `in` test skips most regexes on most values.
_ANCHORS: dict[str, tuple[str, ...]] = {
    "private-key": ("PRIVATE KEY", "PuTTY-User-Key-File-", "AGE-SECRET-KEY-1"),
    "aws-access-key": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA"),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    "gitlab-token": ("gl", "GR1348941"),
    "slack-token": ("xox", "XOX", "xapp-", "XAPP-", "hooks.slack.com"),
    "stripe-key": ("k_test_", "k_live_", "whsec_"),
    "google-api-key": ("AIza",),
    "azure-key": ("AccountKey=", "SharedAccessKey=", "Q~"),
    "twilio-key": ("SK",),
    "sendgrid-key": ("SG.",),
    "npm-token": ("npm_", ":_authToken="),
    "pypi-token": ("pypi-",),
    "openai-key": ("sk-",),
    "huggingface-token": ("hf_",),
    "vault-token": ("hvs.", "hvb.", "hvr."),
    "digitalocean-token": ("_v1_",),
    "mailchimp-key": ("-us",),
    "discord-token": (".",),
    "telegram-token": (":",),
    "square-oauth": ("sq0csp-",),
    "artifactory-token": ("AKC", "AP"),
    "ibm-cloud-key": ("softlayer", "SOFTLAYER", "SoftLayer"),
    "cloudant-credentials": ("cloudant", "CLOUDANT", "Cloudant"),
    "jwt": ("eyJ",),
}
MIN_FORMAT_LENGTH = 11  # the shortest token any format matches (Artifactory's AP + 9)


def find_formats(name: str, value: str) -> list[FormatMatch]:
    """Every known token format in `value`, most specific first (a private key before anything inside it)."""
    matches = list(_value_formats(value))
    seen = {(m.rule, m.secret) for m in matches}
    if name:
        tail = name[-_NAME_SPAN:]
        stripped = value.strip().strip("\"'")
        for rule_id, name_pattern, value_pattern in _NAMED:
            if value_pattern.fullmatch(stripped) and name_pattern.search(tail):
                _add(matches, seen, rule_id, stripped)
    return matches


@lru_cache(maxsize=1024)
def _value_formats(value: str) -> tuple[FormatMatch, ...]:
    """The formats found in the value alone. Cached: a container's processes inherit one environment."""
    matches: list[FormatMatch] = []
    seen: set[tuple[str, str]] = set()
    for rule_id, pattern in _FORMATS if len(value) >= MIN_FORMAT_LENGTH else ():
        if not any(anchor in value for anchor in _ANCHORS[rule_id]):
            continue
        for m in pattern.finditer(value):
            secret = value if rule_id == "private-key" else m.group(0)
            _add(matches, seen, rule_id, secret)
    return tuple(matches)


def _add(matches: list[FormatMatch], seen: set[tuple[str, str]], rule_id: str, secret: str) -> None:
    if secret and (rule_id, secret) not in seen:
        seen.add((rule_id, secret))
        matches.append(FormatMatch(rule_id, secret))


_BASE64_CHARSET = frozenset(string.ascii_letters + string.digits + "+/\\-_=")
_HEX_CHARSET = frozenset(string.hexdigits)


def _shannon(value: str, charset: frozenset[str]) -> float:
    """detect-secrets' entropy: over the characters of the charset only, divided by the whole length."""
    if not value:
        return 0.0
    n = len(value)
    entropy = 0.0
    for char, count in Counter(value).items():
        if char in charset:
            p = count / n
            entropy -= p * math.log2(p)
    return entropy


def base64_entropy(value: str) -> float:
    return _shannon(value, _BASE64_CHARSET)


def hex_entropy(value: str) -> float:
    """Lowered for all-digit strings, as detect-secrets does (numbers are rarely secrets)."""
    entropy = _shannon(value, _HEX_CHARSET)
    if len(value) > 1 and value.isdigit():
        entropy -= 1.2 / math.log2(len(value))
    return entropy


_SEQUENCES = (
    string.ascii_uppercase * 2 + string.digits + "+/",
    string.digits + string.ascii_uppercase * 2 + "+/",
    (string.digits + string.ascii_uppercase) * 2,
    string.digits * 2,
    string.hexdigits.upper() * 2,
    string.ascii_uppercase + "=/",
)


def is_sequential(value: str) -> bool:
    """`ABCDEF…`, `0123456789…`: keyboard-walk test values, not keys (detect-secrets' heuristic)."""
    upper = value.upper()
    return any(upper in sequence for sequence in _SEQUENCES)
