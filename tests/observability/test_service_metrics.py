"""A service's /metrics counts its commands by outcome; its startup cleans up after itself."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import date, timedelta

import asyncpg
import httpx
import pytest
from fastapi import APIRouter
from nats.aio.client import Client as NatsClient
from prokopim_cli.flows import request_body
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_intake.app import create_app
from prokopim_kit.auth import issue_token
from prokopim_kit.runtime import Runtime, ServiceSettings, create_service_app
from prokopim_sop import load_catalog

from .scrape import sample

pytestmark = pytest.mark.integration

SECRET = secrets.token_urlsafe(40)
BANDUNG = load_catalog().get("bdg-setda-010-2024")
RECEIVER = BANDUNG.step(1).role


def settings_for(database_url: str, nats_url: str, namespace: str) -> ServiceSettings:
    return ServiceSettings(
        database_url=database_url,
        nats_url=nats_url,
        prokopim_namespace=namespace,
        jwt_secret=SECRET,
    )


@pytest.fixture
async def client(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings_for(database_url, infra.nats_url, topology.namespace))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            yield http


def bearer(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, subject='m-1', role=role)}"}


async def commands(http: httpx.AsyncClient, command: str, outcome: str) -> float:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    labels = {"service": "intake", "command": command, "outcome": outcome}
    value: float = sample(response.text, "prokopim_commands_total", labels)
    return value


async def test_metrics_count_commands_by_outcome(client: httpx.AsyncClient) -> None:
    body = request_body(BANDUNG, "Metrik", date.today() + timedelta(days=3))
    before = {
        outcome: await commands(client, "register_request", outcome)
        for outcome in ("accepted", "wrong_role", "unauthenticated", "invalid_request")
    }

    assert (await client.post("/cases", json=body, headers=bearer(RECEIVER))).status_code == 201
    other = {**body, "letter_number": f"{body['letter_number']}-B"}  # one letter, one case
    assert (await client.post("/cases", json=other, headers=bearer("ka-bagian"))).status_code == 403
    assert (await client.post("/cases", json=body)).status_code == 401
    assert (await client.post("/cases", json={}, headers=bearer(RECEIVER))).status_code == 422
    await client.get("/cases/00000000-0000-0000-0000-000000000000", headers=bearer(RECEIVER))
    await client.post("/no-such-command", json={}, headers=bearer(RECEIVER))

    for outcome in before:
        after = await commands(client, "register_request", outcome)
        assert after - before[outcome] == 1, outcome
    text = (await client.get("/metrics")).text
    assert "get_case" not in text  # a read is not a command
    assert "no-such-command" not in text  # nor is a path no route serves


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "alive"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "database": True, "migrations": True, "nats": True}


async def test_a_failed_startup_closes_the_pool(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> None:
    async def fail(runtime: Runtime) -> None:
        raise RuntimeError("startup step failed")

    app = create_service_app(
        name="failing",
        router=APIRouter(),
        settings=settings_for(database_url, infra.nats_url, topology.namespace),
        on_startup=fail,
    )
    with pytest.raises(RuntimeError, match="startup step failed"):
        async with app.router.lifespan_context(app):
            pass

    conn = await asyncpg.connect(infra.database_url)
    try:
        left = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
            database_url.rpartition("/")[2],
        )
    finally:
        await conn.close()
    assert left == 0
