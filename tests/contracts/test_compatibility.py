"""Published contracts stay compatible with their committed JSON Schema snapshots.

The rules (docs/events.md, "Versioning rules"): only add optional fields to a published
type; anything else is a new `.vN` type with an upcaster; never remove or reuse a type.
"""

from __future__ import annotations

import pytest
from prokopim_events.schema_snapshots import (
    SCHEMAS_DIR,
    WRITE,
    breaking_changes,
    current_schemas,
    load_snapshots,
    missing_snapshots,
    render,
)

pytestmark = pytest.mark.unit


def test_every_published_type_has_a_snapshot() -> None:
    missing = missing_snapshots(load_snapshots(), current_schemas())
    assert not missing, (
        f"no JSON Schema snapshot in {SCHEMAS_DIR} for {', '.join(missing)}: run `{WRITE}`"
        " and commit the new files"
    )


def test_no_published_type_changed_incompatibly() -> None:
    problems = breaking_changes(load_snapshots(), current_schemas())
    assert not problems, (
        "incompatible change to a published event type (publish a new `.vN` type with an"
        " upcaster instead; see docs/events.md):\n  " + "\n  ".join(problems)
    )


def test_snapshots_record_the_current_compatible_schemas() -> None:
    # A compatible change not recorded would let a later change remove it unnoticed.
    snapshots = load_snapshots()
    stale = [
        event_type
        for event_type, schema in current_schemas().items()
        if event_type in snapshots and render(snapshots[event_type]) != render(schema)
    ]
    assert not stale, f"snapshots of {', '.join(stale)} predate a compatible change: run `{WRITE}`"
