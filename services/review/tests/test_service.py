"""Review over HTTP against real PostgreSQL and NATS: drafts arrive through the relay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import (
    Attachment,
    CaseFile,
    Draft,
    DraftApproved,
    DraftProduced,
    DraftRejected,
    Requester,
    ReviewStepOpened,
)
from prokopim_events.db import create_pool
from prokopim_events.envelope import Actor, StoredEvent
from prokopim_events.relay import Relay
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_kit.commands import to_new_events
from prokopim_kit.runtime import Runtime, ServiceSettings
from prokopim_review.app import create_app
from prokopim_review.handlers import on_event
from prokopim_sop import Sop, load_catalog

pytestmark = pytest.mark.integration

SECRET = "review-tests-" + "s" * 32
CATALOG = load_catalog()
BANDUNG = CATALOG.get("bdg-setda-010-2024")
TANGERANG = CATALOG.get("tgr-58-2025")
PARAF = {"initials": "paraf"}
COVERAGE = {"press-release": "doc:1", "photos": "doc:2", "video": "doc:3"}
T = TypeVar("T")


@dataclass
class Review:
    client: httpx.AsyncClient
    store: EventStore
    runtime: Runtime

    def as_(self, role: str, subject: str | None = None) -> dict[str, str]:
        token = issue_token(SECRET, subject=subject or f"{role}-1", role=role)
        return {"Authorization": f"Bearer {token}"}

    async def hand_over(self, sop: Sop, case_id: uuid.UUID, step: int, version: int) -> None:
        """Append production's DraftProduced, as production would."""
        stream = f"production-{case_id}"
        event = DraftProduced(
            case_id=case_id,
            sop_id=sop.id,
            sop_version=sop.version,
            step=step,
            next_step=step + 1,
            case=CaseFile(
                letter_number="005/77/Setda",
                requester=Requester(name="Budi", agency="Diskominfo"),
                subject="Video HUT Kota",
                activity_name="HUT Kota",
                activity_date=date(2025, 5, 20),
            ),
            draft=Draft(version=version, files=[Attachment(kind="video", ref=f"dms:v{version}")]),
        )
        actor = Actor(id="editor-1", role=sop.step(step).role)
        at = await self.store.stream_version(stream)
        await self.store.append(stream, at, to_new_events([event], actor=actor))

    async def decide(
        self, case_id: uuid.UUID, role: str, body: dict[str, Any], subject: str | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/cases/{case_id}/decision", json=body, headers=self.as_(role, subject)
        )

    async def view(self, case_id: uuid.UUID, role: str = "ka-tim-dokpim") -> httpx.Response:
        return await self.client.get(f"/cases/{case_id}", headers=self.as_(role))

    async def opened_at(self, case_id: uuid.UUID, step: int, version: int) -> dict[str, Any]:
        """Wait until review awaits `step` with draft `version` (it came over NATS)."""

        async def check() -> dict[str, Any] | None:
            response = await self.view(case_id)
            if response.status_code != 200:
                return None
            view: dict[str, Any] = response.json()
            ready = view["awaiting_step"] == step and view["draft"]["version"] == version
            return view if ready else None

        return await eventually(check)

    async def events(self, case_id: uuid.UUID) -> list[StoredEvent]:
        return await self.store.read_stream(f"review-{case_id}")


async def eventually(check: Callable[[], Awaitable[T | None]], seconds: float = 30.0) -> T:
    """Poll `check` until it returns something, failing after `seconds`."""
    async with asyncio.timeout(seconds):
        while True:
            result = await check()
            if result is not None:
                return result
            await asyncio.sleep(0.05)


@pytest.fixture
async def review(
    infra: Infra, database_url: str, topology: Topology, nats_client: NatsClient
) -> AsyncIterator[Review]:
    settings = ServiceSettings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=SECRET,
    )
    app = create_app(settings)
    pool = await create_pool(database_url, max_size=4)
    store = EventStore(pool)
    relay = Relay(
        store, nats_client.jetstream(), topology, dsn=database_url, name=topology.namespace,
        poll_interval=0.2,
    )  # fmt: skip
    stop = asyncio.Event()
    relaying = asyncio.create_task(relay.run(stop))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://review"
            ) as client,
        ):
            yield Review(client, store, app.state.runtime)
    finally:
        stop.set()
        await relaying
        await store.drain()
        await pool.close()


def approve(version: int, inputs: dict[str, str] = PARAF, **extra: Any) -> dict[str, Any]:
    return {"decision": "approve", "draft_version": version, "inputs": inputs, **extra}


