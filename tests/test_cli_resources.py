"""`prokopim resources` against the scheduling service over HTTP (served in-process)."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from icalendar import Calendar
from prokopim_cli.main import app
from prokopim_events.topology import Topology
from prokopim_kit.runtime import ServiceSettings
from prokopim_scheduling.app import create_app
from prokopim_testing.ports import free_port
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@pytest.fixture
async def scheduling(
    database_url: str, infra: Any, topology: Topology, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[str]:
    secret = secrets.token_urlsafe(40)
    monkeypatch.setenv("JWT_SECRET", secret)
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=secret,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


async def cli(*args: str) -> str:
    result = await asyncio.to_thread(CliRunner().invoke, app, ["resources", *args])
    assert result.exit_code == 0, result.output
    return result.output


async def test_crew_and_equipment_are_registered_and_a_feed_issued(scheduling: str) -> None:
    url = ["--url", scheduling]
    added = await cli("add-crew", "bandung", "Asep", "--can", "penata-liputan", *url)
    tripod = await cli("add-equipment", "bandung", "tripod", "Tripod Manfrotto", *url)
    tripod_id = tripod.split()[0]
    await cli("condition", "bandung", tripod_id, "in-repair", *url)

    listed = await cli("list", "bandung", *url)
    assert "Asep" in listed and "penata-liputan" in listed
    assert "Tripod Manfrotto" in listed and "in-repair" in listed
    assert added.split()[0] in listed

    issued = json.loads(await cli("feed", "bandung", "--resource-id", tripod_id, *url))
    async with httpx.AsyncClient() as http:
        response = await http.get(issued["url"])
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["x-wr-calname"]) == "prokopim bandung: Tripod Manfrotto"

    refused = await asyncio.to_thread(
        CliRunner().invoke, app, ["resources", "add-equipment", "bandung", "drone", "D", *url]
    )
    assert refused.exit_code == 1 and "unknown equipment kind" in refused.output
