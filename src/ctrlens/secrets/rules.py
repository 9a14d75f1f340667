"""The rule ids a finding can carry. Ids are stable: reports, SARIF and dashboards key on them."""

from __future__ import annotations

from dataclasses import dataclass

# Families group rules for reports and the precision benchmark.
FAMILY_PROVIDER = "provider"  # a token whose format names its issuer (AWS, GitHub, Stripe…)
FAMILY_PRIVATE_KEY = "private-key"
FAMILY_JWT = "jwt"
FAMILY_URL_PASSWORD = "url-password"  # noqa: S105 - a rule family, not a password
FAMILY_NAME = "secret-name"
FAMILY_ENTROPY = "high-entropy"
FAMILIES = (FAMILY_PROVIDER, FAMILY_PRIVATE_KEY, FAMILY_JWT, FAMILY_URL_PASSWORD, FAMILY_NAME, FAMILY_ENTROPY)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    family: str
    title: str
    level: str = "error"  # SARIF level: error, warning, note

    @property
    def description(self) -> str:
        return f"{self.title} readable from the host in a container's environment or command line"


_RULES = (
    Rule("aws-access-key", FAMILY_PROVIDER, "AWS access key"),
    Rule("github-token", FAMILY_PROVIDER, "GitHub token"),
    Rule("gitlab-token", FAMILY_PROVIDER, "GitLab token"),
    Rule("slack-token", FAMILY_PROVIDER, "Slack token or webhook"),
    Rule("stripe-key", FAMILY_PROVIDER, "Stripe secret key"),
    Rule("google-api-key", FAMILY_PROVIDER, "Google API key"),
    Rule("azure-key", FAMILY_PROVIDER, "Azure key or client secret"),
    Rule("twilio-key", FAMILY_PROVIDER, "Twilio key"),
    Rule("sendgrid-key", FAMILY_PROVIDER, "SendGrid API key"),
    Rule("npm-token", FAMILY_PROVIDER, "npm token"),
    Rule("pypi-token", FAMILY_PROVIDER, "PyPI token"),
    Rule("openai-key", FAMILY_PROVIDER, "OpenAI or Anthropic API key"),
    Rule("huggingface-token", FAMILY_PROVIDER, "Hugging Face token"),
    Rule("vault-token", FAMILY_PROVIDER, "HashiCorp Vault token"),
    Rule("digitalocean-token", FAMILY_PROVIDER, "DigitalOcean token"),
    Rule("mailchimp-key", FAMILY_PROVIDER, "Mailchimp key"),
    Rule("discord-token", FAMILY_PROVIDER, "Discord bot token"),
    Rule("telegram-token", FAMILY_PROVIDER, "Telegram bot token"),
    Rule("square-oauth", FAMILY_PROVIDER, "Square OAuth secret"),
    Rule("ibm-cloud-key", FAMILY_PROVIDER, "IBM Cloud or SoftLayer key"),
    Rule("cloudant-credentials", FAMILY_PROVIDER, "Cloudant credentials"),
    Rule("artifactory-token", FAMILY_PROVIDER, "Artifactory token"),
    Rule("private-key", FAMILY_PRIVATE_KEY, "Private key"),
    Rule("jwt", FAMILY_JWT, "JSON Web Token"),
    Rule("url-password", FAMILY_URL_PASSWORD, "Password in a URL or connection string"),
    Rule("secret-name", FAMILY_NAME, "Value of a variable or option named as a secret"),
    Rule("high-entropy", FAMILY_ENTROPY, "Random-looking string", level="warning"),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _RULES}


def rule(rule_id: str) -> Rule:
    return RULES[rule_id]


def family(rule_id: str) -> str:
    return RULES[rule_id].family
