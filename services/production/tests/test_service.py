"""Production over HTTP, against real PostgreSQL and NATS JetStream.

Each test runs the app in-process with its lifespan (pool, migrations, durable consumer),
a relay publishing the store to JetStream, and appends the hand-overs other services would.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import (
    Assignment,
    CaseFile,
    Contract,
    Draft,
    DraftRejected,
    ProductionStepOpened,
    Requester,
    StaffAssigned,
)
from prokopim_events.db import create_pool
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.relay import Relay
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.commands import to_new_events
from prokopim_kit.runtime import Runtime
from prokopim_production.app import create_app
from prokopim_production.config import Settings
from prokopim_production.handlers import on_event

pytestmark = pytest.mark.integration

SECRET = "production-tests-secret-0123456789abcdef"
BANDUNG, BANDUNG_VERSION = "bdg-setda-010-2024", "2024.1"
TANGERANG, TANGERANG_VERSION = "tgr-58-2025", "2025.1"
BANDUNG_KIT = ["video-recorder", "tripod", "mic", "lighting", "teleprompter"]
TANGERANG_KIT = ["agenda", "team-assignment", "camera", "camcorder"]
EDIT_INPUTS = {"computer": "laptop-07", "internet": "kantor"}
CASE = CaseFile(
    letter_number="005/123-Humas",
    requester=Requester(name="Dinas Kominfo", agency="Diskominfo", email="kominfo@example.go.id"),
    subject="Video sambutan HUT kota",
    activity_name="Tapping sambutan HUT",
    activity_date=date(2025, 5, 20),
)
T = TypeVar("T")


@dataclass
class Harness:
    client: httpx.AsyncClient
    store: EventStore
    runtime: Runtime

    async def append_as(self, service: str, case_id: uuid.UUID, contract: Contract) -> StoredEvent:
        """Append an event to another service's case stream, as that service would."""
        stream = f"{service}-{case_id}"
        version = await self.store.stream_version(stream)
        [event] = to_new_events([contract], actor=Actor(id=service, role="system"))
        await self.store.append(stream, version, [event])
        return (await self.store.read_stream(stream, after_version=version))[0]

    async def production_events(self, case_id: uuid.UUID) -> list[StoredEvent]:
        return await self.store.read_stream(f"production-{case_id}")


@pytest.fixture
async def harness(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[Harness]:
    settings = Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    app = create_app(settings)
    pool = await create_pool(database_url, max_size=4)
    store = EventStore(pool)
    relay = Relay(store, nats_client.jetstream(), topology, dsn=database_url, poll_interval=0.2)
    stop = asyncio.Event()
    try:
        async with app.router.lifespan_context(app):
            relaying = asyncio.create_task(relay.run(stop))
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://production") as c:
                yield Harness(c, store, app.state.runtime)
            stop.set()
            await relaying
    finally:
        await store.drain()
        await pool.close()


def auth(role: str, subject: str = "budi") -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, subject=subject, role=role)}"}


PENATA = auth("penata-liputan")
TIM = auth("tim-liputan")
READER = auth("ka-bagian", subject="kabag")


