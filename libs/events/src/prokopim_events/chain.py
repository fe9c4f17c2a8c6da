"""Tamper evidence: each event's hash covers its content and the hash before it in its stream.

The content digest is computed here, in Python, from the event's canonical form; the
database chains it (`sha256(previous chain_hash || digest)`) inside the append, because
only the database knows the previous hash without another round trip. A verifier
recomputes both from the stored rows.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
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
    return _canonical(str(event_id), stream_id, stream_version, type_, data, metadata, micros)


def _canonical(
    event_id: str,
    stream_id: str,
    stream_version: int,
    type_: str,
    data: dict[str, Any],
    metadata: dict[str, Any],
    occurred_micros: int,
) -> bytes:
    parts = [event_id, stream_id, stream_version, type_, data, metadata, occurred_micros]
    form = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    if b"e+" in form or b"-0.0" in form:  # rarely: a number jsonb may give back changed
        form = orjson.dumps(_as_stored(parts), option=orjson.OPT_SORT_KEYS)
    return form


def _as_stored(value: Any) -> Any:
    """Return `value` with its numbers as PostgreSQL's jsonb gives them back.

    jsonb keeps a number as a decimal and writes it out without an exponent: 1e16 comes
    back as the integer 10000000000000000, -0.0 as 0.0. The digest is of the event as
    stored, so that the one computed at append and the one recomputed from the row agree.
    """
    if isinstance(value, float):
        if value == 0.0 or not math.isfinite(value):
            return abs(value)  # no negative zero in numeric (NaN/inf are written as null)
        return orjson.loads(format(Decimal(repr(value)), "f"))
    if isinstance(value, dict):
        return {key: _as_stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_stored(item) for item in value]
    return value


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


def stored_digest(
    event_id: str,
    stream_id: str,
    stream_version: int,
    type_: str,
    data: dict[str, Any],
    metadata: dict[str, Any],
    occurred_micros: int,
) -> bytes:
    """Return `content_digest` of a stored event, given its id as text and its time in
    microseconds since the epoch (as a verifier reads them, saving a conversion per row)."""
    return hashlib.sha256(
        _canonical(event_id, stream_id, stream_version, type_, data, metadata, occurred_micros)
    ).digest()


def chain(previous: bytes, digest: bytes) -> bytes:
    """Return the chain hash of an event given the chain hash before it."""
    return hashlib.sha256(previous + digest).digest()


# The global order is sealed in ranges of positions (see `seals`). Each seal stores, besides
# its hash, the first bytes of every sealed event's chain hash: the hash proves a range
# intact, the fingerprints let a verifier name the position where it no longer is.
FINGERPRINT_SIZE = 8


def seal_hash(
    previous: bytes, first_position: int, last_position: int, entries: list[tuple[int, bytes]]
) -> bytes:
    """Return the hash sealing the events (position, chain_hash) of one range, in order.

    It covers the range's bounds, each present position with its event's chain hash (so a
    rolled-back position is sealed as absent) and the previous seal's hash.
    """
    digest = hashlib.sha256(previous)
    digest.update(first_position.to_bytes(8, "big") + last_position.to_bytes(8, "big"))
    for position, chain_hash in entries:
        digest.update(position.to_bytes(8, "big"))
        digest.update(chain_hash)
    return digest.digest()


def fingerprints(entries: list[tuple[int, bytes]]) -> bytes:
    """Return the leading bytes of each entry's chain hash, concatenated in order."""
    return b"".join(chain_hash[:FINGERPRINT_SIZE] for _, chain_hash in entries)
