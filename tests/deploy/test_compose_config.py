"""docker-compose.yml and the Dockerfiles, checked by Compose itself and read as Docker would."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml

from .stack import (
    APPLICATION_SERVICES,
    HTTP_SERVICES,
    ROOT,
    dockerfile_instructions,
    exec_form,
    final_stage,
    image_cmd,
    image_user,
    render_compose,
    run_compose,
    scrape_targets,
)

BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT)}
SECRET = secrets.token_urlsafe(40)


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    rendered: dict[str, Any] = render_compose({**BASE_ENV, "JWT_SECRET": SECRET})
    return rendered


def dockerfile_of(model: dict[str, Any], name: str) -> Path:
    build: dict[str, str] = model["services"][name]["build"]
    return Path(build["context"]) / build["dockerfile"]


def test_compose_validates_the_file_when_jwt_secret_is_set() -> None:
    result = run_compose(["config", "--quiet"], {**BASE_ENV, "JWT_SECRET": SECRET})
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_jwt_secret_and_names_it() -> None:
    result = run_compose(["config", "--quiet"], BASE_ENV)
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr


def test_every_application_service_is_built_here_and_waits_for_healthy_infrastructure(
    model: dict[str, Any],
) -> None:
    built = {name for name, svc in model["services"].items() if "build" in svc}
    assert built == {*APPLICATION_SERVICES, "migrate", "console"}  # console: test_compose_console
    for name in APPLICATION_SERVICES:
        depends = model["services"][name].get("depends_on", {})
        for infra in ("postgres", "nats"):
            assert depends.get(infra, {}).get("condition") == "service_healthy", (name, infra)
        assert depends.get("migrate", {}).get("condition") == "service_completed_successfully"


def test_infrastructure_healthchecks_follow_the_conventions(model: dict[str, Any]) -> None:
    postgres = model["services"]["postgres"]["healthcheck"]["test"]
    assert "pg_isready" in postgres and "127.0.0.1" in postgres
    nats = model["services"]["nats"]
    assert {"-js", "-m", "8222"} <= set(nats["command"])
    assert any("/healthz?js-enabled-only=true" in part for part in nats["healthcheck"]["test"])
    assert model["services"]["jaeger"]["image"].startswith("jaegertracing/jaeger:2")


def test_migrations_run_once_with_the_migrate_command(model: dict[str, Any]) -> None:
    migrate = model["services"]["migrate"]
    assert migrate["command"] == ["prokopim-migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_services_share_one_environment_and_name_themselves(model: dict[str, Any]) -> None:
    for name in APPLICATION_SERVICES:
        env = model["services"][name]["environment"]
        assert env["DATABASE_URL"].endswith("@postgres:5432/prokopim"), name
        assert env["NATS_URL"] == "nats://nats:4222"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SERVICE_NAME"] == f"prokopim-{name}"
    for name in HTTP_SERVICES:
        assert model["services"][name]["environment"]["JWT_SECRET"] == SECRET
    assert "JWT_SECRET" not in model["services"]["relay"]["environment"]


def test_http_services_publish_their_container_port_8000(model: dict[str, Any]) -> None:
    published = {}
    for name in HTTP_SERVICES:
        (port,) = model["services"][name]["ports"]
        assert port["target"] == 8000
        published[name] = int(port["published"])
    assert published == {
        "intake": 8001,
        "scheduling": 8002,
        "production": 8003,
        "review": 8004,
        "publishing": 8005,
        "ledger": 8006,
    }


def test_prometheus_scrapes_every_application_service(model: dict[str, Any]) -> None:
    mounts = {v["target"]: v["source"] for v in model["services"]["prometheus"]["volumes"]}
    config = yaml.safe_load(Path(mounts["/etc/prometheus/prometheus.yml"]).read_text())
    assert all(
        job.get("metrics_path", "/metrics") == "/metrics" for job in config["scrape_configs"]
    )
    scraped = scrape_targets(config)
    expected = {f"{name}:8000" for name in HTTP_SERVICES} | {"relay:9400"}
    assert expected <= scraped
    assert model["services"]["relay"]["environment"]["METRICS_PORT"] == "9400"


def test_telemetry_configuration_files_are_mounted_and_parse(model: dict[str, Any]) -> None:
    for name in ("otel-collector", "prometheus", "grafana"):
        for volume in model["services"][name]["volumes"]:
            if volume["type"] == "bind":
                assert Path(volume["source"]).exists(), (name, volume["source"])
    collector_mount = model["services"]["otel-collector"]["volumes"][0]["source"]
    collector = yaml.safe_load(Path(collector_mount).read_text())
    traces = collector["service"]["pipelines"]["traces"]
    assert traces["receivers"] == ["otlp"]
    assert collector["exporters"][traces["exporters"][0]]["endpoint"] == "jaeger:4317"
    assert collector["receivers"]["otlp"]["protocols"]["http"]["endpoint"].endswith(":4318")


@pytest.mark.parametrize("name", [*APPLICATION_SERVICES, "migrate"])
def test_dockerfile_runs_the_service_as_a_non_root_user_in_exec_form(
    model: dict[str, Any], name: str
) -> None:
    dockerfile = dockerfile_of(model, name)
    instructions = dockerfile_instructions(dockerfile.read_text())
    assert sum(i.keyword == "FROM" for i in instructions) >= 2, "multi-stage build"
    command = model["services"][name].get("command") or image_cmd(dockerfile)
    assert command == [f"prokopim-{name}"]
    user = image_user(dockerfile)
    assert user is not None and user.split(":")[0] not in ("root", "0"), user
    runtime = final_stage(instructions)
    assert not any(i.keyword == "ENTRYPOINT" for i in runtime)
    for health in (i for i in runtime if i.keyword == "HEALTHCHECK"):
        assert exec_form(health.arguments.partition("CMD ")[2]) is not None
    syncs = [i.arguments for i in instructions if i.keyword == "RUN" and "uv sync" in i.arguments]
    assert syncs and all("--frozen" in s and "--no-dev" in s for s in syncs)


def test_each_service_has_its_own_dockerfile_and_no_generic_one_is_left() -> None:
    assert not (ROOT / "Dockerfile").exists()
    for name in HTTP_SERVICES:
        text = (ROOT / "services" / name / "Dockerfile").read_text()
        assert f"--package prokopim-{name}" in text
        assert image_cmd(ROOT / "services" / name / "Dockerfile") == [f"prokopim-{name}"]
