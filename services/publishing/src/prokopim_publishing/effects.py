"""Publication orders carried out exactly once: publishing's consumer, its own order events.

`POST /cases/{id}/publication` only records `publication-ordered`. Publishing's durable
receives every event of the stream, its own included; `on_order` takes up the orders:

- each effect (the website post, one mail per outlet) has a row in `publishing_deliveries`,
  keyed by uuid5(order event id, target), which is also the website's `Idempotency-Key` and
  the mail's Message-ID. The row is committed on its own connection right after the outside
  system answered, before anything else happens: a crash, a client retry or a redelivery of
  the order finds `sent` and does not post or mail again;
- an outlet whose server refuses for good (5xx, e.g. 550) is `failed` at once; an
  unreachable one is `retrying` and the order is redelivered (consumer backoff) until
  `DELIVERY_ATTEMPTS`, then `failed`. Outlets already `sent` are never mailed again;
- when every outlet is `sent` or `failed` and the website answered, `outlet-mailed` /
  `outlet-mail-failed` per outlet and `news-published` are appended in the consumer's
  transaction with ids derived from the order, so they are stored once.

The one window left is between an outside system accepting and the row's commit (a crash
there re-sends with the same key / Message-ID, which receivers use to drop the repeat).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.contracts import OrderedOutlet, PublicationOrdered, parse
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.runtime import Runtime

from .domain import Delivery, RecordOutcome, decide_outcome, release_of
from .errors import IntegrationFailed
from .mailer import MailRefused, press_release_message
from .ports import Integrations

log = logging.getLogger(__name__)
WEBSITE = "website"


class DeliveriesPending(Exception):
    """Some outlet (or the website) is to be tried again: the order is redelivered later."""


@dataclass(frozen=True)
class Record:
    """One effect's row of `publishing_deliveries`."""

    effect_id: UUID
    target: str
    state: str
    attempts: int
    last_error: str | None
    result: str | None


def effect_id(order_event_id: UUID, target: str) -> UUID:
    """The stable id of one effect of an order: its idempotency key and Message-ID."""
    return uuid.uuid5(order_event_id, target)


def message_id(order_event_id: UUID, outlet_id: UUID) -> str:
    """The Message-ID of an order's mail to one outlet, the same on every attempt."""
    return f"<{effect_id(order_event_id, f'outlet:{outlet_id}')}@prokopim>"


async def deliveries(runtime: Runtime, case_id: UUID) -> list[Record]:
    """Every effect recorded for a case (the view shows each outlet's state)."""
    async with runtime.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT effect_id, target, state, attempts, last_error, result"
            " FROM publishing_deliveries WHERE case_id = $1 ORDER BY target",
            case_id,
        )
    return [Record(**dict(row)) for row in rows]


async def on_order(
    runtime: Runtime,
    integrations: Integrations,
    attempts_allowed: int,
    event: StoredEvent,
    conn: Connection,
) -> None:
    """Carry out one publication order (its own event), exactly once per effect."""
    order = parse(event.type, event.data)
    assert isinstance(order, PublicationOrdered)
    from .service import CASES  # the service module imports this one's callers

    # One carrier of an order at a time (a redelivery racing a slow first delivery).
    digest = hashlib.blake2b(event.event_id.bytes, digest_size=8).digest()
    await conn.execute(
        "SELECT pg_advisory_xact_lock($1)", int.from_bytes(digest, "big", signed=True)
    )
    loaded = await CASES.load(runtime, order.case_id, conn)
    if loaded.state.publication is not None:
        return  # recorded already
    website = await _website(runtime, integrations, event, order)
    outcome: list[Delivery] = []
    pending = False
    for outlet in order.outlets:
        delivery = await _mail(
            runtime, integrations, attempts_allowed, event, order, outlet, website
        )
        if delivery is None:
            pending = True
        else:
            outcome.append(delivery)
    if pending:
        raise DeliveriesPending(f"case {order.case_id}: some outlets are to be mailed again")
    command = RecordOutcome(event.event_id, website, tuple(outcome))
    decided = decide_outcome(loaded.state, loaded.sop, event.actor, command)
    if not decided:
        return
    ids = [effect_id(event.event_id, f"event:{i}") for i in range(len(decided))]
    new = to_new_events(decided, actor=event.actor, cause=event, event_ids=ids)
    stream = CASES.stream_of(order.case_id)
    await append(runtime.store, stream, loaded.version, new, case_id=order.case_id, conn=conn)
    log.info("case %s: published at %s, %d outlet(s)", order.case_id, website, len(outcome))