def reject(version: int, reason: str | None, inputs: dict[str, str] = PARAF) -> dict[str, Any]:
    return {"decision": "reject", "draft_version": version, "inputs": inputs, "reason": reason}


async def test_bandung_review_approves_rejects_and_reopens_on_a_new_draft(review: Review) -> None:
    case_id = uuid.uuid4()
    await review.hand_over(BANDUNG, case_id, step=7, version=1)
    view = await review.opened_at(case_id, step=8, version=1)
    assert (view["sop_id"], view["awaiting_role"], view["awaiting_level"]) == (
        BANDUNG.id,
        "koordinator-kpp",
        1,
    )
    assert view["case"]["letter_number"] == "005/77/Setda"

    response = await review.decide(case_id, "koordinator-kpp", approve(1), "kpp-ani")
    assert response.status_code == 200, response.text
    assert response.json()["awaiting_step"] == 9  # at once, not via NATS
    assert (await review.view(case_id)).json()["awaiting_step"] == 9

    response = await review.decide(case_id, "ka-bagian", reject(1, "logo kurang jelas"), "kabag")
    assert response.status_code == 200, response.text
    assert (response.json()["next_step"], response.json()["awaiting_step"]) == (8, 8)

    response = await review.decide(case_id, "koordinator-kpp", reject(1, "potong intro"), "kpp-ani")
    assert response.status_code == 200, response.text
    assert (response.json()["next_step"], response.json()["awaiting_step"]) == (7, None)
    waiting = await review.decide(case_id, "koordinator-kpp", approve(1))
    assert waiting.status_code == 409
    assert waiting.json()["awaiting_step"] is None

    await review.hand_over(BANDUNG, case_id, step=7, version=2)
    view = await review.opened_at(case_id, step=8, version=2)

    events = await review.events(case_id)
    assert [e.type for e in events] == [
        ReviewStepOpened.TYPE,
        DraftApproved.TYPE,
        DraftRejected.TYPE,
        DraftRejected.TYPE,
        ReviewStepOpened.TYPE,
    ]
    decisions = [e.data for e in events[1:4]]
    assert [(d["step"], d["next_step"], d["level"]) for d in decisions] == [
        (8, 9, 1),
        (9, 8, 2),
        (8, 7, 1),
    ]
    assert [d["reviewer"] for d in decisions] == ["kpp-ani", "kabag", "kpp-ani"]
    assert [d.get("reason") for d in decisions] == [None, "logo kurang jelas", "potong intro"]
    assert [d["inputs"] for d in decisions] == [PARAF] * 3
    roles = [e.actor.role for e in events[1:4]]
    assert roles == ["koordinator-kpp", "ka-bagian", "koordinator-kpp"]
    assert [(d["decision"], d["reviewer"], d["draft_version"]) for d in view["decisions"]] == [
        ("approve", "kpp-ani", 1),
        ("reject", "kabag", 1),
        ("reject", "kpp-ani", 1),
    ]
    assert all(d["at"] for d in view["decisions"])


async def test_a_hand_over_is_stored_once_and_linked_to_its_cause(review: Review) -> None:
    case_id = uuid.uuid4()
    await review.hand_over(TANGERANG, case_id, step=4, version=1)
    await review.opened_at(case_id, step=5, version=1)
    [produced] = await review.store.read_stream(f"production-{case_id}")
    [opened] = await review.events(case_id)
    assert opened.event_id == uuid.uuid5(produced.event_id, "review")
    assert (opened.causation_id, opened.correlation_id) == (produced.event_id, produced.event_id)
    assert (opened.data["reason"], opened.data["cause_event_id"]) == (
        "handover",
        str(produced.event_id),
    )

    response = await review.decide(case_id, "ketua-tim", approve(1, COVERAGE))
    assert response.status_code == 200, response.text
    # A repeated delivery (beyond the consumer's own dedupe) must not reopen the case.
    async with review.runtime.pool.acquire() as conn, conn.transaction():
        await on_event(review.runtime, produced, conn)
    assert [e.type for e in await review.events(case_id)] == [
        ReviewStepOpened.TYPE,
        DraftApproved.TYPE,
    ]
    assert (await review.view(case_id)).json()["awaiting_step"] == 6


