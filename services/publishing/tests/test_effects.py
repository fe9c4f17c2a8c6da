"""Publication orders are carried out exactly once per effect, against a real SMTP server
and a real HTTP endpoint: a crash between the effects and their record, a client retry, a
redelivery of the order, and one outlet's server answering 550."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from nats.aio.client import Client as NatsClient
from prokopim_devstack.infra import Infra
from prokopim_events.contracts import (
    NewsPublished,
    OutletMailed,
    OutletMailFailed,
    PublicationOrdered,
    PublishingStepOpened,
)
from prokopim_events.topology import Topology
from prokopim_kit import commands
from prokopim_kit.status_links import link_key, status_token
from prokopim_publishing import effects, notices

from .conftest import Inbox, SmtpServer, WebsiteStub
from .test_service import (
    BANDUNG,
    HANDOVER_INPUTS,
    PUBLISH_INPUTS,
    TANGERANG,
    Harness,
    eventually,
    register_outlets,
    running,
)

pytestmark = pytest.mark.integration
REFUSED = "gone@media.example"


class RefusingInbox(Inbox):
    """Accepts every recipient but one, which it refuses for good (550)."""

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address == REFUSED:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
async def refusing_smtp(smtp_down: SmtpServer) -> AsyncIterator[SmtpServer]:
    smtp_down.inbox = RefusingInbox()
    await smtp_down.start()
    yield smtp_down


@pytest.fixture
async def svc(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    tmp_path: Path,
    website: WebsiteStub,
    refusing_smtp: SmtpServer,
) -> AsyncIterator[Harness]:
    async with running(
        infra,
        database_url,
        topology,
        nats_client,
        tmp_path / "arsip",
        website_url=website.url,
        smtp_port=refusing_smtp.port,
    ) as harness:
        yield harness


def mails_per_outlet(server: SmtpServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for mail in server.inbox.mails:
        for address in mail.recipients:
            counts[address] = counts.get(address, 0) + 1
    return counts


async def order(svc: Harness, activity: str, *emails: str) -> tuple[Any, list[str]]:
    outlets = await register_outlets(svc, *emails)
    case_id = await svc.approve(TANGERANG.id, 6, activity)
    await svc.opened(case_id)
    response = await svc.post(
        f"/cases/{case_id}/publication", "tim-liputan", {"inputs": PUBLISH_INPUTS}
    )
    assert response.status_code == 202, response.text
    return case_id, outlets


async def test_one_outlet_answering_550_fails_alone_and_the_others_get_one_mail(
    svc: Harness, website: WebsiteStub, refusing_smtp: SmtpServer
) -> None:
    case_id, (a, gone, c) = await order(
        svc, "Rapat Paripurna", "a@media.example", REFUSED, "c@media.example"
    )
    view = await svc.published(case_id)

    assert mails_per_outlet(refusing_smtp) == {"a@media.example": 1, "c@media.example": 1}
    assert len(website.posts) == 1
    published = view["publication"]
    assert sorted(published["emailed_outlets"]) == sorted([a, c])
    assert published["failed_outlets"] == [gone]
    states = {d["target"]: d for d in view["deliveries"]}
    failed = states[f"outlet:{gone}"]
    assert failed["state"] == "failed" and failed["attempts"] == 1
    assert "550" in failed["last_error"]
    stored = await svc.events(f"publishing-{case_id}")
    types = [e.type for e in stored]
    assert types.count(OutletMailed.TYPE) == 2 and types.count(OutletMailFailed.TYPE) == 1
    (failure,) = [e for e in stored if e.type == OutletMailFailed.TYPE]
    assert failure.data["outlet_id"] == gone and "550" in failure.data["error"]


async def test_a_crash_between_the_effects_and_their_record_sends_nothing_twice(
    svc: Harness,
    website: WebsiteStub,
    refusing_smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    crashes: list[str] = []
    real_append = commands.append  # what effects.py imported: the one patched below

    async def crash_once(*args: Any, **kwargs: Any) -> Any:
        if not crashes:  # the process dies after mailing, before the events are stored
            crashes.append("crashed")
            raise RuntimeError("killed between effect and record")
        return await real_append(*args, **kwargs)

    monkeypatch.setattr(effects, "append", crash_once)
    case_id, _ = await order(svc, "Pelantikan Pejabat", "a@media.example", "b@media.example")
    view = await svc.published(case_id)  # the order was redelivered and recorded

    assert crashes == ["crashed"]
    assert mails_per_outlet(refusing_smtp) == {"a@media.example": 1, "b@media.example": 1}
    assert len(website.posts) == 1
    assert {d["attempts"] for d in view["deliveries"]} == {1}
    types = [e.type for e in await svc.events(f"publishing-{case_id}")]
    assert types == [
        PublishingStepOpened.TYPE,
        PublicationOrdered.TYPE,
        OutletMailed.TYPE,
        OutletMailed.TYPE,
        NewsPublished.TYPE,
    ]


async def test_a_client_retry_and_a_redelivery_send_nothing_again(
    svc: Harness, website: WebsiteStub, refusing_smtp: SmtpServer
) -> None:
    case_id, _ = await order(svc, "Festival Cisadane", "a@media.example", "b@media.example")
    path = f"/cases/{case_id}/publication"
    retried = await svc.post(path, "tim-liputan", {"inputs": PUBLISH_INPUTS})  # client retry
    assert retried.status_code == 202
    await svc.published(case_id)
    before = await svc.events(f"publishing-{case_id}")
    ordered = next(e for e in before if e.type == PublicationOrdered.TYPE)
    assert retried.json()["outlets"] == ordered.data["outlets"]

    # the order delivered again, past the consumer's dedupe: nothing is sent or stored
    runtime = svc.app.state.runtime
    integrations = svc.app.state.integrations
    async with runtime.pool.acquire() as conn, conn.transaction():
        await effects.on_order(runtime, integrations, 3, ordered, conn)
    again = await svc.post(path, "tim-liputan", {"inputs": PUBLISH_INPUTS})
    assert again.status_code == 202

    assert mails_per_outlet(refusing_smtp) == {"a@media.example": 1, "b@media.example": 1}
    assert len(website.posts) == 1
    assert [e.event_id for e in await svc.events(f"publishing-{case_id}")] == [
        e.event_id for e in before
    ]
    assert [e.type for e in before].count(PublicationOrdered.TYPE) == 1


async def test_the_hand_over_notice_is_mailed_to_the_requester_once(
    svc: Harness, refusing_smtp: SmtpServer
) -> None:
    case_id = await svc.approve(BANDUNG.id, 9, "Peresmian Taman Kota", "req@dpkp.example")
    await svc.opened(case_id)
    response = await svc.post(
        f"/cases/{case_id}/handover", "ka-bagian", {"inputs": HANDOVER_INPUTS}
    )
    assert response.status_code == 200, response.text

    async def mailed() -> Any:
        events = await svc.events(f"publishing-{case_id}")
        kind = "prokopim.publishing.handover-notice-mailed.v1"
        return [e for e in events if e.type == kind] or None

    (recorded,) = await eventually(mailed)
    (mail,) = refusing_smtp.inbox.mails
    assert mail.recipients == ["req@dpkp.example"]
    assert mail.message["Message-ID"] == recorded.data["message_id"]
    assert "2026-03-14_peresmian-taman-kota" in mail.message["Subject"]
    # the link to the requester's status page, under the key scheduling checks it with
    key = link_key(svc.app.state.runtime.settings)
    assert key is not None
    body = mail.message.get_body(("plain",))
    assert body is not None
    link = f"http://127.0.0.1:8002/status/{case_id}/{status_token(key, UUID(str(case_id)))}"
    assert f"Status permohonan / request status: {link}" in body.get_content()

    events = await svc.events(f"publishing-{case_id}")
    handed = next(e for e in events if e.type == "prokopim.publishing.recording-handed-over.v1")
    runtime = svc.app.state.runtime
    async with runtime.pool.acquire() as conn, conn.transaction():  # a redelivery
        await notices.on_handover(runtime, svc.app.state.integrations, 3, handed, conn)
    assert len(refusing_smtp.inbox.mails) == 1
    assert len(await svc.events(f"publishing-{case_id}")) == len(events)
