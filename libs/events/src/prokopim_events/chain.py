"""Tamper evidence: each event's hash covers its content and the hash before it in its stream.

The content digest is computed here, in Python, from the event's canonical form; the
database chains it inside the append, because only the database knows the previous hash,
the transaction id and the time recorded without another round trip:

    chain_hash = HMAC-SHA256(chain key, previous chain_hash || digest || transaction id
                             || recorded_at in microseconds)

The key never enters the database: the append passes the HMAC's two padded key blocks as
statement parameters and the database computes `sha256(outer || sha256(inner || message))`,
which is HMAC-SHA256 by definition (RFC 2104). Whoever can write the table but lacks the
key cannot produce a chain hash a verifier holding the key accepts. Each event records the
id of the key it was chained with (`chain_key_id`), so keys can be rotated. A verifier
recomputes all of it from the stored rows.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass
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
    # orjson writes a uuid.UUID exactly as str() does, several times faster (but refuses
    # subclasses, such as asyncpg's)
    id_ = event_id if type(event_id) is UUID else str(event_id)
    return _canonical(id_, stream_id, stream_version, type_, data, metadata, micros)


def _canonical(
    event_id: str | UUID,
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
    """Return the chain hash of an event appended before chain keys (`chain_key_id` NULL)."""
    return hashlib.sha256(previous + digest).digest()


# An HMAC block: keys longer than this are hashed first (RFC 2104).
_BLOCK = 64
# The id an event appended without a key records (verifiers holding a key refuse it).
UNKEYED = ""
MIN_KEY_LENGTH = 32


@dataclass(frozen=True)
class ChainKey:
    """A chain key: its id (stored with each event and seal) and its HMAC key blocks."""

    key_id: str
    secret: bytes
    outer: bytes  # key XOR opad: what the database hashes in front of the inner hash
    inner: bytes  # key XOR ipad

    @classmethod
    def from_secret(cls, secret: str | bytes) -> ChainKey:
        """Return the key for a secret of at least 32 characters; its id derives from it."""
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < MIN_KEY_LENGTH:
            raise ValueError(f"a chain key needs at least {MIN_KEY_LENGTH} characters")
        block = hashlib.sha256(raw).digest() if len(raw) > _BLOCK else raw
        block = block.ljust(_BLOCK, b"\0")
        key_id = hashlib.sha256(b"prokopim chain key id\0" + raw).hexdigest()[:16]
        return cls(
            key_id=key_id,
            secret=raw,
            outer=bytes(b ^ 0x5C for b in block),
            inner=bytes(b ^ 0x36 for b in block),
        )

    def mac(self, message: bytes) -> bytes:
        """Return HMAC-SHA256 of `message` under this key."""
        return hmac.new(self.secret, message, hashlib.sha256).digest()

    def __repr__(self) -> str:  # never print the key
        return f"ChainKey({self.key_id!r})"


def link_tail(transaction_id: int, recorded_micros: int) -> bytes:
    """Return what the database appends to (previous || digest): transaction id and time."""
    return transaction_id.to_bytes(8, "big", signed=True) + recorded_micros.to_bytes(
        8, "big", signed=True
    )


def keyed_chain(
    key: ChainKey | None, previous: bytes, digest: bytes, transaction_id: int, recorded_micros: int
) -> bytes:
    """Return an event's chain hash as the append computes it; without a key (appends made
    without one), sha256(sha256(message)), which anybody can recompute."""
    message = previous + digest + link_tail(transaction_id, recorded_micros)
    if key is None:
        return hashlib.sha256(hashlib.sha256(message).digest()).digest()
    return key.mac(message)


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


def keyed_seal_hash(key: ChainKey | None, unkeyed: bytes) -> bytes:
    """Return a seal's stored hash: HMAC of `seal_hash` under the key (legacy: as is)."""
    return unkeyed if key is None else key.mac(b"prokopim seal\0" + unkeyed)


def fingerprints(entries: list[tuple[int, bytes]]) -> bytes:
    """Return the leading bytes of each entry's chain hash, concatenated in order."""
    return b"".join(chain_hash[:FINGERPRINT_SIZE] for _, chain_hash in entries)
