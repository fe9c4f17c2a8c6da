"""Read a case's complete ordered event history from the store, across every service."""

from __future__ import annotations

from prokopim_events.envelope import StoredEvent
from prokopim_events.rows import event_from_row

from .errors import open_store


async def case_history(database_url: str, case_id: str) -> list[StoredEvent]:
    """Return every event about a case, in the order the store recorded them."""
    conn = await open_store(database_url)
    try:
        rows = await conn.fetch(
            "SELECT event_id, stream_id, stream_version, global_position, type, data, metadata,"
            " occurred_at, recorded_at FROM events WHERE data->>'case_id' = $1"
            " ORDER BY global_position",
            case_id,
        )
    finally:
        await conn.close()
    return [event_from_row(row) for row in rows]


def format_trail(events: list[StoredEvent]) -> str:
    """Render a history as the step-by-step trail an auditor reads."""
    lines = []
    for event in events:
        data = event.data
        step = data.get("step", "")
        extra = data.get("reason") or data.get("archive_name") or data.get("website_url") or ""
        lines.append(
            f"{event.recorded_at:%Y-%m-%d %H:%M:%S}  step {step!s:>2}  "
            f"{event.type.removeprefix('prokopim.'):<42} {event.actor.role:<28} "
            f"{event.actor.id:<26} {extra}"
        )
    return "\n".join(lines)
