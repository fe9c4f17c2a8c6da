"""Turning rows of the `events` table into StoredEvents, fast: replays build millions."""

from __future__ import annotations

import gc
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
import orjson

from .envelope import Actor, StoredEvent

_M = TypeVar("_M", StoredEvent, Actor)

# What the store's own reads select. The envelope fields kept in `metadata` are read from
# the columns PostgreSQL generates from it (sql/007_envelope_columns.sql): Python decodes no
# metadata JSON and parses no uuid text, and the server extracts nothing per read. A
# correlation id equal to the event id (the default) comes back NULL rather than as a second
# copy of the same uuid. `data` comes as text, whatever codec the pool has: a page's bodies
# are parsed in one call (`events_from_rows`) rather than one codec call per row.
COLUMNS = (
    "event_id, stream_id, stream_version, global_position, type, data::text, occurred_at,"
    " recorded_at, actor_id, actor_role, actor_name, nullif(correlation_id, event_id),"
    " causation_id, traceparent"
)
COLUMN_COUNT = 14


# Every event read shares one fields-set object instead of a new set per row: that spares
# the cyclic GC a container per event (replays ran ~25% faster). Pydantic only ever adds to
# a fields-set on attribute assignment, which frozen models refuse, and copies it before
# recording the fields a `model_copy(update=...)` changed.
_FIELDS_SET = {model: set(model.model_fields) for model in (StoredEvent, Actor)}
for _model in _FIELDS_SET:  # what `_trusted` relies on
    if (
        not _model.model_config.get("frozen")
        or _model.__pydantic_post_init__
        or _model.__private_attributes__
    ):
        raise TypeError(f"{_model.__name__} must be frozen, without post-init or privates")

_object_setattr = object.__setattr__


def _trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """Build a model from every field's value, already valid in the database, as
    `model_construct` does minus its per-field bookkeeping (this runs once per row read)."""
    model = object.__new__(cls)
    _object_setattr(model, "__dict__", values)
    _object_setattr(model, "__pydantic_fields_set__", _FIELDS_SET[cls])
    _object_setattr(model, "__pydantic_extra__", None)
    _object_setattr(model, "__pydantic_private__", None)
    return model


# Actors are immutable and few (people and services), so rows share one instance each.
_actors: dict[tuple[str, str, str | None], Actor] = {}


def _actor(id_: str, role: str, name: str | None) -> Actor:
    actor = _actors.get((id_, role, name))
    if actor is None:
        if len(_actors) >= 10_000:
            _actors.clear()
        actor = _actors[(id_, role, name)] = _trusted(
            Actor, {"id": id_, "role": role, "name": name}
        )
    return actor


def event_from_row(row: asyncpg.Record) -> StoredEvent:
    """Build a StoredEvent from a trusted `events` row without re-validating it.

    The row needs the columns event_id, stream_id, stream_version, global_position, type,
    data, metadata, occurred_at and recorded_at.
    """
    meta: dict[str, Any] = row["metadata"]
    actor = meta["actor"]
    causation = meta.get("causation_id")
    return _trusted(
        StoredEvent,
        {
            "event_id": row["event_id"],
            "stream_id": row["stream_id"],
            "stream_version": row["stream_version"],
            "global_position": row["global_position"],
            "type": row["type"],
            "occurred_at": row["occurred_at"],
            "recorded_at": row["recorded_at"],
            "actor": _actor(actor["id"], actor["role"], actor.get("name")),
            "correlation_id": UUID(meta["correlation_id"]),
            "causation_id": UUID(causation) if causation else None,
            "traceparent": meta.get("traceparent"),
            "data": row["data"],
        },
    )


def _events(rows: list[asyncpg.Record], bodies: list[dict[str, Any]]) -> list[StoredEvent]:
    """Build StoredEvents from rows of `COLUMNS` and their parsed bodies, as `_trusted`
    does, inlined: this loop runs once per event read."""
    fields_set = _FIELDS_SET[StoredEvent]
    actors = _actors
    new, set_ = object.__new__, _object_setattr
    events: list[StoredEvent] = []
    append = events.append
    for (
        event_id,
        stream_id,
        stream_version,
        global_position,
        type_,
        _,
        occurred_at,
        recorded_at,
        actor_id,
        actor_role,
        actor_name,
        correlation_id,
        causation_id,
        traceparent,
    ), data in zip([row[:COLUMN_COUNT] for row in rows], bodies, strict=True):
        actor = actors.get((actor_id, actor_role, actor_name))
        if actor is None:
            actor = _actor(actor_id, actor_role, actor_name)
        event = new(StoredEvent)
        set_(
            event,
            "__dict__",
            {
                "event_id": event_id,
                "stream_id": stream_id,
                "stream_version": stream_version,
                "global_position": global_position,
                "type": type_,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "actor": actor,
                "correlation_id": event_id if correlation_id is None else correlation_id,
                "causation_id": causation_id,
                "traceparent": traceparent,
                "data": data,
            },
        )
        set_(event, "__pydantic_fields_set__", fields_set)
        set_(event, "__pydantic_extra__", None)
        set_(event, "__pydantic_private__", None)
        append(event)
    return events


def events_from_rows(rows: list[asyncpg.Record]) -> list[StoredEvent]:
    """Build the events of a page of rows of `COLUMNS`.

    The page's bodies are parsed as one JSON array: one orjson call instead of one codec
    call per row (each row's text is a complete JSON value, so joining them with commas
    gives an array of exactly those values). Thousands of new objects, all staying
    reachable: a cyclic GC pass during this loop could free nothing, yet the passes it
    triggers cost ~20% of a replay. So the collector pauses for this synchronous loop (no
    other code runs meanwhile) unless it is off anyway.
    """
    if not rows:
        return []
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        texts = ",".join([row[5] for row in rows])
        bodies: list[dict[str, Any]] = orjson.loads(f"[{texts}]")
        return _events(rows, bodies)
    finally:
        if paused:
            gc.enable()
