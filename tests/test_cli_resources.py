"""`prokopim resources` against the scheduling service over HTTP (served in-process)."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from icalendar import Calendar
from prokopim_cli.flows import CaseRun, Driver, _do_step
from prokopim_cli.main import app
from prokopim_events.contracts import CaseFile, DispositionGiven, Requester
from prokopim_events.envelope import Actor
from prokopim_events.topology import Topology
from prokopim_kit.commands import to_new_events
from prokopim_kit.runtime import ServiceSettings
from prokopim_scheduling.app import create_app
from prokopim_scheduling.handlers import on_event
from prokopim_sop import load_catalog
from prokopim_testing.ports import free_port
from typer.testing import CliRunner

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


@dataclass
class Served:
    url: str
    app: FastAPI
    secret: str


@pytest.fixture
async def served(
    database_url: str,
    infra: Any,
    topology: Topology,
    nats_client: Any,  # provisions scheduling's durable, as the relay does
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Served]:
    secret = secrets.token_urlsafe(40)
    monkeypatch.setenv("JWT_SECRET", secret)
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=secret,
    )
    port = free_port()
    application = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(application, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", application, secret)
    finally:
        server.should_exit = True
        await serving


@pytest.fixture
def scheduling(served: Served) -> str:
    return served.url


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


async def test_the_demo_driver_moves_racing_cases_to_free_slots(served: Served) -> None:
    runtime = served.app.state.runtime
    tangerang = load_catalog().get("tgr-58-2025")
    cases = []
    for n in range(5):  # handed to scheduling as intake would
        case_id = uuid.uuid4()
        case = CaseFile(
            letter_number=f"800/{n}",
            requester=Requester(name="Dinas", agency="Dinas"),
            subject="Liputan",
            activity_name=f"Acara {n}",
            activity_date=date(2026, 12, 8),
        )
        given = DispositionGiven(
            case_id=case_id,
            sop_id=tangerang.id,
            sop_version=tangerang.version,
            step=2,
            next_step=3,
            case=case,
            instruction="Liput",
        )
        await runtime.store.append(
            f"intake-{case_id}", 0, to_new_events([given], actor=Actor(id="i", role="x"))
        )
        (stored,) = await runtime.store.read_stream(f"intake-{case_id}")
        async with runtime.pool.acquire() as conn, conn.transaction():
            await on_event(runtime, stored, conn)
        cases.append(case_id)
    driver = Driver({"scheduling": served.url}, served.secret)
    try:
        step = tangerang.step(3)
        runs = [CaseRun(case_id=str(case)) for case in cases]
        await asyncio.gather(*(_do_step(driver, r, tangerang, step, {}, Counter()) for r in runs))
    finally:
        await driver.close()

    rows = await runtime.pool.fetch(
        "SELECT r.type, lower(b.during) AS start, upper(b.during) AS until"
        " FROM scheduling_bookings b JOIN scheduling_resources r USING (resource_id)"
        " WHERE b.status = 'confirmed' AND r.type = 'crew' ORDER BY lower(b.during)"
    )
    assert len(rows) == 5  # every case got the demo crew member, at a free time
    assert all(a["until"] <= b["start"] for a, b in itertools.pairwise(rows))
    assert any(status == 409 for run in runs for (_, _, status) in run.calls)
