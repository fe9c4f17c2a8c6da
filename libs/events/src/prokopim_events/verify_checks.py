"""What `verify` decides, without I/O: one event against its stream's chain, one seal
against the events of its range, and which problem comes first."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from .chain import (
    FINGERPRINT_SIZE,
    UNKEYED,
    chain,
    keyed_chain,
    keyed_seal_hash,
    seal_hash,
    stored_digest,
)
from .keys import NO_KEYS, Keyring

CONTENT_CHANGED = "content changed"
ORDER_CHANGED = "order changed"
MISSING = "missing"
ADDED = "added"
SEAL_BROKEN = "seal broken"
SEAL_GONE = "seal gone"
NOT_KEYED = "not keyed"
UNKNOWN_KEY = "unknown key"

# Positions a seal says are missing, kept until the stream pass names their events; past
# this many, the rest are reported by position alone (memory stays bounded).
_MAX_UNNAMED = 100_000


@dataclass(frozen=True)
class Problem:
    """One change found: what kind, where (as precisely as known), and why it shows."""

    kind: str
    global_position: int | None
    stream_id: str | None
    stream_version: int | None
    detail: str
    after_position: int = 0  # when the position is unknown: it lies after this one
    before_position: int | None = None  # ... and before this one
    events: int = 1  # how many events it concerns (a hole of several versions)

    @property
    def rank(self) -> int:
        """Where it comes in the global order (its lowest possible position)."""
        return self.global_position if self.global_position is not None else self.after_position + 1

    def describe(self) -> str:
        """Return a sentence naming the event, for people."""
        where = [] if self.global_position is None else [f"global position {self.global_position}"]
        if self.stream_id is not None:
            where.append(f"stream {self.stream_id!r} version {self.stream_version}")
        return f"{self.kind} at {', '.join(where)}: {self.detail}"


class ChainLink(NamedTuple):
    """The last event checked in a stream: what the next one must chain to."""

    stream_id: str
    version: int
    position: int
    chain_hash: bytes


class SealLink(NamedTuple):
    """The last seal checked: what the next one must follow."""

    seal_number: int
    last_position: int
    seal_hash: bytes


# What the digest covers besides stream and version: id (text), type, data, metadata and the
# time it occurred in microseconds since the epoch.
Content = tuple[str, str, dict[str, Any], dict[str, Any], int]


class Assigned(NamedTuple):
    """What the database assigned an event, which its chain hash covers too (see `chain`)."""

    key_id: str | None  # None: appended before keyed chains
    transaction_id: int
    recorded_micros: int


def _expected_chain(
    keys: Keyring, before: bytes, digest: bytes, assigned: Assigned, position: int
) -> tuple[bytes | None, str | None]:
    """Return the chain hash the event must carry (None: unknown key) and why its keying
    alone is a problem, if it is."""
    key_id = assigned.key_id
    if key_id is None:
        late = not keys.empty and position > keys.unkeyed_up_to
        reason = "appended without a chain key, after chain keys were in use" if late else None
        return chain(before, digest), reason
    tail = (assigned.transaction_id, assigned.recorded_micros)
    if key_id == UNKEYED:
        reason = None if keys.empty else "chained without a key: anybody could have computed it"
        return keyed_chain(None, before, digest, *tail), reason
    key = keys.get(key_id)
    if key is None:
        return None, f"chained with key {key_id}, which this verifier does not hold"
    return keyed_chain(key, before, digest, *tail), None


def check_stream_event(
    previous: ChainLink | None,
    stream_id: str,
    version: int,
    position: int,
    chain_hash: bytes,
    content: Content,
    assigned: Assigned,
    keys: Keyring,
) -> tuple[ChainLink, list[Problem]]:
    """Check one event, read in (stream, version) order, against the one read before it."""
    same_stream = previous is not None and previous.stream_id == stream_id
    expected = previous.version + 1 if previous is not None and same_stream else 1
    problems: list[Problem] = []
    if version > expected:
        after = previous.position if previous is not None and same_stream else 0
        versions = (
            f"version {expected} is gone"
            if version == expected + 1
            else f"versions {expected}-{version - 1} are gone"
        )
        problems.append(
            Problem(
                MISSING,
                None,
                stream_id,
                expected,
                f"{versions} (it was between global positions {after} and {position})",
                after,
                position,
                version - expected,
            )
        )
    else:
        event_id, type_, data, metadata, micros = content
        digest = stored_digest(event_id, stream_id, version, type_, data, metadata, micros)
        before = previous.chain_hash if previous is not None and same_stream else b""
        wanted, keying = _expected_chain(keys, before, digest, assigned, position)
        if wanted is not None and wanted != chain_hash:
            problems.append(
                Problem(
                    CONTENT_CHANGED,
                    position,
                    stream_id,
                    version,
                    "its stored content no longer hashes to its chain hash"
                    " (changed, or written without the chain key)",
                )
            )
        elif keying is not None:
            kind = UNKNOWN_KEY if wanted is None else NOT_KEYED
            problems.append(Problem(kind, position, stream_id, version, keying))
    if previous is not None and same_stream and position <= previous.position:
        problems.append(
            Problem(
                ORDER_CHANGED,
                position,
                stream_id,
                version,
                f"it comes before version {previous.version} (position {previous.position})",
            )
        )
    return ChainLink(stream_id, version, position, chain_hash), problems


def check_seal(
    seal: Any, previous: SealLink, events: Sequence[Any], keys: Keyring = NO_KEYS
) -> list[Problem]:
    """Check one seal (an `event_seals` row) against the seal before it and the events now
    in its range: (global_position, chain_hash, stream_id, stream_version), by position."""
    number, first, last = seal["seal_number"], seal["first_position"], seal["last_position"]
    problems: list[Problem] = []
    if (number, first, seal["previous_hash"]) != (
        previous.seal_number + 1,
        previous.last_position + 1,
        previous.seal_hash,
    ):
        problems.append(
            Problem(
                SEAL_BROKEN,
                first,
                None,
                None,
                f"seal {number} does not follow seal {previous.seal_number}",
            )
        )
    entries = [(row[0], row[1]) for row in events]
    key_id = seal["key_id"]
    key = keys.get(key_id) if key_id else None
    if key_id and key is None:
        return [
            *problems,
            Problem(
                UNKNOWN_KEY,
                first,
                None,
                None,
                f"seal {number} is keyed with key {key_id}, which this verifier does not hold",
            ),
        ]
    if not key_id and not keys.empty and last > keys.unkeyed_up_to:
        problems.append(
            Problem(
                NOT_KEYED,
                first,
                None,
                None,
                f"seal {number} (positions {first}-{last}) carries no key:"
                " anybody could have computed it",
            )
        )
    expected = keyed_seal_hash(key, seal_hash(seal["previous_hash"], first, last, entries))
    if expected == seal["seal_hash"]:
        return problems
    located = _locate(number, first, last, seal["gaps"], seal["fingerprints"], events)
    if not located:
        located = [
            Problem(
                SEAL_BROKEN,
                first,
                None,
                None,
                f"seal {number} (positions {first}-{last}) was altered",
            )
        ]
    return problems + located


def _locate(
    number: int,
    first: int,
    last: int,
    gaps: Iterable[int],
    prints: bytes,
    events: Sequence[Any],
) -> list[Problem]:
    """Name the positions of a range whose events differ from what the seal recorded."""
    empty = set(gaps)
    sealed_positions = [p for p in range(first, last + 1) if p not in empty]
    if len(prints) != FINGERPRINT_SIZE * len(sealed_positions):
        return []
    sealed = {
        p: prints[i * FINGERPRINT_SIZE : (i + 1) * FINGERPRINT_SIZE]
        for i, p in enumerate(sealed_positions)
    }
    sealed_at = {fingerprint: p for p, fingerprint in sealed.items()}
    problems: list[Problem] = []
    now = {row[0]: row for row in events}
    for position in range(first, last + 1):
        row, fingerprint = now.get(position), sealed.get(position)
        if row is None and fingerprint is not None:
            problems.append(
                Problem(
                    MISSING, position, None, None, f"seal {number} recorded an event here, now gone"
                )
            )
        elif row is not None and fingerprint is None:
            problems.append(
                Problem(
                    ADDED,
                    position,
                    row[2],
                    row[3],
                    f"seal {number} recorded this position as empty",
                )
            )
        elif row is not None and row[1][:FINGERPRINT_SIZE] != fingerprint:
            moved_from = sealed_at.get(row[1][:FINGERPRINT_SIZE])
            if moved_from is not None:
                problems.append(
                    Problem(
                        ORDER_CHANGED,
                        position,
                        row[2],
                        row[3],
                        f"seal {number} recorded this event at position {moved_from}",
                    )
                )
            else:
                problems.append(
                    Problem(
                        CONTENT_CHANGED,
                        position,
                        row[2],
                        row[3],
                        f"its chain hash is not the one seal {number} recorded (moved or altered)",
                    )
                )
    return problems


class Findings:
    """The problems found so far: how many, the first by position, and the positions seals
    say are missing, until the stream pass names the events that were there."""

    def __init__(self) -> None:
        self.count = 0
        self.first: Problem | None = None
        self._unnamed: dict[int, Problem] = {}
        self._unnamed_positions: list[int] | None = None

    def add(self, problem: Problem) -> None:
        self.count += problem.events
        if self.first is None or problem.rank < self.first.rank:
            self.first = problem

    def add_all(self, problems: Iterable[Problem]) -> None:
        """Record problems of the seal pass (before any of the stream pass)."""
        for problem in problems:
            if problem.kind == MISSING and len(self._unnamed) < _MAX_UNNAMED:
                self._unnamed[problem.rank] = problem
            else:
                self.add(problem)

    def add_stream_problems(self, problems: Iterable[Problem]) -> None:
        """Record problems of the stream pass; a hole in a stream takes the positions the
        seals found missing between its neighbours, when their number matches."""
        if self._unnamed_positions is None:
            self._unnamed_positions = sorted(self._unnamed)
        for problem in problems:
            if problem.kind == MISSING and problem.global_position is None:
                problem = self._name_position(problem)
            self.add(problem)

    def _name_position(self, hole: Problem) -> Problem:
        positions = self._unnamed_positions or []
        low = bisect.bisect_right(positions, hole.after_position)
        high = bisect.bisect_left(positions, hole.before_position or 0, lo=low)
        if high - low != hole.events:
            return hole
        claimed = positions[low:high]
        del positions[low:high]
        for position in claimed:
            del self._unnamed[position]
        return Problem(
            MISSING,
            claimed[0],
            hole.stream_id,
            hole.stream_version,
            f"{hole.detail}; a seal recorded an event at position {claimed[0]}",
            events=hole.events,
        )

    def close(self) -> None:
        """Count the missing positions no stream claimed (a stream's newest events)."""
        for problem in self._unnamed.values():
            self.add(problem)
        self._unnamed.clear()
