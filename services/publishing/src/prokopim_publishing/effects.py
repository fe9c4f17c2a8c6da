"""Publication orders carried out exactly once: publishing's consumer, its own order events.

`POST /cases/{id}/publication` only records `publication-ordered`. Publishing's durable
receives every event of the stream, its own included; `on_order` takes up the orders:

- each effect (the website post, one mail per outlet) goes through
  `prokopim_kit.effects.deliver_once`: a row in `publishing_deliveries` keyed by
  uuid5(order event id, target), which is also the website's `Idempotency-Key` and the
  mail's Message-ID, committed on its own connection right after the outside system
  answered: a crash, a client retry or a redelivery of the order finds `sent` and does not
  post or mail again;
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
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.contracts import OrderedOutlet, PublicationOrdered, parse
from prokopim_events.db import Connection
from prokopim_events.envelope import StoredEvent
from prokopim_kit import effects as kit_effects
from prokopim_kit.commands import append, to_new_events
from prokopim_kit.handover import routed
from prokopim_kit.runtime import Runtime

from .domain import Delivery, RecordOutcome, decide_outcome, release_of
from .errors import IntegrationFailed
from .mailer import MailRefused, press_release_message
from .ports import Integrations

log = logging.getLogger(__name__)
WEBSITE = "website"
TABLE = "publishing_deliveries"


@dataclass(frozen=True)
class Record:
    """One effect's row of `publishing_deliveries`."""

    effect_id: UUID
    target: str
    state: str
    attempts: int
    last_error: str | None
    result: str | None


effect_id = kit_effects.effect_id  # uuid5(order event id, target)


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
        raise kit_effects.EffectPending(
            f"case {order.case_id}: some outlets are to be mailed again"
        )
    command = RecordOutcome(event.event_id, website, tuple(outcome))
    decided = routed(decide_outcome(loaded.state, loaded.sop, event.actor, command), loaded.sop)
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
    async def post(key: UUID) -> str:
        return await integrations.website.post(release_of(order), str(key))

    outcome = await kit_effects.deliver_once(
        runtime,
        table=TABLE,
        case_id=order.case_id,
        cause_event_id=event.event_id,
        target=WEBSITE,
        send=post,
        permanent=lambda _: False,  # the news must get out: retried until dead-lettered
        retryable=(IntegrationFailed,),
        attempts_allowed=2**31 - 1,
    )
    if outcome.state != kit_effects.SENT or outcome.result is None:
        raise kit_effects.EffectPending(f"case {order.case_id}: website: {outcome.error}")
    return outcome.result


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
    mid = message_id(event.event_id, outlet.outlet_id)

    async def send(_: UUID) -> str:
        sender = integrations.mailer.sender
        mail = press_release_message(release_of(order), website_url, sender, outlet, mid)
        await integrations.mailer.send_one(mail)
        return mid

    outcome = await kit_effects.deliver_once(
        runtime,
        table=TABLE,
        case_id=order.case_id,
        cause_event_id=event.event_id,
        target=f"outlet:{outlet.outlet_id}",
        send=send,
        permanent=lambda error: isinstance(error, MailRefused) and error.permanent,
        retryable=(MailRefused,),
        attempts_allowed=attempts_allowed,
    )
    if outcome.state == kit_effects.RETRYING:
        log.info("case %s: %s to be retried: %s", order.case_id, outlet.email, outcome.error)
        return None
    if outcome.state == kit_effects.FAILED:
        log.warning("case %s: %s failed: %s", order.case_id, outlet.email, outcome.error)
        return Delivery(outlet, outcome.attempts, error=outcome.error)
    return Delivery(outlet, outcome.attempts, message_id=outcome.result)
