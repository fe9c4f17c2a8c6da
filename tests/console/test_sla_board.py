"""The console's SLA board over the ledger's real read API: late steps per role and per person."""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from prokopim_console.accounts import add_user
from prokopim_console.app import create_app as console_app
from prokopim_console.config import Settings as ConsoleSettings
from prokopim_devstack.infra import Infra
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_ledger.app import create_app as ledger_app
from prokopim_ledger.config import Settings as LedgerSettings
from prokopim_ledger.handlers import on_event
from prokopim_ledger.samples import append_case, sample_case
from prokopim_sop import StepKind, load_catalog
from prokopim_sop.calendar import WorkingCalendar

pytestmark = pytest.mark.integration

SECRET = "console-board-secret-0123456789abcdef"
START = datetime(2025, 5, 5, 8, 0, tzinfo=ZoneInfo("Asia/Jakarta"))
NOW = datetime(2025, 5, 20, 9, 0, tzinfo=ZoneInfo("Asia/Jakarta"))  # every open step late
CATALOG = load_catalog()


async def _seed(app: Any) -> None:
    """Per SOP: a case waiting at step 2, and one waiting for the crew assigned at its
    assign-staff step (so that step has an assignee)."""
    runtime, rng, cal = app.state.runtime, random.Random(14), WorkingCalendar()
    for n, sop_id in enumerate(("bdg-setda-010-2024", "tgr-58-2025")):
        sop = CATALOG.get(sop_id)
        assign = next(s for s in sop.steps if s.kind is StepKind.ASSIGN_STAFF)
        for waits_at in (2, assign.number + 1):
            start = cal.after_working(START, (2 * n + waits_at) * 600.0)
            _, events = sample_case(sop, rng, start, cal, reject_rate=0.0, late_rate=0.0)
            cut = next(i for i, (_, e) in enumerate(events) if e.data.get("next_step") == waits_at)
            await append_case(runtime.store, events[: cut + 1])
    async with runtime.pool.acquire() as conn:
        for event in (await runtime.store.read_all(limit=10_000)).events:
            async with conn.transaction():
                await on_event(app.state.ledger, runtime, event, conn)


@pytest.fixture
async def board(
    infra: Infra, database_url: str, topology: Topology, nats_client: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """(the console signed in as a head of section, the ledger) on the same database."""
    common: dict[str, Any] = {
        "database_url": database_url,
        "nats_url": infra.nats_url,
        "prokopim_namespace": topology.namespace,
        "jwt_secret": SECRET,
    }
    ledger = ledger_app(LedgerSettings.model_validate(common), clock=lambda: NOW)
    console_settings = ConsoleSettings.model_validate({**common, "ledger_url": "http://ledger"})
    console = console_app(console_settings)
    async with ledger.router.lifespan_context(ledger), console.router.lifespan_context(console):
        await _seed(ledger)
        to_ledger = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=ledger), base_url="http://ledger"
        )
        state = console.state.console
        await state.services.http.aclose()
        state.services.http = to_ledger  # the console's calls reach the real ledger app
        async with state.pool.acquire() as conn:
            await add_user(conn, "siti", "kepala-bagian", "rahasia-sekali", display_name="Siti")
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=console), base_url="http://console"
        ) as client:
            page = await client.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf
            signed = await client.post(
                "/login",
                data={"username": "siti", "password": "rahasia-sekali", "csrf": csrf.group(1)},
            )
            assert signed.status_code == 303
            yield client, to_ledger


async def test_the_board_groups_every_late_step_per_role_and_per_person(
    board: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    console, ledger = board
    token = issue_token(SECRET, subject="auditor", role="kepala-bagian")
    late = (
        await ledger.get(
            "/worklist?all_roles=true&sla=late&limit=500",
            headers={"Authorization": f"Bearer {token}"},
        )
    ).json()["items"]
    assert len(late) == 4
    per_role = Counter(item["role_name"] for item in late)
    per_person = Counter(person for item in late for person in item["assignees"])
    assert per_person == {"Budi": 2}  # the crew of both SOPs' assigned steps

    page = await console.get("/sla")
    assert page.status_code == 200
    roles_part, people_part = page.text.split("<h2>Per petugas</h2>")
    shown = re.compile(r"<h3>(.+?) \((\d+)\)</h3>")
    assert {name: int(n) for name, n in shown.findall(roles_part)} == per_role
    assert {name: int(n) for name, n in shown.findall(people_part)} == per_person
    for item in late:  # every late case is linked from its role's table
        assert f'href="/cases/{item["case_id"]}"' in roles_part
