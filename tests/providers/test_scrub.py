"""``scrub``: keys, key-shaped tokens and upstream addresses never survive."""

from __future__ import annotations

import pytest

from workbench.providers._scrub import REDACTED, scrub


@pytest.mark.parametrize(
    "secret_text",
    [
        "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl",
        "sk-ant-api03-xyzXYZ0123456789abcdef",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "AIzaSyD4x9Lm2Qw8Rt5Yu7Io3Pa6Sd1Fg0Hj2Kl",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "AKIAIOSFODNN7EXAMPLE",
        "0123456789abcdef0123456789abcdef0123",
        "Wq3xT8mLp2Rv6Yk9Nb4Cd7Fg1Hj5Ks0Ae2Zu8Io",
    ],
)
def test_key_shaped_tokens_are_removed(secret_text: str):
    out = scrub(f"Incorrect API key provided: {secret_text}. See the docs.")
    assert secret_text not in out
    assert REDACTED in out
    assert out.startswith("Incorrect API key provided") and out.endswith("See the docs.")


@pytest.mark.parametrize(
    "text, kept",
    [
        ("api_key=hunter2hunter2&model=x", "api_key="),
        ('{"x-api-key": "abc123secret"}', '"x-api-key": "'),
        ("key: s3cr3t-value", "key: "),
        ("token=abcd1234", "token="),
    ],
)
def test_credential_assignments_keep_the_name_not_the_value(text: str, kept: str):
    out = scrub(text)
    assert kept in out and REDACTED in out
    for value in ("hunter2hunter2", "abc123secret", "s3cr3t-value", "abcd1234"):
        assert value not in out


def test_configured_secret_removed_even_when_short_or_url_encoded():
    out = scrub("got key pa$$word-1 and pa%24%24word-1", secrets=["pa$$word-1"])
    assert "pa$$word" not in out and "pa%24%24word" not in out


def test_base_url_and_host_become_the_target_name():
    url = "https://llm.internal.corp:8443/v1"
    text = (
        "cannot reach https://llm.internal.corp:8443/v1/chat/completions "
        "(llm.internal.corp:8443, host llm.internal.corp)"
    )
    out = scrub(text, urls=[url], name="gpt-prod")
    assert "llm.internal.corp" not in out and "8443" not in out
    assert "upstream gpt-prod/chat/completions" in out


def test_ordinary_prose_is_untouched():
    text = (
        "The model 'gpt-4o-mini' does not exist or you do not have access; "
        "max_tokens must be <= 4096 (got 5000). Request id req_abc123."
    )
    assert scrub(text) == text
    assert scrub("") == ""
    path = "/openai/deployments/my-deployment-name-that-is-long/chat/completions"
    assert scrub(path) == path
