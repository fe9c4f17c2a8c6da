"""Tamper evidence: each event's hash covers its content and the hash before it in its stream.

The content digest is computed here, in Python, from the event's canonical form; the
database chains it (`sha256(previous chain_hash || digest)`) inside the append, because
only the database knows the previous hash without another round trip. A verifier
recomputes both from the stored rows.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def canonical_form(
    event_id: UUID,
    stream_id: str,
    stream_version: int,
    type_: str,
    data: dict[str, Any],
    metadata: dict[str, Any],
    occurred_at: datetime,
) -> bytes:
    """Return an event's canonical form: a sorted-key JSON array, time in microseconds."""
    micros = (occurred_at - _EPOCH) // timedelta(microseconds=1)
    return orjson.dumps(
        [str(event_id), stream_id, stream_version, type_, data, metadata, micros],
        option=orjson.OPT_SORT_KEYS,
    )


def content_digest(
    event_id: UUID,
    stream_id: str,
    stream_version: int,
    type_: str,
    data: dict[str, Any],
    metadata: dict[str, Any],
    occurred_at: datetime,
) -> bytes:
    """Return the sha256 of an event's canonical form."""
    return hashlib.sha256(
        canonical_form(event_id, stream_id, stream_version, type_, data, metadata, occurred_at)
    ).digest()


def chain(previous: bytes, digest: bytes) -> bytes:
    """Return the chain hash of an event given the chain hash before it."""
    return hashlib.sha256(previous + digest).digest()
