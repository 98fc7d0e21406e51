"""guardrails-ai stays off the network: rc flags forced off, no telemetry, and a Guard
validating with our checks opens no non-loopback connection (sockets guarded)."""

from __future__ import annotations

import ipaddress
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from guardrails import Guard
from guardrails.classes.rc import RC
from guardrails.settings import settings
from guardrails.utils.hub_telemetry_utils import HubTelemetry

from workbench.guardrails._offline import ensure_offline, is_offline
from workbench.guardrails.validators.patterns import RegexMatch
from workbench.guardrails.validators.pii import Pii
from workbench.guardrails.validators.words import BannedWords


def _local(host: Any) -> bool:
    if host is None:
        return True
    host = str(host).strip("[]")
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record (and refuse) every DNS lookup or connection to a non-loopback host."""
    attempts: list[Any] = []
    real_gai, real_cc, real_connect = (
        socket.getaddrinfo,
        socket.create_connection,
        socket.socket.connect,
    )

    def getaddrinfo(host: Any, *a: Any, **k: Any) -> Any:
        if not _local(host):
            attempts.append(("dns", host))
            raise OSError(f"network disabled in tests: {host}")
        return real_gai(host, *a, **k)

    def create_connection(address: Any, *a: Any, **k: Any) -> Any:
        if not _local(address[0]):
            attempts.append(("connect", address))
            raise OSError(f"network disabled in tests: {address}")
        return real_cc(address, *a, **k)

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and not _local(address[0]):
            attempts.append(("connect", address))
            raise OSError(f"network disabled in tests: {address}")
        return real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempts


@pytest.fixture
def home_with_rc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ~/.guardrailsrc asks for metrics and remote inference."""
    (tmp_path / ".guardrailsrc").write_text(
        "id=test\nenable_metrics=true\nuse_remote_inferencing=true\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def test_ensure_offline_is_idempotent_and_sets_everything() -> None:
    ensure_offline()
    patched = RC.__dict__["load"]
    ensure_offline()
    assert RC.__dict__["load"] is patched
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert settings.rc.enable_metrics is False
    assert settings.rc.use_remote_inferencing is False
    assert is_offline()


def test_rc_file_cannot_turn_metrics_back_on(home_with_rc: Path) -> None:
    ensure_offline()
    assert RC.exists()  # the test rc file is the one being read
    Guard()  # a Guard re-reads the rc file
    assert settings.rc.id == "test"
    assert settings.rc.enable_metrics is False
    assert settings.rc.use_remote_inferencing is False
    assert HubTelemetry()._enabled is False
    validator = Pii()
    assert validator.use_local is True
    assert validator._disable_telemetry is True


def test_guard_validate_makes_no_network_call(no_network: list[Any], home_with_rc: Path) -> None:
    text = "Mail bob@example.com, you idiot, order 42"
    outcome = Guard().use(Pii(on_fail="fix")).validate(text)
    assert outcome.validation_passed
    assert outcome.validated_output == "Mail <EMAIL_ADDRESS>, you idiot, order 42"
    outcome = Guard().use(BannedWords(words=["idiot"], on_fail="fix")).validate(text)
    assert outcome.validated_output == "Mail bob@example.com, you *****, order 42"

    strict = Guard().use(RegexMatch(pattern=r"order \d+", on_fail="exception"))
    assert strict.validate(text).validation_passed
    with pytest.raises(Exception, match="does not match"):
        strict.validate("no order here")

    provider = HubTelemetry()._tracer_provider
    if provider is not None:
        provider.force_flush()
    assert no_network == []
