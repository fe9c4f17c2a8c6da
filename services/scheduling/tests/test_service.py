"""Scheduling in-process on real PostgreSQL and NATS: hand-over in, commands over HTTP."""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prokopim_events.contracts import CaseFile, DispositionGiven, Requester, SchedulingStepOpened
from prokopim_events.db import create_pool
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.relay import Relay
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.commands import to_new_events
from prokopim_kit.runtime import Runtime, ServiceSettings
from prokopim_scheduling.app import create_app
from prokopim_scheduling.handlers import on_event
from prokopim_sop import Sop, load_catalog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
TANGERANG = load_catalog().get("tgr-58-2025")
WHEN = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=7)))
BDG_INPUTS = {"request-letter": "ref://surat", "script": "ref://naskah", "disposition-sheet": "d"}
TYPE = "prokopim.scheduling.{}.v1"


@dataclass
class Scheduling:
    """The running service, its store, and a way to act as any SOP role."""

    http: httpx.AsyncClient
    store: EventStore
    runtime: Runtime
    secret: str

    def auth(self, role: str) -> dict[str, str]:
        token = issue_token(self.secret, subject=f"{role}-1", role=role, name=f"{role} one")
        return {"Authorization": f"Bearer {token}"}

    async def post(self, case_id: UUID, path: str, role: str, body: Any) -> httpx.Response:
        return await self.http.post(f"/cases/{case_id}/{path}", json=body, headers=self.auth(role))

    async def get(self, path: str, role: str = "ka-tim-dokpim") -> httpx.Response:
        return await self.http.get(path, headers=self.auth(role))

    async def stream(self, case_id: UUID) -> list[StoredEvent]:
        return await self.store.read_stream(f"scheduling-{case_id}")


@pytest.fixture
async def scheduling(
    database_url: str, infra: Any, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[Scheduling]:
    """The app with its lifespan (consumer on NATS) and a relay publishing the store."""
    secret = secrets.token_urlsafe(40)
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=secret,
    )
    app = create_app(settings)
    pool = await create_pool(database_url, max_size=4)
    store = EventStore(pool)
    relay = Relay(store, nats_client.jetstream(), topology, dsn=database_url, poll_interval=0.2)
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://scheduling") as http:
                yield Scheduling(http, store, app.state.runtime, secret)
    finally:
        stop.set()
        await relaying
        await store.drain()
        await pool.close()


def case_file(activity: str = "Peresmian Taman Kota") -> CaseFile:
    return CaseFile(
        letter_number="800/17/DEMO",
        requester=Requester(name="Dinas Komunikasi", agency="Diskominfo", email="req@example.org"),
        subject=f"Permohonan: {activity}",
        activity_name=activity,
        activity_date=date(2026, 12, 1),
    )


async def hand_over(service: Scheduling, sop: Sop) -> tuple[UUID, StoredEvent]:
    """Append intake's disposition (step 2 done, next step 3) as intake would."""
    case_id = uuid.uuid4()
    disposition = DispositionGiven(
        case_id=case_id,
        sop_id=sop.id,
        sop_version=sop.version,
        step=2,
        next_step=3,
        case=case_file(),
        instruction="Tindak lanjuti",
    )
    head = Actor(id="head-1", role=sop.step(2).role)
    events = to_new_events([disposition], actor=head)
    await service.store.append(f"intake-{case_id}", 0, events)
    (stored,) = await service.store.read_stream(f"intake-{case_id}")
    return case_id, stored


