"""Creating a case once: one letter number per office, and `Idempotency-Key` replays.

- `intake_letters` holds (office, letter number) -> case; the row is inserted in the same
  transaction as the case's first events, so of 20 concurrent registrations of one letter
  exactly one opens a case and the others wait on its row and get `409 duplicate_letter`
  naming that case. The office is the SOP's id: each office numbers its letters under its
  own SOP (see docs).
- `intake_idempotency_keys` holds the first successful answer to a key, written in the same
  transaction as the case: a retry with the key and the same request gets that answer
  (same status and body) and creates nothing; the same key with another request (or
  another user) is `422 idempotency_key_reused` naming the key. Concurrent requests with
  one key wait on its row. Keys older than IDEMPOTENCY_KEY_RETENTION_HOURS are forgotten.
  A refused command stores nothing, so its retry is decided again.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prokopim_events.db import Connection
from prokopim_events.envelope import Actor
from prokopim_kit.errors import CommandRejected
from prokopim_kit.runtime import Runtime

from .domain import RegisterRequest
from .service import CASES, StepResult, requested_sop

MAX_KEY_LENGTH = 255


class DuplicateLetter(CommandRejected):
    status = 409
    code = "duplicate_letter"

    def __init__(self, office: str, letter_number: str, case_id: UUID) -> None:
        super().__init__(
            f"letter {letter_number!r} is already registered in {office} as case {case_id}",
            field="letter_number",
            letter_number=letter_number,
            office=office,
            case_id=str(case_id),
        )


class IdempotencyKeyReused(CommandRejected):
    status = 422
    code = "idempotency_key_reused"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was used for a different request; use a new key",
            header="Idempotency-Key",
            key=key,
        )


class BadIdempotencyKey(CommandRejected):
    status = 422
    code = "invalid_idempotency_key"

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible characters",
            header="Idempotency-Key",
            key=key[:MAX_KEY_LENGTH],
        )


@dataclass(frozen=True)
class Answer:
    """What a create command answered: replayed as is to a retry with the same key."""

    status: int
    body: dict[str, Any]
    location: str


async def register_once(
    runtime: Runtime,
    actor: Actor,
    command: RegisterRequest,
    key: str | None,
    retention_hours: float,
) -> Answer:
    """Open a case for a letter unless its number or the key was seen; see the module doc."""
    if key is not None and not (0 < len(key) <= MAX_KEY_LENGTH and key.isprintable()):
        raise BadIdempotencyKey(key)
    request_hash = _hash(actor, command)
    async with runtime.pool.acquire() as conn:
        async with conn.transaction():
            if key is not None:
                replay = await _claim(conn, key, request_hash, retention_hours)
                if replay is not None:
                    return replay
            answer = await _register(runtime, conn, actor, command)
            if key is not None:
                await conn.execute(
                    "UPDATE intake_idempotency_keys SET status = $2, body = $3,"
                    " location = $4 WHERE key = $1",
                    key,
                    answer.status,
                    answer.body,
                    answer.location,
                )
        runtime.store.wake_relay()
    return answer


async def _claim(
    conn: Connection, key: str, request_hash: str, retention_hours: float
) -> Answer | None:
    """Take the key for this request, or return the first answer given to it."""
    await conn.execute(
        "DELETE FROM intake_idempotency_keys WHERE key = $1"
        " AND created_at < now() - make_interval(secs => $2)",
        key,
        retention_hours * 3600,
    )
    claimed = await conn.fetchval(
        "INSERT INTO intake_idempotency_keys (key, request_hash) VALUES ($1, $2)"
        " ON CONFLICT (key) DO NOTHING RETURNING true",
        key,
        request_hash,
    )
    if claimed:  # and forget, now and then, the expired keys of others
        await conn.execute(
            "DELETE FROM intake_idempotency_keys WHERE ctid IN (SELECT ctid FROM"
            " intake_idempotency_keys WHERE created_at < now() - make_interval(secs => $1)"
            " LIMIT 100)",
            retention_hours * 3600,
        )
        return None
    row = await conn.fetchrow(
        "SELECT request_hash, status, body, location FROM intake_idempotency_keys WHERE key = $1",
        key,
    )
    if row is None or row["request_hash"] != request_hash or row["status"] is None:
        raise IdempotencyKeyReused(key)
    return Answer(row["status"], dict(row["body"]), row["location"])


async def _register(
    runtime: Runtime, conn: Connection, actor: Actor, command: RegisterRequest
) -> Answer:
    sop = requested_sop(runtime.catalog, command.sop_id, command.sop_version)
    case_id = uuid.uuid4()
    office = sop.id
    taken = await conn.fetchval(
        "INSERT INTO intake_letters (office, letter_number, case_id) VALUES ($1, $2, $3)"
        " ON CONFLICT (office, letter_number) DO NOTHING RETURNING case_id",
        office,
        command.letter_number,
        case_id,
    )
    if taken is None:
        existing = await conn.fetchval(
            "SELECT case_id FROM intake_letters WHERE office = $1 AND letter_number = $2",
            office,
            command.letter_number,
        )
        raise DuplicateLetter(office, command.letter_number, existing)
    result = await CASES.start(runtime, case_id, sop, actor, command, conn=conn)
    body = StepResult.of(result).model_dump(mode="json")
    return Answer(201, body, f"/cases/{case_id}")


def _hash(actor: Actor, command: RegisterRequest) -> str:
    document = {"actor": actor.id, "command": command.model_dump(mode="json")}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
