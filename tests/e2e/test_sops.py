"""Both seed SOPs end to end: every service its own process, real PostgreSQL, NATS, SMTP, HTTP."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from typing import Any

import httpx
import icalendar
import pytest
from aiosmtpd.smtp import Envelope
from prokopim_cli.flows import CaseRun, run_case
from prokopim_cli.trail import case_history
from prokopim_sop import load_catalog

from .conftest import Mailbox, System, Website

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")
TANGERANG = load_catalog().get("tgr-58-2025")


def steps_of(history: list[Any]) -> list[tuple[str, Any]]:
    return [(e.type.removeprefix("prokopim."), e.data.get("step")) for e in history]


def assert_one_correlation(history: list[Any]) -> None:
    """Every event of a case carries the case's correlation id: its first event's id."""
    case_correlation = history[0].event_id
    strays = [
        (e.type, e.stream_id, str(e.correlation_id))
        for e in history
        if e.correlation_id != case_correlation
    ]
    assert strays == [], f"events outside the case's correlation {case_correlation}"


# mails to the requester: stored by the consumers after the mail went out, so they fall
# anywhere after their cause in the case's history
REQUESTER_MAILS = (
    "prokopim.scheduling.invitation-mailed.v1",
    "prokopim.publishing.handover-notice-mailed.v1",
)


async def mailed_history(database_url: str, case_id: str) -> list[Any]:
    """The case's history once both requester mails are recorded."""
    for _ in range(600):
        history = await case_history(database_url, case_id)
        if {e.type for e in history} >= set(REQUESTER_MAILS):
            return history
        await asyncio.sleep(0.1)
    raise AssertionError(f"requester mails never recorded: {steps_of(history)}")


STATUS_LINK = re.compile(r"Status permohonan / request status: (\S+)")


def text_of(envelope: Envelope) -> str:
    """The plain-text body of a received mail."""
    mail = message_from_bytes(envelope.original_content or b"", policy=policy.default)
    assert isinstance(mail, EmailMessage)
    body = mail.get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


def calendar_in(part: Message) -> icalendar.Calendar:
    """The calendar attached as this MIME part."""
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return icalendar.Calendar.from_ical(payload)


async def test_bandung_with_a_rejection_at_each_review_level(
    system: System, mailbox: tuple[Mailbox, int]
) -> None:
    run = await run_case(
        system.driver, BANDUNG, activity="Peresmian Taman Kota", reject={8: 1, 9: 1}
    )
    history = await mailed_history(system.database_url, run.case_id)
    mails = [e for e in history if e.type in REQUESTER_MAILS]
    assert sorted(e.type for e in mails) == sorted(REQUESTER_MAILS)  # once each
    box, _ = mailbox
    assert box.recipients() == ["req@example.org", "req@example.org"]
    calendars = [
        calendar_in(part)
        for m in box.messages
        for part in message_from_bytes(m.original_content or b"", policy=policy.default).walk()
        if part.get_content_type() == "text/calendar"
    ]
    (calendar,) = calendars
    (invite,) = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST" and invite.decoded("SEQUENCE") == 0
    assert str(invite["UID"]) == f"{run.case_id}@prokopim"
    # both mails (scheduling's invitation, publishing's notice) link the same status page,
    # which scheduling serves: the case ended, so nothing is expected any more
    links = {link for m in box.messages for link in STATUS_LINK.findall(text_of(m))}
    (link,) = links
    assert link.startswith(f"{system.running.urls['scheduling']}/status/{run.case_id}/")
    async with httpx.AsyncClient() as http:
        page = await http.get(link)
    assert page.status_code == 200, page.text
    assert "Rekaman diserahkan kepada pemohon" in page.text
    assert "Semua tahapan telah selesai." in page.text
    history = [e for e in history if e.type not in REQUESTER_MAILS]

    assert steps_of(history) == [
        ("intake.request-received.v1", 1),
        ("intake.disposition-given.v1", 2),
        ("scheduling.step-opened.v1", 3),
        ("scheduling.schedule-coordinated.v1", 3),
        ("scheduling.resources-booked.v1", None),
        ("scheduling.requester-notified.v1", 4),
        ("scheduling.staff-assigned.v1", 5),
        ("production.step-opened.v1", 6),
        ("production.equipment-prepared.v1", 6),
        ("production.recording-made.v1", 6),
        ("production.draft-produced.v1", 7),
        ("review.step-opened.v1", 8),
        ("review.draft-rejected.v1", 8),
        ("production.step-opened.v1", 7),
        ("production.draft-produced.v1", 7),
        ("review.step-opened.v1", 8),
        ("review.draft-approved.v1", 8),
        ("review.draft-rejected.v1", 9),
        ("review.draft-approved.v1", 8),
        ("review.draft-approved.v1", 9),
        ("publishing.step-opened.v1", 10),
        ("publishing.recording-handed-over.v1", 10),
        ("publishing.recording-archived.v1", 10),
    ]
    by_type = {e.type.split(".")[2]: e for e in history}
    assert by_type["draft-rejected"].data["reason"]
    assert [e.data["draft"]["version"] for e in history if "draft-produced" in e.type] == [1, 2]
    assert [e.actor.role for e in history if "draft-rejected" in e.type] == [
        "koordinator-kpp",
        "ka-bagian",
    ]
    booked = sorted(b["label"] for b in by_type["resources-booked"].data["bookings"])
    assert booked == sorted(["Budi (demo)", *(f"{i.id} (demo)" for i in BANDUNG.step(6).inputs)])
    archive_name = by_type["recording-archived"].data["archive_name"]
    assert "peresmian-taman-kota" in archive_name
    assert len({e.data["case_id"] for e in history}) == 1
    assert_one_correlation(history)

    final = await system.driver.case_view("publishing", run.case_id, "ka-bagian")
    assert final is not None and final["awaiting_step"] is None

    # Requester contacts only for the roles of requester steps (issue 12, item 5), in every
    # service's view of the case: the editor sees the requester's name, not the address.
    for service in ("intake", "scheduling", "production", "review", "publishing"):
        hidden = await system.driver.case_view(service, run.case_id, "penata-liputan")
        assert hidden is not None and "Dinas Komunikasi" in str(hidden), service
        assert "req@example.org" not in str(hidden), service
    shown = await system.driver.case_view("scheduling", run.case_id, "koordinator-kpp")
    assert "req@example.org" in str(shown)


