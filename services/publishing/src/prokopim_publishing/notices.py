"""The requester's hand-over notice (Bandung's last step), mailed once.

Publishing's consumer hands its own `recording-handed-over` events here: the notice goes
through `prokopim_kit.effects.deliver_once` (record `publishing_deliveries`, target
`requester`, Message-ID from the event), then `handover-notice-mailed` /
`handover-notice-mail-failed` is stored in the consumer's transaction with a derived id.
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import formataddr
from uuid import UUID

from prokopim_events.contracts import (
    Contract,
    HandoverNoticeMailed,
    HandoverNoticeMailFailed,
    RecordingHandedOver,
    parse,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit import effects
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.runtime import Runtime
from prokopim_kit.status_links import status_url

from .mailer import MailRefused
from .ports import Integrations

TABLE = "publishing_deliveries"
TARGET = "requester"


def notice(
    handed: RecordingHandedOver, sender: str, message_id: str, status_link: str | None = None
) -> EmailMessage:
    """The hand-over notice to the requester (with the link to the case's status page)."""
    recipient = handed.recipient
    assert recipient.email is not None
    message = EmailMessage()
    message["From"] = sender
    message["To"] = formataddr((recipient.name, str(recipient.email)))
    message["Subject"] = f"Serah terima rekaman / recording handed over: {handed.archive_name}"
    message["Message-ID"] = message_id
    message["X-Prokopim-Case"] = str(handed.case_id)
    message.set_content(
        f"Yth. {recipient.name} ({recipient.agency}),\n\n"
        f"Rekaman kegiatan telah diserahterimakan (draft versi {handed.draft_version}).\n"
        f"The recording was handed over (draft version {handed.draft_version}).\n\n"
        f"Arsip / archive: {handed.archive_name}\n"
        + (f"\nStatus permohonan / request status: {status_link}\n" if status_link else "")
    )
    return message


async def on_handover(
    runtime: Runtime,
    integrations: Integrations,
    attempts_allowed: int,
    event: StoredEvent,
    conn: Connection,
) -> None:
    """Mail the requester the hand-over notice once; store how it ended."""
    handed = parse(event.type, event.data)
    assert isinstance(handed, RecordingHandedOver)
    email = handed.recipient.email
    if email is None:
        return  # the requester left no address: the hand-over happens in person
    message_id = f"<{effects.effect_id(event.event_id, TARGET)}@prokopim>"

    async def send(_: UUID) -> str:
        link = status_url(runtime.settings, handed.case_id)
        mail = notice(handed, integrations.mailer.sender, message_id, link)
        await integrations.mailer.send_one(mail)
        return message_id

    outcome = await effects.deliver_once(
        runtime,
        table=TABLE,
        case_id=handed.case_id,
        cause_event_id=event.event_id,
        target=TARGET,
        send=send,
        permanent=lambda error: isinstance(error, MailRefused) and error.permanent,
        retryable=(MailRefused,),
        attempts_allowed=attempts_allowed,
    )
    if outcome.state == effects.RETRYING:
        raise effects.EffectPending(f"case {handed.case_id}: the notice is to be mailed again")
    common = {
        "case_id": handed.case_id,
        "sop_id": handed.sop_id,
        "sop_version": handed.sop_version,
        "cause_event_id": event.event_id,
        "email": email,
        "attempts": outcome.attempts,
    }
    recorded: Contract
    if outcome.state == effects.SENT:
        recorded = HandoverNoticeMailed(**common, message_id=message_id)
    else:
        recorded = HandoverNoticeMailFailed(**common, error=outcome.error)
    from .service import stream_of

    stream = stream_of(handed.case_id)
    version = len(await runtime.store.read_stream(stream, conn=conn))
    ids = [uuid.uuid5(event.event_id, "handover-notice-outcome")]
    new = to_new_events([recorded], actor=event.actor, cause=event, event_ids=ids)
    await append(runtime.store, stream, version, new, case_id=handed.case_id, conn=conn)
