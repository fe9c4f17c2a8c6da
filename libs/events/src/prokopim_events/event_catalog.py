"""The generated half of docs/events.md: one section per published event type.

Everything here is read off the code: the summary and "when" from each contract's
docstring, the fields from its JSON Schema, the example from `samples`, the subject from
`topology`. `update_catalog` replaces only the text between the two markers, so the
hand-written parts of the page stay as written. `python -m prokopim_events.asyncapi`
rewrites it together with docs/asyncapi.yaml.
"""

from __future__ import annotations

import json
from typing import Any

from .asyncapi import REGENERATE, REPO_ROOT, details, summary
from .contracts import CONTRACTS, Contract, audience, service_of
from .samples import PUBLISHER, sample_event
from .topology import Topology

CATALOG_PATH = REPO_ROOT / "docs" / "events.md"
SCHEMAS_LINK = "../libs/events/schemas"
BEGIN = "<!-- BEGIN GENERATED CATALOG: edit the contracts, then run `{command}` -->"
END = "<!-- END GENERATED CATALOG -->"
AUDIENCES = {
    "public": "a promise to subscribers, changed only by the versioning rules",
    "internal": "a service's own bookkeeping; relayed, but do not build on it",
}


def render_catalog(topology: Topology | None = None) -> str:
    """Return the markdown of every event type, with an index and the shared types."""
    topology = topology or Topology()
    shared: dict[str, dict[str, Any]] = {}
    lines = [
        "| event type | published by | for | what happened |",
        "|---|---|---|---|",
    ]
    for event_type, contract in CONTRACTS.items():
        anchor = event_type.replace(".", "")
        lines.append(
            f"| [`{event_type}`](#{anchor}) | {publisher(event_type)} | {audience(event_type)}"
            f" | {summary(contract)} |"
        )
    for event_type, contract in CONTRACTS.items():
        lines += ["", *_section(event_type, contract, topology, shared)]
    lines += ["", "### Types used in several events", ""]
    for name in sorted(shared):
        lines += [f"#### {name}", "", *_fields_table(shared[name]), ""]
    return "\n".join(lines).rstrip() + "\n"


def update_catalog(document: str, topology: Topology | None = None) -> str:
    """Return `document` with the text between the catalog markers regenerated."""
    begin = BEGIN.format(command=REGENERATE)
    head, found, rest = document.partition(begin)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise ValueError(f"{CATALOG_PATH} lacks the markers {begin!r} ... {END!r}")
    return f"{head}{begin}\n\n{render_catalog(topology)}\n{END}{tail}"


def _section(
    event_type: str, contract: type[Contract], topology: Topology, shared: dict[str, Any]
) -> list[str]:
    schema = contract.model_json_schema()
    shared.update(schema.get("$defs", {}))
    example = sample_event(event_type)
    stream = example.stream_id.replace(str(example.data.get("case_id")), "<case_id>")
    lines = [
        f"### {event_type}",
        "",
        f"**{contract.__name__}**: {summary(contract)}",
        "",
    ]
    if text := details(contract):
        lines += [" ".join(text.split()), ""]
    lines += [
        f"- audience: **{audience(event_type)}** ({AUDIENCES[audience(event_type)]})",
        f"- subject: `{topology.subject(event_type)}`"
        f" (namespace `ns`: `{Topology('ns').subject(event_type)}`)",
        f"- CloudEvents `source`: `{example.source}`; `subject` (the stream): `{stream}`",
        f"- JSON Schema of `data`: [{event_type}.json]({SCHEMAS_LINK}/{event_type}.json)",
        "",
        *_fields_table(schema),
        "",
        "<details><summary>Example (the whole message)</summary>",
        "",
        "```json",
        json.dumps(example.to_cloudevent(), indent=2, ensure_ascii=False),
        "```",
        "",
        "</details>",
    ]
    return lines


def _fields_table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = ["| field | type | required | description |", "|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        description = prop.get("description", "").replace("|", "\\|").replace("\n", " ")
        rows.append(
            f"| `{name}` | {type_name(prop)} | {'yes' if name in required else 'no'} |"
            f" {description} |"
        )
    return rows


def publisher(event_type: str) -> str:
    """Return the service that publishes an event type."""
    return PUBLISHER.get(service_of(event_type), service_of(event_type))


def type_name(node: dict[str, Any]) -> str:
    """Return a short readable name of a JSON Schema type, e.g. `list of Attachment`."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " \\| ".join(f"`{json.dumps(value)}`" for value in node["enum"])
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(type_name(branch) for branch in node[key])
    kind = node.get("type", "any")
    if kind == "array":
        return f"list of {type_name(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), dict):
        return f"map of {type_name(node['additionalProperties'])}"
    return f"{kind} ({node['format']})" if "format" in node else str(kind)
