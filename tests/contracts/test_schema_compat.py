"""The compatibility checker itself, on small hand-made schemas and on changed contracts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
from prokopim_events import schema_snapshots
from prokopim_events.contracts import (
    CaseEvent,
    CaseFile,
    DraftApproved,
    RecordingArchived,
    StepOpened,
)
from prokopim_events.schema_compat import incompatibilities
from prokopim_events.schema_snapshots import breaking_changes, missing_snapshots

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "count": {"type": "integer"},
        "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "reason": {"enum": ["handover", "rework"], "type": "string"},
        "owner": {"$ref": "#/$defs/Owner"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "inputs": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "required": ["id", "count", "reason", "owner"],
    "$defs": {
        "Owner": {
            "type": "object",
            "properties": {"name": {"type": "string"}, "email": {"type": "string"}},
            "required": ["name"],
        }
    },
}


def _changed(**changes: Any) -> dict[str, Any]:
    """A deep-enough copy of BASE with some properties, required list or defs replaced."""
    schema = {**BASE, "properties": dict(BASE["properties"]), "$defs": dict(BASE["$defs"])}
    for key, value in changes.items():
        if key in ("required", "$defs"):
            schema[key] = value
        elif value is None:
            del schema["properties"][key]
        else:
            schema["properties"][key] = value
    return schema


def _problems(new: dict[str, Any], old: dict[str, Any] = BASE) -> list[str]:
    return [str(problem) for problem in incompatibilities(old, new)]


def test_an_identical_schema_is_compatible() -> None:
    assert _problems(_changed()) == []


def test_adding_an_optional_field_is_compatible() -> None:
    new = _changed(extra={"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None})
    assert _problems(new) == []


def test_adding_an_enum_value_and_changing_descriptions_is_compatible() -> None:
    new = _changed(
        reason={"enum": ["handover", "rework", "escalation"], "type": "string"},
        count={"type": "integer", "description": "how many", "title": "Count"},
    )
    assert _problems(new) == []


def test_a_removed_field_is_named() -> None:
    assert _problems(_changed(count=None)) == ["count: field removed"]


def test_a_new_required_field_is_named() -> None:
    new = _changed(level={"type": "integer"}, required=[*BASE["required"], "level"])
    assert _problems(new) == ["level: new required field"]


def test_an_optional_field_becoming_required_is_named() -> None:
    new = _changed(required=[*BASE["required"], "note"])
    assert _problems(new) == ["note: optional field became required"]


def test_a_required_field_becoming_optional_is_named() -> None:
    new = _changed(required=["id", "reason", "owner"])
    assert _problems(new) == ["count: required field became optional"]


def test_a_changed_type_is_named() -> None:
    assert _problems(_changed(count={"type": "string"})) == [
        "count: type changed from integer to string"
    ]


def test_a_changed_format_is_a_changed_type() -> None:
    assert _problems(_changed(id={"type": "string"})) == [
        "id: type changed from string/uuid to string"
    ]


def test_becoming_nullable_is_a_changed_type() -> None:
    new = _changed(count={"anyOf": [{"type": "integer"}, {"type": "null"}]})
    assert _problems(new) == ["count: type changed from integer to integer | null"]


def test_a_removed_enum_value_is_named() -> None:
    new = _changed(reason={"enum": ["handover"], "type": "string"})
    assert _problems(new) == ["reason: enum value 'rework' removed"]


def test_changes_inside_a_referenced_model_name_the_nested_path() -> None:
    owner = {"type": "object", "properties": {"name": {"type": "integer"}}, "required": ["name"]}
    assert _problems(_changed(**{"$defs": {"Owner": owner}})) == [
        "owner.name: type changed from string to integer",
        "owner.email: field removed",
    ]


def test_changes_inside_lists_and_maps_name_the_path() -> None:
    new = _changed(
        tags={"type": "array", "items": {"type": "integer"}},
        inputs={"type": "object", "additionalProperties": {"type": "boolean"}},
    )
    assert _problems(new) == [
        "tags[]: type changed from string to integer",
        "inputs{}: type changed from string to boolean",
    ]


def test_a_recursive_schema_terminates() -> None:
    node = {
        "type": "object",
        "properties": {"child": {"anyOf": [{"$ref": "#/$defs/Node"}, {"type": "null"}]}},
    }
    schema = {"$ref": "#/$defs/Node", "$defs": {"Node": node}}
    assert _problems(schema, schema) == []


# --- the same rules on real contracts, changed the way a developer might ---------------


def test_real_contract_adding_an_optional_field_passes() -> None:
    class Widened(DraftApproved):
        signed_at: str | None = None

    old, new = DraftApproved.model_json_schema(), Widened.model_json_schema()
    assert incompatibilities(old, new) == []


def test_real_contract_changes_fail_naming_the_field() -> None:
    class ReasonNarrowed(StepOpened):
        reason: Literal["handover"]

    class CaseFileChanged(CaseFile):
        activity_date: str  # type: ignore[assignment]  # the breaking change under test

    class Changed(DraftApproved):
        level: str  # type: ignore[assignment]  # the breaking change under test
        case: CaseFileChanged
        signed_by: str

    problems = [
        str(p)
        for p in incompatibilities(DraftApproved.model_json_schema(), Changed.model_json_schema())
    ]
    assert "level: type changed from integer to string" in problems
    assert "case.activity_date: type changed from string/date to string" in problems
    assert "signed_by: new required field" in problems
    narrowed = incompatibilities(StepOpened.model_json_schema(), ReasonNarrowed.model_json_schema())
    assert [str(p) for p in narrowed] == ["reason: enum value 'rework' removed"]


def test_real_contract_removing_a_field_fails() -> None:
    class ArchivedWithoutLocation(CaseEvent):
        step: int
        archive_name: str

    old = RecordingArchived.model_json_schema()
    problems = incompatibilities(old, ArchivedWithoutLocation.model_json_schema())
    assert [str(p) for p in problems] == ["location: field removed"]


# --- the snapshot check over all types --------------------------------------------------


def test_a_removed_event_type_and_a_missing_snapshot_are_reported() -> None:
    snapshots = {"prokopim.x.gone.v1": BASE, "prokopim.x.kept.v1": BASE}
    current = {"prokopim.x.kept.v1": _changed(count=None), "prokopim.x.new.v1": BASE}
    assert breaking_changes(snapshots, current) == [
        "prokopim.x.gone.v1: event type removed; published types stay in CONTRACTS for good",
        "prokopim.x.kept.v1: count: field removed",
    ]
    assert missing_snapshots(snapshots, current) == ["prokopim.x.new.v1"]


def test_the_snapshot_writer_records_compatible_changes_and_refuses_breaking_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event_type = "prokopim.x.archived.v1"

    class Widened(RecordingArchived):
        shelf: str | None = None

    class ArchivedWithoutLocation(CaseEvent):
        step: int
        archive_name: str

    assert schema_snapshots.main(tmp_path, {event_type: RecordingArchived}) == 0
    snapshot = tmp_path / f"{event_type}.json"
    first = snapshot.read_text()
    assert schema_snapshots.main(tmp_path, {event_type: ArchivedWithoutLocation}) == 1
    assert f"{event_type}: location: field removed" in capsys.readouterr().err
    assert snapshot.read_text() == first
    assert schema_snapshots.main(tmp_path, {event_type: Widened}) == 0
    assert '"shelf"' in snapshot.read_text()


def test_closing_an_object_to_undeclared_fields_is_compatible_and_reopening_is_not() -> None:
    closed = {**BASE, "additionalProperties": False}
    assert _problems(closed) == []
    assert _problems(BASE, old=closed) == ["<data>: undeclared fields allowed again"]
    assert _problems({**BASE, "additionalProperties": True}, old=closed) == [
        "<data>: undeclared fields allowed again"
    ]
