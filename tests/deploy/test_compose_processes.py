"""The system exactly as docker-compose.yml describes it, run as local processes, runs a case.

Docker cannot run here, so each application service starts as the process its container
would run: compose's command (or the Dockerfile's CMD) and environment, as rendered by
Compose itself, with compose host names mapped to this machine, volumes to temporary
directories, the test's own database and NATS namespace, and a free port per service.
The one-shot `migrate` runs first and must exit 0, as `service_completed_successfully` asks.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
import yaml
from prokopim_cli.flows import Driver, run_case
from prokopim_cli.system import RunningSystem, start_process, wait_ready
from prokopim_cli.trail import case_history
from prokopim_console.accounts import add_user
from prokopim_events.roles import DatabaseRoles
from prokopim_events.topology import Topology
from prokopim_sop import load_catalog
from prokopim_testing.ports import free_port

from .stack import (
    APPLICATION_SERVICES,
    HTTP_SERVICES,
    ROOT,
    Launch,
    compose_secrets,
    image_cmd,
    image_env,
    local_launch,
    render_compose,
    scrape_targets,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
VENV_BIN = str(Path(sys.executable).parent)


@pytest.fixture
def otlp_sink() -> Iterator[tuple[int, list[str]]]:
    """Stands in for the collector at otel-collector:4318: accepts OTLP/HTTP posts."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], paths
    server.shutdown()