async def test_tangerang_with_two_rejections_publishes_and_emails_active_outlets(
    system: System, mailbox: tuple[Mailbox, int], website: Website
) -> None:
    head = system.driver.token("kepala-bagian")
    headers = {"Authorization": f"Bearer {head}"}
    base = system.running.urls["publishing"]
    async with httpx.AsyncClient(base_url=base, headers=headers) as http:
        outlets = []
        for name in ("Tangerang Pos", "Radar Banten", "Warta Kota"):
            email = f"redaksi@{name.lower().replace(' ', '')}.example"
            response = await http.post("/outlets", json={"name": name, "email": email})
            assert response.status_code == 201, response.text
            outlets.append(response.json())
        deactivated = await http.post(f"/outlets/{outlets[2]['outlet_id']}/deactivate")
        assert deactivated.status_code == 200, deactivated.text

    run: CaseRun = await run_case(
        system.driver, TANGERANG, activity="Rapat Paripurna", reject={5: 1, 6: 1}
    )
    history = await case_history(system.database_url, run.case_id)

    assert steps_of(history) == [
        ("intake.request-received.v1", 1),
        ("intake.disposition-given.v1", 2),
        ("scheduling.step-opened.v1", 3),
        ("scheduling.staff-assigned.v1", 3),
        ("scheduling.resources-booked.v1", None),
        ("production.step-opened.v1", 4),
        ("production.equipment-prepared.v1", 4),
        ("production.draft-produced.v1", 4),
        ("review.step-opened.v1", 5),
        ("review.draft-rejected.v1", 5),
        ("production.step-opened.v1", 4),
        ("production.draft-produced.v1", 4),
        ("review.step-opened.v1", 5),
        ("review.draft-approved.v1", 5),
        ("review.draft-rejected.v1", 6),
        ("review.draft-approved.v1", 5),
        ("review.draft-approved.v1", 6),
        ("publishing.step-opened.v1", 7),
        ("publishing.publication-ordered.v1", 7),
        ("publishing.outlet-mailed.v1", None),
        ("publishing.outlet-mailed.v1", None),
        ("publishing.news-published.v1", 7),
    ]
    assert len(website.posts) == 1
    assert website.posts[0]["case_id"] == run.case_id
    box, _ = mailbox
    assert box.recipients() == sorted(o["email"] for o in outlets[:2])
    assert_one_correlation(history)
    published = history[-1].data
    assert published["website_url"].startswith("https://kota.example/berita/")
    assert sorted(published["emailed_outlets"]) == sorted(o["outlet_id"] for o in outlets[:2])
