"""Committed JSON Schema snapshots of every published contract, and the check against them.

`libs/events/schemas/<type>.json` records the schema of a type's `data` as published.
`check` compares the snapshots with the contracts' current schemas (see `schema_compat`
for what counts as breaking). Run as a program it records new types and compatible
changes, and refuses to overwrite a snapshot with an incompatible schema:

    .venv/bin/python -m prokopim_events.schema_snapshots
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .contracts import CONTRACTS, Contract
from .schema_compat import incompatibilities

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"
WRITE = ".venv/bin/python -m prokopim_events.schema_snapshots"
Schema = dict[str, Any]


def current_schemas(contracts: Mapping[str, type[Contract]] = CONTRACTS) -> dict[str, Schema]:
    """Return the JSON Schema of every contract's data, by event type."""
    return {event_type: model.model_json_schema() for event_type, model in contracts.items()}


def load_snapshots(directory: Path = SCHEMAS_DIR) -> dict[str, Schema]:
    """Return the committed snapshots, by event type."""
    return {
        path.name.removesuffix(".json"): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("*.json"))
    }


def render(schema: Schema) -> str:
    """Return a snapshot file's text."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def breaking_changes(snapshots: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    """Return every incompatible change, as `<type>: <field>: <problem>` lines."""
    problems = [
        f"{event_type}: event type removed; published types stay in CONTRACTS for good"
        for event_type in snapshots
        if event_type not in current
    ]
    for event_type, schema in current.items():
        if event_type in snapshots:
            problems += [
                f"{event_type}: {problem}"
                for problem in incompatibilities(snapshots[event_type], schema)
            ]
    return problems


def missing_snapshots(snapshots: Mapping[str, Schema], current: Mapping[str, Schema]) -> list[str]:
    """Return the event types that have no snapshot yet."""
    return [event_type for event_type in current if event_type not in snapshots]


def write_snapshots(current: Mapping[str, Schema], directory: Path = SCHEMAS_DIR) -> list[Path]:
    """Write the snapshots that differ from `current`; return the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for event_type, schema in current.items():
        path = directory / f"{event_type}.json"
        text = render(schema)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main(directory: Path = SCHEMAS_DIR, contracts: Mapping[str, type[Contract]] = CONTRACTS) -> int:
    """Record new and compatibly changed schemas; refuse (exit 1) on a breaking change."""
    current = current_schemas(contracts)
    problems = breaking_changes(load_snapshots(directory), current)
    if problems:
        print("refusing to update the snapshots: incompatible changes", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        print("publish a new `.vN` type with an upcaster instead (docs/events.md)", file=sys.stderr)
        return 1
    for path in write_snapshots(current, directory):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
