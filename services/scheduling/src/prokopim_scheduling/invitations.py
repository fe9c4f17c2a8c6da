"""The requester's invitation: the schedule mailed with an `.ics` (Bandung step 4), once.

Scheduling's durable receives scheduling's own events too (`handover_to` skips them); the
consumer hands its own `requester-notified` events here. The mail carries an iCalendar
invitation (METHOD:REQUEST, UID `<case id>@prokopim`, SEQUENCE 0) and goes out through
`prokopim_kit.effects.deliver_once` (record `scheduling_deliveries`), so a crash, a retry or
a redelivery never mails twice; `invitation-mailed` / `invitation-mail-failed` are stored
in the consumer's transaction with ids derived from the cause.

Rescheduling (another branch) calls `send_updated_invitation` from its reaction to its own
reschedule event, with SEQUENCE one higher than the last invitation's (`next_sequence`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr
from uuid import UUID

import aiosmtplib
import icalendar
from prokopim_events.contracts import (
    CaseRescheduled,
    Contract,
    InvitationMailed,
    InvitationMailFailed,
    RequesterNotified,
    parse,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_events.migrations import Migration, package_migrations
from prokopim_kit import effects
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.mail import refused_for_good
from prokopim_kit.runtime import Runtime
from prokopim_kit.status_links import status_url

from .config import Settings

TABLE = "scheduling_deliveries"
TARGET = "requester"


def scheduling_migrations() -> list[Migration]:
    """Scheduling's own tables: resources, bookings, agenda, feeds, milestones (sql/), then
    the delivery record of its mails."""
    return [
        *package_migrations("prokopim_scheduling", "scheduling"),
        Migration("scheduling/003_deliveries.sql", effects.deliveries_sql("scheduling")),
    ]


def settings_of(runtime: Runtime) -> Settings:
    """Scheduling's settings (a plain ServiceSettings, as some tests pass, gets defaults)."""
    settings = runtime.settings
    if isinstance(settings, Settings):
        return settings
    return Settings.model_validate(settings.model_dump())


def invitation(
    *,
    case_id: UUID,
    sequence: int,
    summary: str,
    starts_at: datetime,
    duration: timedelta,
    location: str,
    organizer: str,
    attendee: str,
    stamp: datetime,
    description: str = "",
) -> bytes:
    """An iCalendar REQUEST for the recording; the UID stays the case's on every update."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//prokopim//scheduling//ID")
    calendar.add("version", "2.0")
    calendar.add("method", "REQUEST")
    event = icalendar.Event()
    event.add("uid", f"{case_id}@prokopim")
    event.add("sequence", sequence)
    # in UTC: a fixed offset (WIB +07:00) has no TZID calendar clients know
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", starts_at.astimezone(UTC))
    event.add("dtend", (starts_at + duration).astimezone(UTC))
    event.add("summary", summary)
    event.add("location", location)
    if description:
        event.add("description", description)
    event.add("organizer", f"mailto:{organizer}")
    event.add("attendee", f"mailto:{attendee}", parameters={"ROLE": "REQ-PARTICIPANT"})
    calendar.add_component(event)
    ics: bytes = calendar.to_ical()
    return ics


async def on_own_event(runtime: Runtime, event: StoredEvent, conn: Connection) -> bool:
    """Carry out what one of scheduling's own events asks of the outside; True if it did."""
    settings = settings_of(runtime)
    if event.type == CaseRescheduled.TYPE:
        await _reinvite(runtime, settings, event, conn)
        return False  # the reschedule is the pipeline's business too (it opens no step)
    if event.type != RequesterNotified.TYPE:
        return False
    notified = parse(event.type, event.data)
    assert isinstance(notified, RequesterNotified)
    if notified.recipient.email is None:
        return True  # nobody to mail: the notice went by another channel
    from .service import CASES  # the service module imports this one's callers

    state, _ = await CASES.read(runtime, notified.case_id, conn)
    location = state.schedule.location if state.schedule else ""
    summary = state.case.activity_name if state.case else notified.message
    await send_invitation(
        runtime,
        settings,
        event,
        conn,
        case_id=notified.case_id,
        sequence=0,
        summary=summary,
        starts_at=notified.scheduled_at,
        location=location,
        attendee=str(notified.recipient.email),
        attendee_name=notified.recipient.name,
        message=notified.message,
    )
    return True


async def _reinvite(
    runtime: Runtime, settings: Settings, event: StoredEvent, conn: Connection
) -> None:
    """A rescheduled case whose requester was invited already gets the updated invitation
    (the same UID, SEQUENCE + 1), once; before step 4 the first invitation will carry it."""
    moved = parse(event.type, event.data)
    assert isinstance(moved, CaseRescheduled)
    if await next_sequence(runtime, moved.case_id, conn) == 0:
        return  # never invited: nothing to update
    from .service import CASES  # the service module imports this one's callers

    state, _ = await CASES.read(runtime, moved.case_id, conn)
    notified = [n for n in state.notifications if n.recipient.email is not None]
    if not notified:
        return
    recipient = notified[-1].recipient
    await send_updated_invitation(
        runtime,
        settings,
        event,
        conn,
        case_id=moved.case_id,
        starts_at=moved.starts_at,
        location=moved.location or (state.schedule.location if state.schedule else ""),
        summary=state.case.activity_name if state.case else "",
        attendee=str(recipient.email),
        attendee_name=recipient.name,
        message=f"Jadwal diubah / rescheduled: {moved.reason}",
    )