def launch_of(
    model: dict[str, Any],
    name: str,
    endpoints: dict[str, str],
    overrides: dict[str, str],
    tmp: Path,
) -> Launch:
    service = model["services"][name]
    dockerfile = Path(service["build"]["context"]) / service["build"]["dockerfile"]
    volumes = {
        v["target"]: tmp / "volumes" / v["source"]
        for v in service.get("volumes", [])
        if v["type"] == "volume"
    }
    for local in volumes.values():
        local.mkdir(parents=True, exist_ok=True)
    launch = local_launch(
        service,
        image_cmd(dockerfile),
        image_env(dockerfile),
        endpoints=endpoints,
        hosts=set(model["services"]),
        overrides={"PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""), **overrides},
        volumes=volumes,
    )
    if "METRICS_PORT" in launch.env:
        launch.env["METRICS_PORT"] = str(free_port())
    executable = shutil.which(launch.command[0], path=launch.env["PATH"])
    assert executable, f"{name}: {launch.command[0]} is not installed"
    return Launch([executable, *launch.command[1:]], launch.env)


async def sign_in_to_the_console(console_url: str, database_url: str) -> httpx.Response:
    """Add an account as the operator does (`prokopim users add`, superuser), sign in."""
    admin = await asyncpg.connect(database_url)
    try:
        await add_user(admin, "siti", "ka-bagian", "rahasia-sekali", display_name="Siti")
    finally:
        await admin.close()
    async with httpx.AsyncClient(base_url=console_url) as http:
        form = await http.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf, form.text
        return await http.post(
            "/login",
            data={"username": "siti", "password": "rahasia-sekali", "csrf": csrf.group(1)},
        )


async def closed_in_ledger(driver: Driver, case_id: str, within: float = 30.0) -> dict[str, Any]:
    """The ledger's SLA view of a case once it has seen the case close (it follows NATS)."""
    url = f"{driver.urls['ledger']}/sla/cases/{case_id}"
    headers = {"Authorization": f"Bearer {driver.token('ka-bagian')}"}
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(headers=headers) as http:
        while True:
            response = await http.get(url)
            if response.status_code == 200 and response.json()["closed_at"]:
                view: dict[str, Any] = response.json()
                return view
            if time.monotonic() > deadline:
                raise AssertionError(f"ledger never closed the case: {response.text}")
            await asyncio.sleep(0.1)


async def scrape_as_prometheus_would(
    ports: dict[str, int], launches: dict[str, Launch]
) -> dict[str, str]:
    """GET /metrics of every target in deploy/prometheus.yml, at its local stand-in."""
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    local = {f"{name}:8000": f"127.0.0.1:{port}" for name, port in ports.items()}
    local["relay:9400"] = f"127.0.0.1:{launches['relay'].env['METRICS_PORT']}"
    bodies = {}
    async with httpx.AsyncClient(timeout=10.0) as http:
        for target in sorted(scrape_targets(config)):
            if target.startswith("localhost:"):
                continue  # Prometheus scraping itself
            response = await http.get(f"http://{local[target]}/metrics")
            assert response.status_code == 200, (target, response.text)
            bodies[target] = response.text
    return bodies


async def test_a_bandung_case_runs_through_the_system_as_compose_describes_it(
    database_url: str,
    database_roles: DatabaseRoles,
    infra: Any,
    topology: Topology,
    nats_client: Any,
    otlp_sink: tuple[int, list[str]],
    tmp_path: Path,
) -> None:
    secret = secrets.token_urlsafe(40)
    database = urlsplit(database_url)
    # compose's own roles are this session's (prefix and passwords), on this test's database
    roles_env = {
        "POSTGRES_DB": database.path.lstrip("/"),
        "POSTGRES_PASSWORD": "unused",
        "PROKOPIM_CHAIN_KEY": secrets.token_urlsafe(40),
        "PROKOPIM_DB_ROLE_PREFIX": database_roles.prefix,
        **{f"PROKOPIM_DB_PASSWORD_{p.upper()}": pw for p, pw in database_roles.passwords.items()},
    }
    # Each process connects to the test's bus as the user compose gives it, with its password.
    passwords = infra.bus.passwords if infra.bus else {}
    model = render_compose(
        {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(ROOT),
            **compose_secrets(passwords),
            **roles_env,
            "JWT_SECRET": secret,
        }
    )
    bus = urlsplit(infra.bus.url if infra.bus else infra.nats_url)
    endpoints = {
        "postgres:5432": f"{database.hostname}:{database.port or 5432}",
        "nats:4222": f"{bus.hostname}:{bus.port}",
        "otel-collector:4318": f"127.0.0.1:{otlp_sink[0]}",
    }
    common = {"PROKOPIM_NAMESPACE": topology.namespace}
    logs = tmp_path / "logs"

    # the superuser compose names (prokopim) is this server's
    owner = {**common, "MIGRATION_DATABASE_URL": database_url}
    migrate = launch_of(model, "migrate", endpoints, owner, tmp_path)
    migrated = await asyncio.to_thread(
        subprocess.run, migrate.command, env=migrate.env, capture_output=True, timeout=60
    )
    assert migrated.returncode == 0, migrated.stderr.decode(errors="replace")

    # the console too: it calls every service by its compose name
    ports = {name: free_port() for name in (*HTTP_SERVICES, "console")}
    endpoints |= {f"{name}:8000": f"127.0.0.1:{ports[name]}" for name in HTTP_SERVICES}
    running = RunningSystem(urls={name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    launches: dict[str, Launch] = {}
    try:
        for name in (*APPLICATION_SERVICES, "console"):
            http = {"HOST": "127.0.0.1", "PORT": str(ports[name])} if name in ports else {}
            launches[name] = launch_of(model, name, endpoints, {**common, **http}, tmp_path)
            start_process(running, name, launches[name].command, launches[name].env, logs)
        await asyncio.to_thread(wait_ready, running, 90.0)

        driver = Driver(running.urls, secret)
        try:
            run = await run_case(driver, BANDUNG, activity="Hari Jadi Kota", reject={8: 1})
            ledger_view = await closed_in_ledger(driver, run.case_id)
            scraped = await scrape_as_prometheus_would(ports, launches)
        finally:
            await driver.close()
        signed_in = await sign_in_to_the_console(running.urls["console"], database_url)
    finally:
        await asyncio.to_thread(running.stop)

    history = await case_history(database_url, run.case_id)
    types = [event.type.removeprefix("prokopim.") for event in history]
    assert types[0] == "intake.request-received.v1"
    assert types.count("review.draft-rejected.v1") == 1
    # a mail's outcome (no mail server here: failed, after its retries) is stored by the
    # consumer whenever the attempts end, anywhere after its cause: the steps end the case
    steps = [t for t in types if not t.endswith(("-mailed.v1", "-mail-failed.v1"))]
    assert steps[-1] == "publishing.recording-archived.v1", types
    assert {event.data["case_id"] for event in history} == {run.case_id}

    # The ledger followed the same case over NATS, as compose wires it.
    assert ledger_view["sop_id"] == BANDUNG.id and ledger_view["rework_loops"] == 1
    assert [step["step"] for step in ledger_view["steps"]] == list(range(1, 11))
    # Prometheus, configured as deploy/prometheus.yml says, finds the shared metrics.
    assert "prokopim_events_published_total" in scraped["relay:9400"]
    assert "prokopim_commands_total" in scraped["intake:8000"]
    assert "prokopim_sla_step_duration_seconds_bucket" in scraped["ledger:8000"]
    for name in HTTP_SERVICES:
        assert "prokopim_events_consumed_total" in scraped[f"{name}:8000"], name
    # Publishing wrote its archive manifest into what compose mounts as the `archive` volume.
    archive_dir = Path(launches["publishing"].env["ARCHIVE_DIR"])
    assert archive_dir.is_relative_to(tmp_path / "volumes" / "archive")
    archived = await asyncio.to_thread(lambda: [p.name for p in archive_dir.rglob("*")])
    assert any("hari-jadi-kota" in name for name in archived), archived
    # The console, as its own database role, found the account the operator added.
    assert signed_in.status_code == 303, signed_in.text
    assert signed_in.headers["location"] == "/worklist"
    console_role = database_roles.role("console")
    assert launches["console"].env["DATABASE_URL"].startswith(f"postgresql://{console_role}:")
    # Every process got what compose gives it, not what this test's shell happened to hold.
    for name, launch in launches.items():
        assert launch.env["OTEL_SERVICE_NAME"] == f"prokopim-{name}"
        collector = endpoints["otel-collector:4318"]
        assert launch.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://{collector}"
