"""The event envelope: what a service appends, what the store returns, what NATS carries.

On the wire an event is a CloudEvents 1.0 structured-mode JSON document. Envelope fields
that CloudEvents has no attribute for travel as extension attributes (lower-case
alphanumeric names, as the spec requires).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel, ConfigDict, Field

SPEC_VERSION = "1.0"


class Actor(BaseModel):
    """Who caused an event: a person (or a service) and the SOP role they acted in."""

    model_config = ConfigDict(frozen=True)

    id: str
    role: str
    name: str | None = None


SYSTEM = Actor(id="system", role="system")


def _text(value: UUID) -> str:
    """Return str(value): orjson writes a uuid.UUID ~3x faster than UUID.__str__ (this runs
    per append) but refuses its subclasses (asyncpg's)."""
    return orjson.dumps(value)[1:-1].decode() if type(value) is UUID else str(value)


class NewEvent(BaseModel):
    """An event a service asks the store to append; the store assigns positions."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    # Only `prokopim.` types are published (the stream's subject filter): any other type
    # would be stored yet never relayed, so it is refused here.
    type: str = Field(pattern=r"^prokopim(\.[a-z0-9-]+)+\.v[0-9]+$")
    data: dict[str, Any]
    occurred_at: datetime
    actor: Actor = SYSTEM
    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    traceparent: str | None = None

    def metadata(self) -> dict[str, Any]:
        """Return the envelope fields kept in the store's metadata column."""
        actor = self.actor  # built by hand: model_dump is several times slower
        return {
            "actor": {"id": actor.id, "role": actor.role}
            if actor.name is None
            else {"id": actor.id, "role": actor.role, "name": actor.name},
            "correlation_id": _text(self.correlation_id or self.event_id),
            "causation_id": _text(self.causation_id) if self.causation_id else None,
            "traceparent": self.traceparent,
        }


class StoredEvent(BaseModel):
    """An event as recorded: its positions in its stream and in the global log."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID
    stream_id: str
    stream_version: int
    global_position: int
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    traceparent: str | None = None
    data: dict[str, Any]

    @property
    def source(self) -> str:
        """Return the CloudEvents source: the producing service, read off the type."""
        parts = self.type.split(".")
        return "/" + "/".join(parts[:2]) if len(parts) > 2 else "/" + parts[0]

    def to_cloudevent(self) -> dict[str, Any]:
        """Return this event as a CloudEvents 1.0 structured-mode JSON object."""
        event: dict[str, Any] = {
            "specversion": SPEC_VERSION,
            "id": str(self.event_id),
            "source": self.source,
            "type": self.type,
            "subject": self.stream_id,
            "time": self.occurred_at.isoformat(),
            "datacontenttype": "application/json",
            "streamversion": self.stream_version,
            "position": self.global_position,
            "recordedtime": self.recorded_at.isoformat(),
            "actorid": self.actor.id,
            "actorrole": self.actor.role,
            "correlationid": str(self.correlation_id),
            "data": self.data,
        }
        if self.actor.name:
            event["actorname"] = self.actor.name
        if self.causation_id:
            event["causationid"] = str(self.causation_id)
        if self.traceparent:
            event["traceparent"] = self.traceparent
        return event

    def to_json(self) -> bytes:
        """Serialise to the bytes published on NATS."""
        return orjson.dumps(self.to_cloudevent())

    @classmethod
    def from_cloudevent(cls, event: dict[str, Any]) -> StoredEvent:
        """Parse a CloudEvents structured-mode object produced by `to_cloudevent`."""
        return cls(
            event_id=event["id"],
            stream_id=event["subject"],
            stream_version=event["streamversion"],
            global_position=event["position"],
            type=event["type"],
            occurred_at=event["time"],
            recorded_at=event["recordedtime"],
            actor=Actor(id=event["actorid"], role=event["actorrole"], name=event.get("actorname")),
            correlation_id=event["correlationid"],
            causation_id=event.get("causationid"),
            traceparent=event.get("traceparent"),
            data=event.get("data") or {},
        )

    @classmethod
    def from_json(cls, payload: bytes) -> StoredEvent:
        """Parse the bytes published on NATS."""
        return cls.from_cloudevent(orjson.loads(payload))