async def next_sequence(runtime: Runtime, case_id: UUID, conn: Connection) -> int:
    """The SEQUENCE an updated invitation carries: one more than the last one mailed."""
    from .service import stream_of

    events = await runtime.store.read_stream(stream_of(case_id), conn=conn)
    sent = [e.data.get("sequence") or 0 for e in events if e.type == InvitationMailed.TYPE]
    return max(sent, default=-1) + 1


async def send_updated_invitation(
    runtime: Runtime,
    settings: Settings,
    cause: StoredEvent,
    conn: Connection,
    *,
    case_id: UUID,
    starts_at: datetime,
    location: str,
    summary: str,
    attendee: str,
    attendee_name: str = "",
    message: str = "",
) -> None:
    """The reschedule hook: mail the requester the updated invitation (SEQUENCE + 1), once.

    Call it from the consumer's reaction to a stored reschedule event (`cause`), inside its
    transaction `conn`; the effect is keyed by the cause, so redeliveries mail nothing more.
    """
    sequence = await next_sequence(runtime, case_id, conn)
    await send_invitation(
        runtime,
        settings,
        cause,
        conn,
        case_id=case_id,
        sequence=sequence,
        summary=summary,
        starts_at=starts_at,
        location=location,
        attendee=attendee,
        attendee_name=attendee_name,
        message=message,
    )


async def send_invitation(
    runtime: Runtime,
    settings: Settings,
    cause: StoredEvent,
    conn: Connection,
    *,
    case_id: UUID,
    sequence: int,
    summary: str,
    starts_at: datetime,
    location: str,
    attendee: str,
    attendee_name: str,
    message: str,
) -> None:
    """Mail one invitation for `cause` once and store its outcome (in `conn`'s transaction)."""
    ics = invitation(
        case_id=case_id,
        sequence=sequence,
        summary=summary,
        starts_at=starts_at,
        duration=timedelta(minutes=settings.invitation_minutes),
        location=location,
        organizer=settings.smtp_sender,
        attendee=attendee,
        stamp=cause.occurred_at,
    )
    message_id = f"<{effects.effect_id(cause.event_id, TARGET)}@prokopim>"

    async def send(_: UUID) -> str:
        mail = EmailMessage()
        mail["From"] = settings.smtp_sender
        mail["To"] = formataddr((attendee_name, attendee))
        mail["Subject"] = f"Jadwal peliputan / recording schedule: {summary}"
        mail["Message-ID"] = message_id
        mail["X-Prokopim-Case"] = str(case_id)
        when = starts_at.isoformat(timespec="minutes")
        link = status_url(settings, case_id)
        status = f"\nStatus permohonan / request status: {link}\n" if link else ""
        mail.set_content(f"{message}\n\n{summary}\n{when}\n{location}\n{status}".lstrip())
        mail.add_attachment(
            ics,
            maintype="text",
            subtype="calendar",
            filename="undangan.ics",
            params={"method": "REQUEST"},
        )
        smtp = settings.smtp_session()
        async with smtp:
            await smtp.send_message(mail)
        return message_id

    outcome = await effects.deliver_once(
        runtime,
        table=TABLE,
        case_id=case_id,
        cause_event_id=cause.event_id,
        target=TARGET,
        send=send,
        permanent=refused_for_good,
        retryable=(aiosmtplib.SMTPException, OSError),
        attempts_allowed=settings.delivery_attempts,
    )
    if outcome.state == effects.RETRYING:
        raise effects.EffectPending(f"case {case_id}: the invitation is to be mailed again")
    head = {
        "case_id": case_id,
        "sop_id": cause.data["sop_id"],
        "sop_version": cause.data["sop_version"],
    }
    common = {**head, "cause_event_id": cause.event_id, "email": attendee}
    recorded: Contract
    if outcome.state == effects.SENT:
        recorded = InvitationMailed(
            **common, attempts=outcome.attempts, message_id=message_id, sequence=sequence
        )
    else:
        recorded = InvitationMailFailed(
            **common, attempts=outcome.attempts, error=outcome.error, sequence=sequence
        )
    from .service import stream_of

    stream = stream_of(case_id)
    version = len(await runtime.store.read_stream(stream, conn=conn))
    ids = [uuid.uuid5(cause.event_id, "invitation-outcome")]
    new = to_new_events([recorded], actor=cause.actor, cause=cause, event_ids=ids)
    await append(runtime.store, stream, version, new, case_id=case_id, conn=conn)