async def eventually(probe: Callable[[], Awaitable[T | None]], within: float = 20.0) -> T:
    """Return the probe's first non-None result, failing after `within` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while (result := await probe()) is None:
        assert asyncio.get_running_loop().time() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)
    return result


async def opened_view(h: Harness, case_id: uuid.UUID, **expected: Any) -> dict[str, Any]:
    """Poll the case view until it shows `expected` (the consumer works asynchronously)."""

    async def probe() -> dict[str, Any] | None:
        response = await h.client.get(f"/cases/{case_id}", headers=READER)
        if response.status_code != 200:
            return None
        view: dict[str, Any] = response.json()
        return view if all(view[k] == v for k, v in expected.items()) else None

    return await eventually(probe)


def staff_assigned(case_id: uuid.UUID, sop: str, version: str, step: int) -> StaffAssigned:
    return StaffAssigned(
        case_id=case_id,
        sop_id=sop,
        sop_version=version,
        step=step,
        next_step=step + 1,
        inputs={"schedule": "jadwal-2025-05-20"},
        case=CASE,
        assignments=[Assignment(name="Budi", role="penata-liputan")],
        scheduled_at=datetime(2025, 5, 20, 2, 0, tzinfo=UTC),
    )


def raw(name: str) -> dict[str, str]:
    return {"kind": "video", "ref": f"drive://{name}", "name": name}


async def test_bandung_records_drafts_and_reworks_a_rejected_draft(harness: Harness) -> None:
    h, case_id = harness, uuid.uuid4()
    handover = await h.append_as(
        "scheduling", case_id, staff_assigned(case_id, BANDUNG, BANDUNG_VERSION, 5)
    )
    url = f"/cases/{case_id}"
    view = await opened_view(h, case_id, awaiting_step=6)
    assert view["case"]["letter_number"] == CASE.letter_number
    assert view["equipment_ready"] is False
    [opened] = await h.production_events(case_id)
    assert opened.type == "prokopim.production.step-opened.v1"
    assert opened.event_id == uuid.uuid5(handover.event_id, "production")
    assert (opened.causation_id, opened.correlation_id) == (handover.event_id, handover.event_id)
    assert opened.data["reason"] == "handover" and opened.data["step"] == 6

    template = (await h.client.get(f"{url}/equipment", headers=READER)).json()
    assert (template["step"], template["equipment_required"], template["prepared"]) == (
        6,
        True,
        False,
    )
    assert [(i["id"], i["ticked"]) for i in template["items"]] == [(i, False) for i in BANDUNG_KIT]

    kit = dict.fromkeys(BANDUNG_KIT, True)
    response = await h.client.post(f"{url}/equipment", json={"checklist": kit}, headers=PENATA)
    assert response.status_code == 200, response.text
    assert response.json()["step"] == 6
    ticked = (await h.client.get(f"{url}/equipment", headers=READER)).json()
    assert ticked["prepared"] and all(i["ticked"] for i in ticked["items"])
    assert (await h.client.get(url, headers=READER)).json()["equipment_ready"] is True

    response = await h.client.post(
        f"{url}/recording", json={"files": [raw("raw.mp4")]}, headers=PENATA
    )
    assert response.status_code == 200, response.text
    assert (response.json()["step"], response.json()["next_step"]) == (6, 7)

    body = {"files": [raw("draft-v1.mp4")], "notes": "first cut", "inputs": EDIT_INPUTS}
    response = await h.client.post(f"{url}/drafts", json=body, headers=PENATA)
    assert response.status_code == 200, response.text
    draft_v1 = response.json()["draft"]
    assert (draft_v1["version"], response.json()["next_step"]) == (1, 8)

    view = (await h.client.get(url, headers=READER)).json()
    assert (view["awaiting_step"], view["current_step"], view["rework_count"]) == (None, 8, 0)
    assert view["recordings"] == [{"step": 6, "files": [raw("raw.mp4")]}]

    rejected = await h.append_as(
        "review",
        case_id,
        DraftRejected(
            case_id=case_id,
            sop_id=BANDUNG,
            sop_version=BANDUNG_VERSION,
            step=8,
            next_step=7,
            inputs={"initials": "KK"},
            case=CASE,
            draft=Draft.model_validate(draft_v1),
            level=1,
            reviewer="koordinator-kpp",
            reason="audio too quiet",
        ),
    )
    view = await opened_view(h, case_id, rework_count=1)
    assert (view["awaiting_step"], view["last_rejection_reason"]) == (7, "audio too quiet")

    body = {"files": [raw("draft-v2.mp4")], "notes": "louder", "inputs": EDIT_INPUTS}
    response = await h.client.post(f"{url}/drafts", json=body, headers=PENATA)
    assert response.status_code == 200, response.text
    assert response.json()["draft"] == {
        "version": 2,
        "files": [raw("draft-v2.mp4")],
        "notes": "louder",
    }

    events = await h.production_events(case_id)
    assert [e.type.split(".")[2] for e in events] == [
        "step-opened",
        "equipment-prepared",
        "recording-made",
        "draft-produced",
        "step-opened",
        "draft-produced",
    ]
    rework = events[4]
    assert rework.event_id == uuid.uuid5(rejected.event_id, "production")
    assert rework.causation_id == rejected.event_id
    assert (rework.data["reason"], rework.data["draft"]) == ("rework", draft_v1)
    assert [e.data["draft"]["version"] for e in events if e.type.endswith("draft-produced.v1")] == [
        1,
        2,
    ]
    assert events[1].actor.role == "penata-liputan" and events[4].actor.id == "production"

    # A redelivered rejection stores nothing twice.
    async with h.runtime.pool.acquire() as conn, conn.transaction():
        await on_event(h.runtime, rejected, conn)
    assert len(await h.production_events(case_id)) == len(events)


async def test_refused_commands_name_the_problem_and_write_no_event(harness: Harness) -> None:
    h, case_id = harness, uuid.uuid4()
    await h.append_as("scheduling", case_id, staff_assigned(case_id, BANDUNG, BANDUNG_VERSION, 5))
    await opened_view(h, case_id, awaiting_step=6)
    url = f"/cases/{case_id}"
    kit = dict.fromkeys(BANDUNG_KIT, True)
    recording = {"files": [raw("raw.mp4")]}
    draft = {"files": [raw("v1.mp4")], "inputs": EDIT_INPUTS}

    async def refused(path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = await h.client.post(f"{url}{path}", json=body, headers=headers)
        return {"status": response.status_code, **response.json()}

    no_equipment = await refused("/recording", recording, PENATA)
    assert (no_equipment["status"], no_equipment["missing_inputs"]) == (422, BANDUNG_KIT)
    assert "equipment prepared first" in no_equipment["detail"]

    partial = {**kit, "tripod": False}
    del partial["mic"]
    incomplete = await refused("/equipment", {"checklist": partial}, PENATA)
    assert (incomplete["status"], incomplete["missing_inputs"]) == (422, ["tripod", "mic"])

    wrong_role = await refused("/equipment", {"checklist": kit}, auth("ka-bagian"))
    assert (wrong_role["status"], wrong_role["required_role"]) == (403, "penata-liputan")

    early = await refused("/drafts", draft, PENATA)
    assert (early["status"], early["error"], early["awaiting_step"]) == (
        409,
        "step_out_of_order",
        6,
    )

    no_files = await refused("/recording", {"files": []}, PENATA)
    assert no_files["status"] == 422 and no_files["errors"][0]["field"] == "files"

    no_token = await h.client.post(f"{url}/equipment", json={"checklist": kit})
    assert no_token.status_code == 401

    unknown = await h.client.post(f"/cases/{uuid.uuid4()}/equipment", json={"checklist": kit})
    assert unknown.status_code == 401  # authentication comes before the case lookup
    unknown = await h.client.post(
        f"/cases/{uuid.uuid4()}/equipment", json={"checklist": kit}, headers=PENATA
    )
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_case")
    assert (await h.client.get(f"/cases/{uuid.uuid4()}", headers=READER)).status_code == 404
    assert (await h.client.get(url)).status_code == 401  # the case file names the requester

    assert len(await h.production_events(case_id)) == 1  # only the hand-over


async def test_tangerang_cover_races_one_draft_wins_and_rework_keeps_equipment(
    harness: Harness,
) -> None:
    h, case_id = harness, uuid.uuid4()
    await h.append_as(
        "scheduling", case_id, staff_assigned(case_id, TANGERANG, TANGERANG_VERSION, 3)
    )
    await opened_view(h, case_id, awaiting_step=4)
    url = f"/cases/{case_id}"
    draft = {"files": [raw("rilis.docx")], "notes": "press release + foto"}

    not_ready = await h.client.post(f"{url}/drafts", json=draft, headers=TIM)
    assert (not_ready.status_code, not_ready.json()["missing_inputs"]) == (422, TANGERANG_KIT)

    kit = dict.fromkeys(TANGERANG_KIT, True)
    response = await h.client.post(f"{url}/equipment", json={"checklist": kit}, headers=TIM)
    assert response.status_code == 200, response.text

    first, second = await asyncio.gather(
        h.client.post(f"{url}/drafts", json=draft, headers=TIM),
        h.client.post(f"{url}/drafts", json=draft, headers=TIM),
    )
    assert sorted([first.status_code, second.status_code]) == [200, 409]
    winner = first if first.status_code == 200 else second
    assert (winner.json()["step"], winner.json()["next_step"]) == (4, 5)
    assert winner.json()["draft"]["version"] == 1

    events = await h.production_events(case_id)
    produced = [e for e in events if e.type.endswith("draft-produced.v1")]
    assert [e.event_id for e in produced] == [uuid.UUID(winner.json()["event_id"])]
    assert produced[0].data["case"]["letter_number"] == CASE.letter_number

    await h.append_as(
        "review",
        case_id,
        DraftRejected(
            case_id=case_id,
            sop_id=TANGERANG,
            sop_version=TANGERANG_VERSION,
            step=5,
            next_step=4,
            inputs=dict.fromkeys(["press-release", "photos", "video"], "ref"),
            case=CASE,
            draft=Draft.model_validate(winner.json()["draft"]),
            level=1,
            reviewer="ketua-tim",
            reason="foto buram",
        ),
    )
    view = await opened_view(h, case_id, rework_count=1)
    assert (view["awaiting_step"], view["equipment_ready"]) == (4, True)
    response = await h.client.post(f"{url}/drafts", json=draft, headers=TIM)
    assert (response.status_code, response.json()["draft"]["version"]) == (200, 2)


async def test_a_case_whose_sop_version_is_no_longer_installed_gets_409(harness: Harness) -> None:
    case_id = uuid.uuid4()
    opened = ProductionStepOpened(
        case_id=case_id,
        sop_id="bdg-setda-010-2024",
        sop_version="0-removed",
        step=6,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=CASE,
    )
    await harness.append_as("production", case_id, opened)

    response = await harness.client.post(
        f"/cases/{case_id}/equipment", json={"checklist": {"tripod": True}}, headers=PENATA
    )

    assert response.status_code == 409, response.text
    assert "sop_not_installed" in response.text and "0-removed" in response.text
