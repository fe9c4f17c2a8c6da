"""The console's compose service: built here, healthy-gated, wired to every service."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from .stack import (
    ROOT,
    compose_secrets,
    dockerfile_instructions,
    exec_form,
    final_stage,
    image_cmd,
    image_user,
    render_compose,
)

SECRET = secrets.token_urlsafe(40)


@pytest.fixture(scope="module")
def console() -> dict[str, Any]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT)}
    model: dict[str, Any] = render_compose({**env, **compose_secrets(), "JWT_SECRET": SECRET})
    service: dict[str, Any] = model["services"]["console"]
    return service


def test_console_waits_for_healthy_infrastructure_and_checks_its_own_health(
    console: dict[str, Any],
) -> None:
    for infra in ("postgres", "nats"):
        assert console["depends_on"][infra]["condition"] == "service_healthy"
    assert console["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    test = console["healthcheck"]["test"]
    assert test[0] == "CMD" and any("/readyz" in part for part in test)
    (port,) = console["ports"]
    assert (port["target"], int(port["published"])) == (8000, 8007)


def test_console_calls_each_service_by_its_compose_name(console: dict[str, Any]) -> None:
    env = console["environment"]
    for name in ("intake", "scheduling", "production", "review", "publishing", "ledger"):
        assert env[f"{name.upper()}_URL"] == f"http://{name}:8000"
    assert env["JWT_SECRET"] == SECRET
    assert env["OTEL_SERVICE_NAME"] == "prokopim-console"


def test_console_image_is_multi_stage_non_root_exec_form_with_npm_assets(
    console: dict[str, Any],
) -> None:
    dockerfile = Path(console["build"]["context"]) / console["build"]["dockerfile"]
    text = dockerfile.read_text()
    instructions = dockerfile_instructions(text)
    assert sum(i.keyword == "FROM" for i in instructions) >= 3  # node assets, build, runtime
    assert "htmx.org@" in text  # fetched from npm at build time, not committed
    assert image_cmd(dockerfile) == ["prokopim-console"]
    user = image_user(dockerfile)
    assert user is not None and user.split(":")[0] not in ("root", "0")
    for health in (i for i in final_stage(instructions) if i.keyword == "HEALTHCHECK"):
        assert exec_form(health.arguments.partition("CMD ")[2]) is not None
    assert "--package prokopim-console" in text
