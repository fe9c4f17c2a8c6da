"""Publishing's commands and reactions, through the one pipeline (`prokopim_kit.pipeline`).

Publishing only records the order (`publication-ordered`); publishing's consumer posts and
mails it (`effects`). Archiving still files before recording, so a case takes one such
command at a time (a PostgreSQL advisory lock on its stream).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from uuid import UUID

from prokopim_events.contracts import (
    OrderedOutlet,
    PublicationOrdered,
    RecordingArchived,
    RecordingHandedOver,
    StepCompleted,
)
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor
from prokopim_kit.errors import ConcurrentChange
from prokopim_kit.pipeline import Cases, Loaded
from prokopim_kit.runtime import Runtime
from prokopim_sop import Service

from .domain import (
    CaseState,
    HandOver,
    OrderPublication,
    Publish,
    RecordArchive,
    RecordOutcome,
    decide_archive,
    decide_hand_over,
    decide_open,
    decide_order,
    decide_outcome,
    evolve,
    prepare_archive,
    prepare_publication,
)
from .outlets import load_registry
from .ports import Integrations

CASES = Cases(
    Service.PUBLISHING,
    CaseState,
    evolve,
    commands={
        HandOver: decide_hand_over,
        RecordArchive: decide_archive,
        OrderPublication: decide_order,
        RecordOutcome: decide_outcome,
    },
    reactions={StepCompleted: decide_open},
)
stream_of = CASES.stream_of


async def load_case(
    runtime: Runtime, case_id: UUID, conn: Connection | None = None
) -> Loaded[CaseState]:
    """Return a case's state, events and SOP; UnknownCase if never opened here."""
    return await CASES.load(runtime, case_id, conn)


async def hand_over(
    runtime: Runtime, case_id: UUID, actor: Actor, command: HandOver
) -> RecordingHandedOver:
    """Hand the approved recording to the requester (Bandung step 10)."""
    result = await CASES.handle(runtime, case_id, actor, command)
    assert isinstance(result.contract, RecordingHandedOver)
    return result.contract


async def archive(
    runtime: Runtime, integrations: Integrations, case_id: UUID, actor: Actor
) -> RecordingArchived:
    """File the handed-over recording under its archive name, then record where."""
    async with _one_at_a_time(runtime, case_id) as conn:
        loaded = await CASES.load(runtime, case_id, conn)
        entry = prepare_archive(loaded.state, actor.role)
        location = await integrations.archive.file(entry)
        command = RecordArchive(location)
        result = await CASES.apply(runtime, loaded, actor, command, conn=conn)
    assert isinstance(result.contract, RecordingArchived)
    return result.contract


async def publish(
    runtime: Runtime, case_id: UUID, actor: Actor, command: Publish
) -> PublicationOrdered:
    """Order the publication; a repeated order (a client retry) answers the first one.

    The website post and the mails are publishing's consumer's (`effects.on_order`).
    """
    async with _one_at_a_time(runtime, case_id) as conn:
        loaded = await CASES.load(runtime, case_id, conn)
        if loaded.state.order is not None:
            return loaded.state.order  # ordered already: the same answer, nothing new
        prepare_publication(loaded.state, loaded.sop, actor.role, command)
        registry, _ = await load_registry(runtime, conn)
        outlets = tuple(
            OrderedOutlet(outlet_id=o.outlet_id, name=o.name, email=o.email)
            for o in registry.active()
        )
        order = OrderPublication(command, outlets)
        result = await CASES.apply(runtime, loaded, actor, order, conn=conn)
    assert isinstance(result.contract, PublicationOrdered)
    return result.contract


@contextlib.asynccontextmanager
async def _one_at_a_time(runtime: Runtime, case_id: UUID) -> AsyncIterator[Connection]:
    # The lock's connection also does the reads and the append: waiting for a second
    # pooled connection while holding one could exhaust the pool under load.
    digest = hashlib.blake2b(stream_of(case_id).encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    async with runtime.pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            raise ConcurrentChange(case_id)
        try:
            yield conn
        finally:
            # The pool keeps sessions as they are (no reset query): a lock that may still
            # be held must not go back with its connection, so that one is closed instead.
            try:
                await conn.execute("SELECT pg_advisory_unlock($1)", key)
            except BaseException:
                conn.terminate()
                raise