async def _website(
    runtime: Runtime, integrations: Integrations, event: StoredEvent, order: PublicationOrdered
) -> str:
    key = effect_id(event.event_id, WEBSITE)
    record = await _record(runtime, key)
    if record is not None and record.state == "sent" and record.result:
        return record.result
    attempts = await _begin(runtime, key, order, event.event_id, WEBSITE)
    try:
        url = await integrations.website.post(release_of(order), str(key))
    except IntegrationFailed as error:
        await _finish(
            runtime, key, "retrying", attempts, error.args[0] if error.args else str(error)
        )
        raise
    await _finish(runtime, key, "sent", attempts, None, url)
    return url


async def _mail(
    runtime: Runtime,
    integrations: Integrations,
    attempts_allowed: int,
    event: StoredEvent,
    order: PublicationOrdered,
    outlet: OrderedOutlet,
    website_url: str,
) -> Delivery | None:
    """Mail one outlet unless recorded; its Delivery when settled, None to try again later."""
    target = f"outlet:{outlet.outlet_id}"
    key = effect_id(event.event_id, target)
    record = await _record(runtime, key)
    if record is not None and record.state == "sent":
        return Delivery(outlet, record.attempts, message_id=record.result)
    if record is not None and record.state == "failed":
        return Delivery(outlet, record.attempts, error=record.last_error)
    attempts = await _begin(runtime, key, order, event.event_id, target)
    mid = message_id(event.event_id, outlet.outlet_id)
    mail = press_release_message(
        release_of(order), website_url, integrations.mailer.sender, outlet, mid
    )
    try:
        await integrations.mailer.send_one(mail)
    except MailRefused as error:
        reason = str(error.body().get("reason", error))
        if error.permanent or attempts >= attempts_allowed:
            await _finish(runtime, key, "failed", attempts, reason)
            log.warning("case %s: %s failed for good: %s", order.case_id, target, reason)
            return Delivery(outlet, attempts, error=reason)
        await _finish(runtime, key, "retrying", attempts, reason)
        log.info("case %s: %s to be retried: %s", order.case_id, target, reason)
        return None
    await _finish(runtime, key, "sent", attempts, None, mid)
    return Delivery(outlet, attempts, message_id=mid)


async def _record(runtime: Runtime, key: UUID) -> Record | None:
    async with runtime.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT effect_id, target, state, attempts, last_error, result"
            " FROM publishing_deliveries WHERE effect_id = $1",
            key,
        )
    return Record(**dict(row)) if row is not None else None


async def _begin(
    runtime: Runtime, key: UUID, order: PublicationOrdered, order_event_id: UUID, target: str
) -> int:
    """Count one more attempt (committed before the outside call); return its number."""
    async with runtime.pool.acquire() as conn:
        attempts: int = await conn.fetchval(
            "INSERT INTO publishing_deliveries"
            " (effect_id, case_id, cause_event_id, target, state, attempts)"
            " VALUES ($1, $2, $3, $4, 'sending', 1)"
            " ON CONFLICT (effect_id) DO UPDATE SET state = 'sending',"
            " attempts = publishing_deliveries.attempts + 1, updated_at = now()"
            " RETURNING attempts",
            key,
            order.case_id,
            order_event_id,
            target,
        )
    return attempts


async def _finish(
    runtime: Runtime,
    key: UUID,
    state: str,
    attempts: int,
    error: str | None,
    result: str | None = None,
) -> None:
    async with runtime.pool.acquire() as conn:
        await conn.execute(
            "UPDATE publishing_deliveries SET state = $2, attempts = $3, last_error = $4,"
            " result = $5, updated_at = now() WHERE effect_id = $1",
            key,
            state,
            attempts,
            error,
            result,
        )
