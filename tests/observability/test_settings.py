"""Settings come from the environment and refuse what a deployment must not run with."""

from __future__ import annotations

import importlib
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from prokopim_cli.system import DEFAULT_PORTS
from prokopim_events.settings import RelaySettings, load_settings
from prokopim_events.telemetry import tracing_requested
from prokopim_kit.auth import secret_problem
from prokopim_kit.runtime import ServiceSettings
from pydantic import ValidationError

pytestmark = pytest.mark.unit

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("secret", "complaint"),
    [
        (None, "JWT_SECRET is not set"),
        ("", "JWT_SECRET is not set"),
        ("s3cr3t", "JWT_SECRET is 6 characters long"),
        ("change-me-to-a-long-random-string-please", "placeholder ('changeme')"),
        ("your-256-bit-secret-your-256-bit-secret", "placeholder"),
        ("ExampleSecretForTheDocs0123456789abcdef", "placeholder ('example')"),
        ("ab" * 20, "too few characters"),
    ],
)
def test_unsafe_jwt_secrets_are_refused_by_name(secret: str | None, complaint: str) -> None:
    problem = secret_problem(secret)
    assert problem is not None and complaint in problem


def test_a_random_secret_is_accepted() -> None:
    assert secret_problem(secrets.token_urlsafe(40)) is None
    assert ServiceSettings(jwt_secret=secrets.token_urlsafe(40)).algorithm == "HS256"


def test_service_settings_refuse_an_unsafe_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JWT_PUBLIC_KEY", raising=False)
    monkeypatch.setenv("JWT_SECRET", "changeme")
    with pytest.raises(ValidationError, match="JWT_SECRET is 8 characters long"):
        ServiceSettings()
    monkeypatch.setenv("JWT_SECRET", secrets.token_urlsafe(40))
    monkeypatch.setenv("JWT_PUBLIC_KEY", "-----BEGIN PUBLIC KEY-----")
    with pytest.raises(ValidationError, match="not both"):
        ServiceSettings()
    monkeypatch.delenv("JWT_SECRET")
    with pytest.raises(ValidationError, match="JWT_PUBLIC_KEY"):
        ServiceSettings()
    monkeypatch.setenv("JWT_SECRET", secrets.token_urlsafe(40))
    monkeypatch.delenv("JWT_PUBLIC_KEY")
    monkeypatch.setenv("SHUTDOWN_GRACE_SECONDS", "0")
    with pytest.raises(ValidationError, match="shutdown_grace_seconds"):
        ServiceSettings()


def test_relay_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("METRICS_PORT", raising=False)
    assert RelaySettings().metrics_port == 9400
    monkeypatch.setenv("METRICS_PORT", "70000")
    with pytest.raises(ValidationError, match="metrics_port"):
        RelaySettings()


def test_load_settings_exits_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METRICS_PORT", "not-a-port")
    with pytest.raises(SystemExit) as stopped:
        load_settings(RelaySettings)
    assert "METRICS_PORT: Input should be a valid integer" in str(stopped.value.code)


@pytest.mark.parametrize(
    ("environ", "requested"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "x"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
    ],
)
def test_tracing_is_on_only_with_an_endpoint(environ: dict[str, str], requested: bool) -> None:
    assert tracing_requested(environ) is requested


@pytest.mark.parametrize("program", ["prokopim-intake", "prokopim-scheduling"])
def test_a_service_started_with_a_placeholder_secret_says_so(program: str) -> None:
    stderr = refused_at_start(program, JWT_SECRET="change-me-to-a-long-random-string-please")
    assert "JWT_SECRET looks like a placeholder" in stderr


def refused_at_start(program: str, **environ: str) -> str:
    """Start `program` with `environ` (and no JWT_PUBLIC_KEY); check that it stopped at
    once, without a traceback; return what it said."""
    env = {**os.environ, **environ}
    env.pop("JWT_PUBLIC_KEY", None)
    result = subprocess.run(
        [str(BIN / program)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize(("service", "port"), DEFAULT_PORTS.items())
def test_every_service_reads_host_port_and_log_level_alike(
    service: str, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_class = importlib.import_module(f"prokopim_{service}.config").Settings
    monkeypatch.setenv("JWT_SECRET", secrets.token_urlsafe(40))
    for name in ("HOST", "PORT", "LOG_LEVEL", "JWT_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_class()
    assert (settings.host, settings.port, settings.log_level) == ("127.0.0.1", port, "INFO")
    monkeypatch.setenv("HOST", "0.0.0.0")
    monkeypatch.setenv("PORT", "9123")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = settings_class()
    assert (settings.host, settings.port, settings.log_level) == ("0.0.0.0", 9123, "DEBUG")
    monkeypatch.setenv("PORT", "70000")
    monkeypatch.setenv("LOG_LEVEL", "LOUD")
    with pytest.raises(SystemExit) as refused:
        load_settings(settings_class)
    assert "PORT: Input should be less than or equal to 65535" in str(refused.value.code)
    assert "LOG_LEVEL: Input should be 'DEBUG', 'INFO'" in str(refused.value.code)


@pytest.mark.parametrize("program", [f"prokopim-{name}" for name in DEFAULT_PORTS])
def test_every_service_process_refuses_a_bad_port_by_name(program: str) -> None:
    stderr = refused_at_start(program, JWT_SECRET=secrets.token_urlsafe(40), PORT="http")
    assert "PORT: Input should be a valid integer" in stderr
