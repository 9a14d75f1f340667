"""Token formats: detect-secrets' own plugins, called in-process on one value, plus the formats it lacks.

detect-secrets is imported on first use (it pulls in `requests`, ~100 ms), so commands that never look at
secrets start fast. We call each plugin's `analyze_string` only: that is a pure regex match. We never call
`analyze_line`/`verify`, which may send the candidate secret to the provider's API to check it.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# detect-secrets plugin class name -> our rule id. Left out on purpose: KeywordDetector (variable names are
# judged by `names`, tuned for environments), the two HighEntropyString plugins (we judge whole values, see
# `entropy`), IPPublicDetector (an address is not a secret) and IbmCosHmacDetector (needs file context).
_PLUGIN_RULES = {
    "AWSKeyDetector": "aws-access-key",
    "GitHubTokenDetector": "github-token",
    "GitLabTokenDetector": "gitlab-token",
    "SlackDetector": "slack-token",
    "StripeDetector": "stripe-key",
    "PrivateKeyDetector": "private-key",
    "JwtTokenDetector": "jwt",
    "BasicAuthDetector": "url-password",
    "NpmDetector": "npm-token",
    "PypiTokenDetector": "pypi-token",
    "SendGridDetector": "sendgrid-key",
    "TwilioKeyDetector": "twilio-key",
    "AzureStorageKeyDetector": "azure-key",
    "OpenAIDetector": "openai-key",
    "DiscordBotTokenDetector": "discord-token",
    "TelegramBotTokenDetector": "telegram-token",
    "MailchimpDetector": "mailchimp-key",
    "SquareOAuthDetector": "square-oauth",
    "IbmCloudIamDetector": "ibm-cloud-key",
    "SoftlayerDetector": "ibm-cloud-key",
    "CloudantDetector": "cloudant-credentials",
    "ArtifactoryDetector": "artifactory-token",
}

# Formats detect-secrets 1.5 does not know. (?<![A-Za-z0-9]) keeps them from matching inside longer words.
_B = r"(?<![A-Za-z0-9])"
_EXTRA_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("github-token", re.compile(_B + r"github_pat_[A-Za-z0-9_]{60,90}")),
    ("google-api-key", re.compile(_B + r"AIza[0-9A-Za-z_-]{35}")),
    ("npm-token", re.compile(_B + r"npm_[A-Za-z0-9]{36}")),
    ("stripe-key", re.compile(_B + r"(?:sk|rk)_(?:test|live)_[0-9a-zA-Z]{24,}|whsec_[A-Za-z0-9]{32,}")),
    ("azure-key", re.compile(r"SharedAccessKey=[A-Za-z0-9+/=]{43,44}")),
    ("azure-key", re.compile(_B + r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])")),
    (
        "openai-key",
        re.compile(_B + r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|sk-ant-[a-z]+\d\d-[A-Za-z0-9_-]{80,}"),
    ),
    ("huggingface-token", re.compile(_B + r"hf_[A-Za-z]{34}(?![A-Za-z0-9])")),
    ("vault-token", re.compile(_B + r"hv[sbr]\.[A-Za-z0-9_-]{24,}")),
    ("digitalocean-token", re.compile(_B + r"do[por]_v1_[a-f0-9]{64}")),
    ("slack-token", re.compile(_B + r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+")),
    ("gitlab-token", re.compile(_B + r"glpat-[A-Za-z0-9_-]{20,}")),
    ("private-key", re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]{58}|-----BEGIN [A-Z ]*PRIVATE KEY( BLOCK)?-----")),
)


@dataclass(frozen=True, slots=True)
class FormatMatch:
    rule: str
    secret: str  # the matched token; kept in memory only, to fingerprint it


@lru_cache(maxsize=1)
def _plugins() -> tuple[tuple[str, Any], ...]:
    with _offline_requests():
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

        plugin_classes: list[Any] = list(
            get_mapping_from_secret_type_to_class().values()
        )  # imports every plugin module
    chosen = []
    for cls in plugin_classes:
        rule_id = _PLUGIN_RULES.get(cls.__name__)
        if rule_id is not None:
            chosen.append((rule_id, cls()))
    chosen.sort(key=lambda pair: pair[0] != "private-key")  # the most specific verdict first
    return tuple(chosen)


class _NoNetwork(Exception):
    """Raised by the stand-in HTTP client: ctrlens never verifies a secret with its provider."""


@contextmanager
def _offline_requests() -> Iterator[None]:
    """Import detect-secrets with a `requests` that refuses every call.

    detect-secrets imports `requests` only to verify found secrets online. ctrlens never does that (a secret must
    not leave the host), and the real client costs ~55 ms of start-up. Code that imported the real one keeps it.
    """
    if "requests" in sys.modules:
        yield
        return
    stub = types.ModuleType("requests")
    exceptions = types.ModuleType("requests.exceptions")
    exceptions.RequestException = _NoNetwork  # type: ignore[attr-defined]
    stub.exceptions = exceptions  # type: ignore[attr-defined]
    stub.Response = object  # type: ignore[attr-defined]

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise _NoNetwork("ctrlens does not send secrets to their providers for verification")

    for verb in ("get", "post", "put", "head", "request"):
        setattr(stub, verb, refuse)
    sys.modules["requests"] = stub
    sys.modules["requests.exceptions"] = exceptions
    try:
        yield
    finally:
        # Later imports of `requests` (by anything else) get the real library.
        del sys.modules["requests"], sys.modules["requests.exceptions"]


def warm_up() -> None:
    """Import and instantiate the plugins now (benchmarks time the scan, not the import)."""
    _plugins()


def find_formats(name: str, value: str) -> list[FormatMatch]:
    """Every known token format in `value`. The name is given to the plugins that need an assignment around
    the token (AWS secret keys: `aws_secret_access_key = "…"`), as the line `NAME="VALUE"`."""
    matches: list[FormatMatch] = []
    seen: set[tuple[str, str]] = set()
    line = f'{name}="{value}"'
    start, end = len(name) + 2, len(name) + 2 + len(value)
    if _may_match(line):
        for rule_id, plugin in _plugins():
            for secret in _plugin_tokens(plugin, line, start, end, value):
                if not _is_identifier(rule_id, secret):
                    _add(matches, seen, rule_id, secret)
    for rule_id, pattern in _EXTRA_FORMATS:
        for m in pattern.finditer(value):
            _add(matches, seen, rule_id, m.group(0))
    return matches


@lru_cache(maxsize=1)
def _prefilter() -> tuple[re.Pattern[str], ...] | None:
    """Every plugin pattern joined into one regex per flag set: most values match none, and one search per value
    is far cheaper than sixty. None when a plugin has no patterns to join (then every plugin runs)."""
    by_flags: dict[int, list[str]] = {}
    for _rule, plugin in _plugins():
        patterns = getattr(plugin, "denylist", None)
        if not patterns:
            return None
        for pattern in patterns:
            by_flags.setdefault(pattern.flags, []).append(pattern.pattern)
    try:
        return tuple(
            re.compile("|".join(f"(?:{p})" for p in group), flags) for flags, group in by_flags.items()
        )
    except re.error:  # a pattern that cannot be joined (named groups twice, numbered back-references)
        return None


def _may_match(line: str) -> bool:
    joined = _prefilter()
    return joined is None or any(pattern.search(line) for pattern in joined)


def _plugin_tokens(plugin: Any, line: str, start: int, end: int, value: str) -> Iterator[str]:
    """The tokens a plugin finds, whole. Its own analyze_string uses re.findall, which yields only the first
    capture group of a grouped pattern (GitHub's `(ghp|gho|…)_…` gives "ghp"): every such token would then get
    the same fingerprint. So run its patterns with finditer and keep the part of each match inside the value."""
    patterns = getattr(plugin, "denylist", None)
    if not patterns:
        yield from (_strip(secret) for secret in plugin.analyze_string(line))
        return
    for pattern in patterns:
        for m in pattern.finditer(line):
            token = _strip(_secret_span(m, start, end))
            # A pattern that matches a marker rather than the secret (a PEM header): the value is the secret.
            yield value if not token or "PRIVATE KEY" in token else token


def _secret_span(m: re.Match[str], start: int, end: int) -> str:
    """The secret in a match: its longest capture group (a URL's password), unless that group is only a short
    prefix of the match (GitHub's `ghp`), then the whole match; clipped to the value's span in the line."""
    whole = m.group(0)
    groups = [(m.start(i), m.end(i)) for i in range(1, (m.re.groups or 0) + 1) if m.start(i) >= 0]
    lo, hi = m.span()
    if groups:
        g_lo, g_hi = max(groups, key=lambda span: span[1] - span[0])
        is_prefix = g_lo == lo and (g_hi - g_lo) * 2 < len(whole)
        if not is_prefix:
            lo, hi = g_lo, g_hi
    return m.string[max(lo, start) : min(hi, end)]


def _strip(secret: str) -> str:
    # Artifactory's patterns include the character before and after the token.
    return secret.strip(" \t=:\"'")


def _is_identifier(rule_id: str, secret: str) -> bool:
    """Matches that name an account rather than authenticate it: Twilio account SIDs (AC…) sit beside every
    Twilio key and are not secret; the key itself (SK…) and the auth token are."""
    return rule_id == "twilio-key" and secret.startswith("AC")


def _add(matches: list[FormatMatch], seen: set[tuple[str, str]], rule_id: str, secret: str) -> None:
    if secret and (rule_id, secret) not in seen:
        seen.add((rule_id, secret))
        matches.append(FormatMatch(rule_id, secret))


@lru_cache(maxsize=1)
def _entropy_plugins() -> tuple[Any, Any]:
    from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString

    return Base64HighEntropyString(), HexHighEntropyString()


def base64_entropy(value: str) -> float:
    return float(_entropy_plugins()[0].calculate_shannon_entropy(value))


def hex_entropy(value: str) -> float:
    """detect-secrets' hex entropy, which it lowers for all-digit strings (numbers are rarely secrets)."""
    return float(_entropy_plugins()[1].calculate_shannon_entropy(value))
