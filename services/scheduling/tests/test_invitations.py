"""Step 4 mails the requester the schedule with an `.ics` invitation, once, through a real
SMTP server; a redelivery mails nothing more; the reschedule hook sends SEQUENCE + 1."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import icalendar
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from nats.aio.client import Client as NatsClient
from prokopim_events.db import create_pool
from prokopim_events.relay import Relay
from prokopim_events.store import EventStore
from prokopim_events.topology import Topology
from prokopim_scheduling import invitations
from prokopim_scheduling.app import create_app
from prokopim_scheduling.config import Settings
from prokopim_testing.ports import free_port

from .test_service import (
    BANDUNG,
    BDG_INPUTS,
    TYPE,
    WHEN,
    Scheduling,
    eventually,
    opened_case,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(90)]


@dataclass
class Inbox:
    mails: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.mails.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


@pytest.fixture
async def service(
    database_url: str,
    infra: Any,
    topology: Topology,
    nats_client: NatsClient,
    inbox: tuple[Inbox, int],
) -> AsyncIterator[Scheduling]:
    secret = secrets.token_urlsafe(40)
    settings = Settings(
        database_url=database_url,
        nats_url=infra.nats_url,
        prokopim_namespace=topology.namespace,
        jwt_secret=secret,
        smtp_port=inbox[1],
        smtp_sender="dokpim@bandung.example",
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


def calendar_of(message: EmailMessage) -> icalendar.Calendar:
    (part,) = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return icalendar.Calendar.from_ical(payload)


async def test_step_4_mails_the_requester_one_parseable_invitation(
    service: Scheduling, inbox: tuple[Inbox, int]
) -> None:
    box, _ = inbox
    case_id, _, _ = await opened_case(service, BANDUNG)
    schedule = {"scheduled_at": WHEN.isoformat(), "location": "Balai Kota", "inputs": BDG_INPUTS}
    response = await service.post(case_id, "schedule", "ka-tim-dokpim", schedule)
    assert response.status_code == 200, response.text
    response = await service.post(
        case_id, "notifications", "koordinator-kpp", {"channel": "email", "inputs": BDG_INPUTS}
    )
    assert response.status_code == 200, response.text

    async def mailed() -> Any:
        events = await service.stream(case_id)
        return [e for e in events if e.type == TYPE.format("invitation-mailed")]

    (recorded,) = await eventually(mailed)
    ((recipients, message),) = box.mails
    assert recipients == ["req@example.org"]
    assert message["Message-ID"] == recorded.data["message_id"]
    calendar = calendar_of(message)
    assert str(calendar["METHOD"]) == "REQUEST"
    (event,) = calendar.walk("VEVENT")
    assert str(event["UID"]) == f"{case_id}@prokopim"
    assert event.decoded("SEQUENCE") == 0 and recorded.data["sequence"] == 0
    assert event.decoded("DTSTART") == WHEN
    assert str(event["LOCATION"]) == "Balai Kota"
    assert str(event["ATTENDEE"]) == "mailto:req@example.org"
    # the mail links the requester's status page, which opens without a login
    link = await service.post(case_id, "status-link", "ka-tim-dokpim", {})
    assert link.status_code == 200, link.text
    body = message.get_body(("plain",))
    assert body is not None
    expected = f"Status permohonan / request status: http://127.0.0.1:8002{link.json()['path']}"
    assert expected in body.get_content()

    # the notification delivered again (past the consumer's dedupe): nothing more is mailed
    events = await service.stream(case_id)
    notified = next(e for e in events if e.type == TYPE.format("requester-notified"))
    runtime = service.runtime
    async with runtime.pool.acquire() as conn, conn.transaction():
        await invitations.on_own_event(runtime, notified, conn)
    assert len(box.mails) == 1
    assert len(await service.stream(case_id)) == len(events)

    # the reschedule hook: an updated invitation, SEQUENCE 1, same UID, once per cause
    cause = next(e for e in events if e.type == TYPE.format("schedule-coordinated"))
    later = WHEN.replace(hour=13)
    for _ in range(2):
        async with runtime.pool.acquire() as conn, conn.transaction():
            await invitations.send_updated_invitation(
                runtime,
                invitations.settings_of(runtime),
                cause,
                conn,
                case_id=case_id,
                starts_at=later,
                location="Pendopo",
                summary="Peresmian Taman Kota",
                attendee="req@example.org",
            )
    assert len(box.mails) == 2
    (updated,) = calendar_of(box.mails[1][1]).walk("VEVENT")
    assert str(updated["UID"]) == f"{case_id}@prokopim" and updated.decoded("SEQUENCE") == 1
    assert updated.decoded("DTSTART") == later


async def test_a_reschedule_mails_the_invited_requester_one_updated_invitation(
    service: Scheduling, inbox: tuple[Inbox, int]
) -> None:
    box, _ = inbox
    case_id, _, _ = await opened_case(service, BANDUNG)
    schedule = {"scheduled_at": WHEN.isoformat(), "location": "Balai Kota", "inputs": BDG_INPUTS}
    assert (await service.post(case_id, "schedule", "ka-tim-dokpim", schedule)).status_code == 200
    notice = {"channel": "email", "inputs": BDG_INPUTS}
    assert (await service.post(case_id, "notifications", "koordinator-kpp", notice)).is_success

    async def mailed(count: int) -> Any:
        events = await service.stream(case_id)
        sent = [e for e in events if e.type == TYPE.format("invitation-mailed")]
        return sent if len(sent) == count else None

    await eventually(lambda: mailed(1))
    later = WHEN.replace(hour=13)
    moved = await service.post(
        case_id,
        "reschedule",
        "ka-tim-dokpim",
        {"starts_at": later.isoformat(), "reason": "Wali Kota ke Jakarta"},
    )
    assert moved.status_code == 200, moved.text
    first, second = await eventually(lambda: mailed(2))
    assert (first.data["sequence"], second.data["sequence"]) == (0, 1)
    assert len(box.mails) == 2
    (updated,) = calendar_of(box.mails[1][1]).walk("VEVENT")
    assert str(updated["UID"]) == f"{case_id}@prokopim" and updated.decoded("SEQUENCE") == 1
    assert updated.decoded("DTSTART") == later
    body = box.mails[1][1].get_body(("plain",))
    assert body is not None
    assert "Wali Kota ke Jakarta" in body.get_content()
