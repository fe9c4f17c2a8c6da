"""Case commands: load the case stream, decide, call the outside systems, append.

Publishing and archiving reach outside systems before anything is recorded, so a case
takes one of them at a time (a PostgreSQL advisory lock on its stream): a racing second
command gets 409 at once instead of emailing the outlets a second time.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

from prokopim_events.contracts import NewsPublished, RecordingArchived, RecordingHandedOver
from prokopim_events.db import Connection
from prokopim_events.envelope import Actor
from prokopim_kit.commands import append, load, to_new_events
from prokopim_kit.errors import ConcurrentChange, UnknownCase
from prokopim_kit.runtime import Runtime
from prokopim_sop import Sop

from .domain import (
    CaseState,
    HandOver,
    Publication,
    Publish,
    decide_archive,
    decide_hand_over,
    decide_publish,
    evolve,
    prepare_archive,
    prepare_publication,
)
from .outlets import load_registry
from .ports import Integrations


def case_stream(case_id: UUID) -> str:
    """Return the stream of a case's publishing events."""
    return f"publishing-{case_id}"


@dataclass(frozen=True)
class LoadedCase:
    state: CaseState
    version: int
    sop: Sop


async def load_case(runtime: Runtime, case_id: UUID, conn: Connection | None = None) -> LoadedCase:
    """Return a case's state, stream version and SOP; UnknownCase if never opened here."""
    state, version = await load(runtime.store, case_stream(case_id), CaseState(), evolve, conn)
    if state.sop_id is None or state.sop_version is None:
        raise UnknownCase(case_id)
    return LoadedCase(state, version, runtime.catalog.get(state.sop_id, state.sop_version))


async def hand_over(
    runtime: Runtime, case_id: UUID, actor: Actor, command: HandOver
) -> RecordingHandedOver:
    """Hand the approved recording to the requester (Bandung step 10)."""
    loaded = await load_case(runtime, case_id)
    (event,) = decide_hand_over(loaded.state, loaded.sop, actor.role, command)
    await _record(runtime, case_id, loaded.version, actor, event)
    return event


async def archive(
    runtime: Runtime, integrations: Integrations, case_id: UUID, actor: Actor
) -> RecordingArchived:
    """File the handed-over recording under its archive name, then record where."""
    async with _one_at_a_time(runtime, case_id) as conn:
        loaded = await load_case(runtime, case_id, conn)
        entry = prepare_archive(loaded.state, actor.role)
        location = await integrations.archive.file(entry)
        (event,) = decide_archive(loaded.state, actor.role, location)
        await _record(runtime, case_id, loaded.version, actor, event, conn)
    return event


async def publish(
    runtime: Runtime, integrations: Integrations, case_id: UUID, actor: Actor, command: Publish
) -> NewsPublished:
    """Post to the city website, email the active outlets, then record the publication."""
    async with _one_at_a_time(runtime, case_id) as conn:
        loaded = await load_case(runtime, case_id, conn)
        release = prepare_publication(loaded.state, loaded.sop, actor.role, command)
        registry, _ = await load_registry(runtime, conn)
        url = await integrations.website.post(release)
        emailed = await integrations.mailer.send(release, url, registry.active())
        publication = Publication(website_url=url, emailed_outlets=tuple(emailed))
        (event,) = decide_publish(loaded.state, loaded.sop, actor.role, command, publication)
        await _record(runtime, case_id, loaded.version, actor, event, conn)
    return event


async def _record(
    runtime: Runtime,
    case_id: UUID,
    version: int,
    actor: Actor,
    event: RecordingHandedOver | RecordingArchived | NewsPublished,
    conn: Connection | None = None,
) -> None:
    new_events = to_new_events([event], actor=actor)
    stream = case_stream(case_id)
    await append(runtime.store, stream, version, new_events, case_id=case_id, conn=conn)
    if conn is not None:  # the store wakes the relay itself only for its own connections
        runtime.store.wake_relay()


@contextlib.asynccontextmanager
async def _one_at_a_time(runtime: Runtime, case_id: UUID) -> AsyncIterator[Connection]:
    # The lock's connection also does the reads and the append: waiting for a second
    # pooled connection while holding one could exhaust the pool under load.
    digest = hashlib.blake2b(case_stream(case_id).encode(), digest_size=8).digest()
    key = int.from_bytes(digest, "big", signed=True)
    async with runtime.pool.acquire() as conn:
        if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", key):
            raise ConcurrentChange(case_id)
        try:
            yield conn
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", key)