async def eventually(probe: Callable[[], Awaitable[Any]], within: float = 20.0) -> Any:
    """Return the first truthy result of `probe`, polling until a deadline."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {within}s")
        await asyncio.sleep(0.05)


async def opened_case(service: Scheduling, sop: Sop) -> tuple[UUID, StoredEvent, dict[str, Any]]:
    """Hand a case over and wait until scheduling has it waiting at step 3."""
    case_id, disposition = await hand_over(service, sop)

    async def at_step_3() -> dict[str, Any] | None:
        response = await service.get(f"/cases/{case_id}")
        view: dict[str, Any] = response.json()
        return view if response.status_code == 200 and view["awaiting_step"] == 3 else None

    view = await eventually(at_step_3)
    return case_id, disposition, view


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_bandung_steps_3_to_5_after_the_disposition_arrives_over_nats(
    scheduling: Scheduling,
) -> None:
    case_id, disposition, view = await opened_case(scheduling, BANDUNG)
    assert view["sop"]["id"] == BANDUNG.id and view["sop"]["version"] == BANDUNG.version
    assert view["case"]["activity_name"] == "Peresmian Taman Kota"
    assert (view["schedule"], view["notifications"], view["assignments"]) == (None, [], [])

    # Refused commands: each names what to fix, and none writes an event.
    staff = {
        "assignments": [{"name": "Budi", "role": "penata-liputan"}],
        "inputs": {"schedule": "j"},
    }
    early = error_of(await scheduling.post(case_id, "assignments", "ka-tim-dokpim", staff), 409)
    assert (early["error"], early["awaiting_step"]) == ("step_out_of_order", 3)
    schedule = {"scheduled_at": WHEN.isoformat(), "location": "Balai Kota", "inputs": BDG_INPUTS}
    wrong = error_of(await scheduling.post(case_id, "schedule", "koordinator-kpp", schedule), 403)
    assert wrong["required_role"] == "ka-tim-dokpim"
    thin = {**schedule, "inputs": {"request-letter": "ref://surat"}}
    missing = error_of(await scheduling.post(case_id, "schedule", "ka-tim-dokpim", thin), 422)
    assert missing["missing_inputs"] == ["script", "disposition-sheet"]
    anonymous = await scheduling.http.post(f"/cases/{case_id}/schedule", json=schedule)
    assert error_of(anonymous, 401)["error"] == "unauthenticated"
    assert len(await scheduling.stream(case_id)) == 1

    coordinated = await scheduling.post(case_id, "schedule", "ka-tim-dokpim", schedule)
    assert coordinated.status_code == 200, coordinated.text
    assert (coordinated.json()["step"], coordinated.json()["next_step"]) == (3, 4)
    assert coordinated.json()["awaiting_step"] == 4

    notified = await scheduling.post(
        case_id, "notification", "koordinator-kpp", {"channel": "email", "inputs": BDG_INPUTS}
    )
    assert notified.status_code == 200, notified.text
    notice = notified.json()["notification"]
    # the role that notifies the requester sees their contacts
    listed = (await scheduling.get(f"/cases/{case_id}/notifications", "koordinator-kpp")).json()
    assert [n["notification_id"] for n in listed["notifications"]] == [notice["notification_id"]]
    assert (listed["count"], listed["next"]) == (1, None)
    (record,) = listed["notifications"]
    assert datetime.fromisoformat(record["scheduled_at"]) == WHEN
    assert (record["location"], record["channel"]) == ("Balai Kota", "email")
    assert "Balai Kota" in record["message"] and record["recipient"]["email"] == "req@example.org"
    assert record["at"] is not None

    empty = {"assignments": [], "inputs": {"schedule": "ref://jadwal"}}
    invalid = error_of(await scheduling.post(case_id, "assignments", "ka-tim-dokpim", empty), 422)
    assert any(e["field"] == "assignments" for e in invalid["errors"])
    staff["inputs"] = {"schedule": "ref://jadwal"}
    assigned = await scheduling.post(case_id, "assignments", "ka-tim-dokpim", staff)
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["step"], assigned.json()["next_step"]) == (5, 6)
    assert assigned.json()["awaiting_step"] is None

    events = await scheduling.stream(case_id)
    assert [e.type for e in events] == [
        TYPE.format(name)
        for name in ("step-opened", "schedule-coordinated", "requester-notified", "staff-assigned")
    ]
    assert [e.data["step"] for e in events] == [3, 3, 4, 5]
    assert [e.data.get("next_step") for e in events] == [None, 4, 5, 6]
    assert [e.actor.role for e in events] == [
        "system",
        "ka-tim-dokpim",
        "koordinator-kpp",
        "ka-tim-dokpim",
    ]
    opened = events[0]
    assert opened.event_id == uuid.uuid5(disposition.event_id, "scheduling")
    assert str(opened.causation_id) == str(disposition.event_id)
    assert opened.data["reason"] == "handover"
    assert {e.correlation_id for e in events} == {disposition.correlation_id}
    assert events[3].data["assignments"] == [
        {"name": "Budi", "role": "penata-liputan", "team": None}
    ]
    assert datetime.fromisoformat(events[3].data["scheduled_at"]) == WHEN

    final = (await scheduling.get(f"/cases/{case_id}")).json()
    assert (final["awaiting_step"], final["steps_done"], final["next_step"]) == (None, [3, 4, 5], 6)
    again = error_of(await scheduling.post(case_id, "schedule", "ka-tim-dokpim", schedule), 409)
    assert again["awaiting_step"] == 6
    assert len(await scheduling.stream(case_id)) == 4


async def test_tangerang_splits_the_coverage_teams_at_step_3(scheduling: Scheduling) -> None:
    case_id, _, _ = await opened_case(scheduling, TANGERANG)
    schedule = {"scheduled_at": WHEN.isoformat(), "location": "Puspemkot", "inputs": {}}
    no_schedule_step = await scheduling.post(case_id, "schedule", "ketua-tim", schedule)
    assert error_of(no_schedule_step, 409)["awaiting_step"] == 3
    teams = {
        "assignments": [
            {"name": "Ani", "role": "tim-liputan", "team": "Foto"},
            {"name": "Budi", "role": "tim-liputan", "team": "Video"},
        ],
        "inputs": {"disposition": "ref://disposisi"},
    }
    head = error_of(await scheduling.post(case_id, "assignments", "kepala-bagian", teams), 403)
    assert head["required_role"] == "ketua-tim"
    assert len(await scheduling.stream(case_id)) == 1

    assigned = await scheduling.post(case_id, "assignments", "ketua-tim", teams)

    assert assigned.status_code == 200, assigned.text
    *_, staffed = await scheduling.stream(case_id)
    assert staffed.type == TYPE.format("staff-assigned") and staffed.actor.role == "ketua-tim"
    assert (staffed.data["step"], staffed.data["next_step"]) == (3, 4)
    assert staffed.data["outputs"] == ["agenda", "team-assignment"]
    assert staffed.data["scheduled_at"] is None
    assert staffed.data["case"]["letter_number"] == "800/17/DEMO"
    view = (await scheduling.get(f"/cases/{case_id}", "ketua-tim")).json()
    assert [a["team"] for a in view["assignments"]] == ["Foto", "Video"]


async def test_a_case_not_handed_over_is_unknown(scheduling: Scheduling) -> None:
    case_id = uuid.uuid4()
    schedule = {"scheduled_at": WHEN.isoformat(), "location": "Balai Kota", "inputs": BDG_INPUTS}

    for response in (
        await scheduling.get(f"/cases/{case_id}"),
        await scheduling.get(f"/cases/{case_id}/notifications"),
        await scheduling.post(case_id, "schedule", "ka-tim-dokpim", schedule),
    ):
        assert error_of(response, 404)["error"] == "unknown_case"
    assert await scheduling.stream(case_id) == []


async def test_racing_commands_one_wins_the_other_is_told(scheduling: Scheduling) -> None:
    case_id, _, _ = await opened_case(scheduling, BANDUNG)
    bodies = [
        {"scheduled_at": WHEN.isoformat(), "location": place, "inputs": BDG_INPUTS}
        for place in ("Balai Kota", "Pendopo")
    ]
    # Hold appends (not reads) back until both commands have loaded the case at the same
    # version and are waiting to append: a race every time, not only on a lucky schedule.
    async with scheduling.store.pool.acquire() as blocker:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE events IN SHARE MODE")
        racing = [
            asyncio.create_task(scheduling.post(case_id, "schedule", "ka-tim-dokpim", body))
            for body in bodies
        ]

        async def both_waiting() -> bool:
            # The first waits for the events table; the second for the first's transaction
            # (it locks the case's agenda row before appending).
            waiting: int = await scheduling.store.pool.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
                " WHERE NOT l.granted AND a.datname = current_database()"
            )
            return waiting == 2

        await eventually(both_waiting)
        await transaction.rollback()
        responses = await asyncio.gather(*racing)

    assert sorted(r.status_code for r in responses) == [200, 409]
    (lost,) = [r.json() for r in responses if r.status_code == 409]
    # the loser is decided again on the case as it now is: the step is done, it is told so
    assert lost["error"] == "step_out_of_order" and lost["awaiting_step"] == 4
    events = await scheduling.stream(case_id)
    assert [e.type for e in events].count(TYPE.format("schedule-coordinated")) == 1


async def test_a_repeated_hand_over_is_stored_once(scheduling: Scheduling) -> None:
    case_id, disposition, _ = await opened_case(scheduling, BANDUNG)
    runtime = scheduling.runtime

    # As a redelivery past the consumer's dedupe table would: the deterministic event id
    # makes the store answer with the original position instead of storing again.
    async with runtime.pool.acquire() as conn, conn.transaction():
        await on_event(runtime, disposition, conn)

    (opened,) = await scheduling.stream(case_id)
    assert opened.type == TYPE.format("step-opened")


async def test_a_case_whose_sop_version_is_no_longer_installed_gets_409(
    scheduling: Scheduling,
) -> None:
    case_id = uuid.uuid4()
    opened = SchedulingStepOpened(
        case_id=case_id,
        sop_id=BANDUNG.id,
        sop_version="0-removed",
        step=3,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=case_file(),
    )
    system = Actor(id="scheduling", role="system")
    await scheduling.store.append(f"scheduling-{case_id}", 0, to_new_events([opened], actor=system))

    body = {"scheduled_at": "2026-12-01T09:00:00", "location": "Balai Kota"}
    response = await scheduling.post(case_id, "schedule", "ka-tim-dokpim", body)

    assert response.status_code == 409, response.text
    assert "sop_not_installed" in response.text and "0-removed" in response.text
