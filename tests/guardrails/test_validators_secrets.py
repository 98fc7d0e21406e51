"""secrets: provider keys, tokens, private keys, passwords in URLs and assignments."""

from __future__ import annotations

from typing import Any

import pytest

from workbench.guardrails.validators.secrets import find_secrets

PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234abcd\nQWERTYabcd==\n"
    "-----END RSA PRIVATE KEY-----"
)
JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
    "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
)
CASES = [
    ("aws_access_key_id = AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", "AWS Access Key"),
    ('aws_secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"',
     "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS Secret Key"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here",
     "ghp_abcdefghijklmnopqrstuvwxyz0123456789", "GitHub Token"),
    ("use github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJ now",
     "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJ", "GitHub Token"),
    ("OPENAI_API_KEY=sk-proj-abc123DEF456ghi789JKL012mno345",
     "sk-proj-abc123DEF456ghi789JKL012mno345", "OpenAI-style Key"),
    ("key sk-ant-api03-abcdefghijklmnopqrstuvwx1 end",
     "sk-ant-api03-abcdefghijklmnopqrstuvwx1", "OpenAI-style Key"),
    ("Bearer " + JWT, JWT, "JSON Web Token"),
    ("here:\n" + PEM + "\nthanks", PEM, "Private Key"),
    ("postgres://admin:s3cr3tP4ss@db.internal:5432/app", "s3cr3tP4ss", "Password in URL"),
    ("my password is hunter22", "hunter22", "Secret keyword assignment"),
    ('db_pass: "Tr0ub4dor&3"', "Tr0ub4dor&3", "Secret keyword assignment"),
    ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "AIzaSyA-1234567890abcdefghijklmnopqrstu",
     "Google API Key"),
    ("hf_abcdefghijklmnopqrstuvwxyzABCDEF", "hf_abcdefghijklmnopqrstuvwxyzABCDEF",
     "Hugging Face Token"),
    ("xoxb-123456789012-123456789012-abcdefghijklmnopqrstuvwx",
     "xoxb-123456789012-123456789012-abcdefghijklmnopqrstuvwx", "Slack Token"),
    ("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",
     "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", "SendGrid API Key"),
]  # fmt: skip


@pytest.mark.parametrize("text, secret, kind", CASES)
def test_detects_and_redacts(make: Any, spans: Any, text: str, secret: str, kind: str) -> None:
    res = make("secrets").validate(text, {})
    assert res.outcome == "fail", text
    assert spans(res, text) == [(secret, f"SECRET: {kind}")]
    assert res.fix_value == text.replace(secret, "[REDACTED]")
    assert res.metadata["types"] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "Just a normal sentence about passwords and secrets.",
        "The key point: we need a password manager for the team.",
        "postgres://user:password@localhost/db",
        "password: ********",
        'api_key: "${API_KEY}"',
        "password = <your password here>",
        "The commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
        "Internationalization and responsibility are long words.",
    ],
)
def test_no_false_positives(make: Any, text: str) -> None:
    assert make("secrets").validate(text, {}).outcome == "pass", text


def test_several_secrets_and_custom_replacement(make: Any) -> None:
    text = "AKIAIOSFODNN7EXAMPLE and ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    res = make("secrets", replacement="<SECRET>").validate(text, {})
    assert res.fix_value == "<SECRET> and <SECRET>"
    assert res.metadata["types"] == ["AWS Access Key", "GitHub Token"]


def test_entropy_option() -> None:
    token = "Zx8qP2mN7vR4tY6wK1sD9fG3hJ5lB0cV"
    text = f"the value {token} was logged"
    assert find_secrets(text) == []
    found = find_secrets(text, entropy_threshold=4.2)
    assert [(text[s:e], r) for s, e, r in found] == [(token, "High entropy string")]