async def test_tangerang_rejections_go_back_one_level_each(review: Review) -> None:
    case_id = uuid.uuid4()
    await review.hand_over(TANGERANG, case_id, step=4, version=1)
    await review.opened_at(case_id, step=5, version=1)

    assert (await review.decide(case_id, "ketua-tim", approve(1, COVERAGE))).status_code == 200
    response = await review.decide(case_id, "kepala-bagian", reject(1, "judul", COVERAGE))
    assert (response.status_code, response.json()["awaiting_step"]) == (200, 5)
    response = await review.decide(case_id, "ketua-tim", reject(1, "foto buram", COVERAGE))
    assert (response.status_code, response.json()["awaiting_step"]) == (200, None)

    decisions = [e.data for e in (await review.events(case_id))[1:]]
    assert [(d["step"], d["next_step"], d["level"]) for d in decisions] == [
        (5, 6, 1),
        (6, 5, 2),
        (5, 4, 1),
    ]
    assert [d.get("reason") for d in decisions] == [None, "judul", "foto buram"]


async def test_refused_decisions_name_the_problem_and_store_nothing(review: Review) -> None:
    case_id = uuid.uuid4()
    await review.hand_over(BANDUNG, case_id, step=7, version=1)
    await review.opened_at(case_id, step=8, version=1)

    refusals: list[tuple[httpx.Response, int, str, Any]] = [
        (await review.decide(case_id, "ka-bagian", approve(1)), 403, "required_role",
         "koordinator-kpp"),
        (await review.decide(case_id, "koordinator-kpp", approve(1, {})), 422, "missing_inputs",
         ["initials"]),
        (await review.decide(case_id, "koordinator-kpp", reject(1, " ")), 422, "field", "reason"),
        (await review.decide(case_id, "koordinator-kpp", reject(1, None)), 422, "field", "reason"),
        (await review.decide(case_id, "koordinator-kpp", approve(2)), 409, "current_version", 1),
        (await review.decide(uuid.uuid4(), "koordinator-kpp", approve(1)), 404, "error",
         "unknown_case"),
    ]  # fmt: skip
    for response, status, key, value in refusals:
        assert response.status_code == status, response.text
        assert response.json()[key] == value

    bad_body = await review.decide(case_id, "koordinator-kpp", {"decision": "maybe"})
    assert bad_body.status_code == 422
    fields = {error["field"] for error in bad_body.json()["errors"]}
    assert fields == {"decision", "draft_version"}
    anonymous = await review.client.post(f"/cases/{case_id}/decision", json=approve(1))
    assert anonymous.status_code == 401
    assert (await review.view(uuid.uuid4())).status_code == 404

    assert [e.type for e in await review.events(case_id)] == [ReviewStepOpened.TYPE]
    assert (await review.view(case_id)).json()["decisions"] == []


async def test_two_racing_approvals_store_one(review: Review) -> None:
    case_id = uuid.uuid4()
    await review.hand_over(BANDUNG, case_id, step=7, version=1)
    await review.opened_at(case_id, step=8, version=1)

    responses = await asyncio.gather(
        *(review.decide(case_id, "koordinator-kpp", approve(1), f"kpp-{i}") for i in range(2))
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["error"] in {"concurrent_change", "step_out_of_order"}
    late = await review.decide(case_id, "koordinator-kpp", approve(1))  # a double submit
    assert (late.status_code, late.json()["awaiting_step"]) == (409, 9)
    named = await review.decide(case_id, "ka-bagian", approve(1, step=8))
    assert (named.status_code, named.json()["awaiting_step"]) == (409, 9)
    assert [e.type for e in await review.events(case_id)] == [
        ReviewStepOpened.TYPE,
        DraftApproved.TYPE,
    ]


async def test_reading_a_case_needs_a_token(review: Review) -> None:
    """The case view shows drafts and reviewers' reasons: not for anonymous callers."""
    response = await review.client.get(f"/cases/{uuid.uuid4()}")
    assert response.status_code == 401


async def test_a_case_whose_sop_version_is_no_longer_installed_gets_409(review: Review) -> None:
    case_id = uuid.uuid4()
    opened = ReviewStepOpened(
        case_id=case_id,
        sop_id=BANDUNG.id,
        sop_version="0-removed",
        step=8,
        reason="handover",
        cause_event_id=uuid.uuid4(),
        case=CaseFile(
            letter_number="005/77/Setda",
            requester=Requester(name="Budi", agency="Diskominfo"),
            subject="Video HUT Kota",
            activity_name="HUT Kota",
            activity_date=date(2025, 5, 20),
        ),
        draft=Draft(version=1, files=[Attachment(kind="video", ref="dms:v1")]),
    )
    system = Actor(id="review", role="system")
    await review.store.append(f"review-{case_id}", 0, to_new_events([opened], actor=system))

    response = await review.decide(case_id, "koordinator-kpp", approve(1))

    assert response.status_code == 409, response.text
    assert "sop_not_installed" in response.text and "0-removed" in response.text
