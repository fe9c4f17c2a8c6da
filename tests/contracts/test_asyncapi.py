"""The AsyncAPI document and the event catalog are current, valid, and match the wire."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prokopim_events import asyncapi, event_catalog
from prokopim_events.contracts import CONTRACTS
from prokopim_events.envelope import StoredEvent
from prokopim_events.samples import sample_data, sample_event
from prokopim_events.topology import Topology

STALE = f"is out of date with the contracts: run `{asyncapi.REGENERATE}` and commit it"


def _document() -> dict[str, Any]:
    """The committed AsyncAPI document (a YAML mapping; its nested parts are read untyped)."""
    document = yaml.safe_load(asyncapi.ASYNCAPI_PATH.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


@pytest.mark.unit
def test_committed_asyncapi_document_is_what_the_code_generates() -> None:
    assert asyncapi.ASYNCAPI_PATH.read_text(encoding="utf-8") == asyncapi.render(), (
        f"docs/asyncapi.yaml {STALE}"
    )


@pytest.mark.unit
def test_committed_event_catalog_is_what_the_code_generates() -> None:
    text = event_catalog.CATALOG_PATH.read_text(encoding="utf-8")
    assert text == event_catalog.update_catalog(text), f"docs/events.md {STALE}"


@pytest.mark.unit
def test_every_published_type_has_a_channel_and_a_catalog_section() -> None:
    channels = _document()["channels"]
    catalog = event_catalog.CATALOG_PATH.read_text(encoding="utf-8")
    assert isinstance(channels, dict)
    for event_type in CONTRACTS:
        assert channels[event_type]["address"] == event_type
        assert f"\n### {event_type}\n" in catalog, f"docs/events.md lacks {event_type}"


@pytest.mark.unit
def test_a_namespace_prefixes_every_channel() -> None:
    document = yaml.safe_load(asyncapi.render(Topology(namespace="ns")))
    addresses = [channel["address"] for channel in document["channels"].values()]
    assert addresses == [f"ns.{event_type}" for event_type in CONTRACTS]


@pytest.mark.unit
@pytest.mark.parametrize("event_type", list(CONTRACTS))
def test_the_documented_payload_schema_accepts_the_message_the_relay_publishes(
    event_type: str,
) -> None:
    document = _document()
    message = document["components"]["messages"][f"{event_type}:Message"]
    schema = {"$ref": message["payload"]["$ref"], "components": document["components"]}
    wire = StoredEvent.from_json(sample_event(event_type).to_json()).to_cloudevent()
    jsonschema.validate(wire, schema)
    wrong = wire | {"type": "prokopim.other.thing.v1"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


@pytest.mark.unit
@pytest.mark.parametrize("event_type", list(CONTRACTS))
def test_samples_are_complete_valid_contracts(event_type: str) -> None:
    data = sample_data(event_type)
    assert CONTRACTS[event_type].model_validate(data).model_dump(mode="json") == data


@pytest.mark.timeout(900)  # the first run installs @asyncapi/cli from npm
def test_official_asyncapi_cli_validates_the_document(asyncapi_cli: list[str]) -> None:
    result = subprocess.run(
        [*asyncapi_cli, "validate", str(asyncapi.ASYNCAPI_PATH), "--fail-severity", "warn"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is valid" in result.stdout


@pytest.mark.timeout(900)
def test_official_asyncapi_cli_rejects_a_broken_document(
    asyncapi_cli: list[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(asyncapi.render().replace("action: send", "action: shout", 1))
    result = subprocess.run(
        [*asyncapi_cli, "validate", str(broken)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0, result.stdout
