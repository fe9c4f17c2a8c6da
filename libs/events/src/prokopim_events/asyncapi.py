"""The AsyncAPI 3.0 document of every event prokopim publishes, generated from the code.

One FastStream publisher per contract in `contracts.CONTRACTS`, on the subject the relay
publishes it on (default namespace), whose payload is the CloudEvents 1.0 envelope with the
contract as `data`. FastStream writes the channels, operations and schemas; `describe`
then adds what it cannot know: the relay's headers, where the correlation id lives, each
message's name, summary and an example.

    .venv/bin/python -m prokopim_events.asyncapi          # rewrite both documents
    .venv/bin/python -m prokopim_events.asyncapi --check  # exit 1 if either is out of date
    faststream docs gen --factory prokopim_events.asyncapi:create_app --yaml  # without `describe`
"""

from __future__ import annotations

import argparse
import inspect
import sys
from io import StringIO
from pathlib import Path
from typing import Any, Literal

import yaml
from faststream import FastStream
from faststream.nats import NatsBroker
from faststream.specification import AsyncAPI
from pydantic import BaseModel, Field, create_model

from .contracts import CONTRACTS, Contract, audience
from .samples import sample_event
from .topology import Topology

TITLE = "prokopim events"
VERSION = "1.0.0"
REPO_ROOT = Path(__file__).resolve().parents[4]
ASYNCAPI_PATH = REPO_ROOT / "docs" / "asyncapi.yaml"
REGENERATE = ".venv/bin/python -m prokopim_events.asyncapi"
DESCRIPTION = """\
Every domain event prokopim stores is published by the outbox relay to the JetStream
stream `PROKOPIM` (subjects `prokopim.>`; an installation with namespace `ns` uses stream
`PROKOPIM_NS` and subjects `ns.prokopim.>`). One subject per event type; the message is a
CloudEvents 1.0 structured-mode JSON document whose `data` is the event's contract.

Subscribe with a durable pull consumer (`DeliverPolicy.ALL` to replay from the beginning,
then follow live), explicit ack after your effect is committed, and dedupe by the
CloudEvents `id` (equal to the `Nats-Msg-Id` header): the relay may re-publish after a
restart. Event catalog, versioning rules and a runnable subscriber: docs/events.md.
"""
HEADERS = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {
            "type": "string",
            "format": "uuid",
            "description": "the event id (CloudEvents `id`); JetStream drops repeats "
            "inside the stream's duplicate window",
        },
        "traceparent": {
            "type": "string",
            "description": "W3C trace context of the command that caused the event",
        },
    },
    "required": ["Nats-Msg-Id"],
}


class CloudEvent(BaseModel):
    """CloudEvents 1.0 structured-mode envelope, as the relay publishes it."""

    specversion: Literal["1.0"] = Field(description="CloudEvents spec version")
    id: str = Field(description="event id (uuid), set once when stored; dedupe on it")
    source: str = Field(description="the publishing service, e.g. `/prokopim/review`")
    subject: str = Field(description="the stream the event belongs to, `<service>-<case_id>`")
    time: str = Field(description="when it happened (RFC 3339)")
    datacontenttype: Literal["application/json"] = Field(description="always JSON")
    streamversion: int = Field(description="position in its stream, from 1")
    position: int = Field(description="position in the global log; increases in commit order")
    recordedtime: str = Field(description="when the store recorded it (RFC 3339)")
    actorid: str = Field(description="who caused it (a user id, or a service name)")
    actorrole: str = Field(description="the SOP role they acted in (`system` for services)")
    actorname: str | None = Field(default=None, description="the actor's display name")
    correlationid: str = Field(description="id shared by every event of one flow (uuid)")
    causationid: str | None = Field(default=None, description="the event that caused this one")
    traceparent: str | None = Field(default=None, description="W3C trace context")


def envelope_model(contract: type[Contract]) -> type[CloudEvent]:
    """Return the CloudEvent model of one contract: its `type` fixed, its `data` typed."""
    event_type = contract.TYPE
    return create_model(
        f"{contract.__name__}Event",
        __base__=CloudEvent,
        __doc__=f"CloudEvent carrying `{event_type}`.",
        type=(Literal[event_type], Field(description="the event type (= subject)")),  # type: ignore[arg-type]
        data=(contract, Field(description="the event's contract")),
    )


def create_app(topology: Topology | None = None) -> FastStream:
    """Return a FastStream app declaring a publisher per published contract (no connection)."""
    topology = topology or Topology()
    broker = NatsBroker(
        "nats://localhost:4222",
        specification_url="nats://localhost:4222",
        protocol_version=None,
        description="NATS with JetStream; events live in the stream "
        f"`{topology.stream}` (subjects `{topology.all_events}`)",
    )
    for event_type, contract in CONTRACTS.items():
        broker.publisher(
            topology.subject(event_type),
            stream=topology.stream,
            schema=envelope_model(contract),
            title=event_type,
            description=summary(contract),
        )
    spec = AsyncAPI(
        broker, title=TITLE, version=VERSION, description=DESCRIPTION, schema_version="3.0.0"
    )
    return FastStream(broker, specification=spec)


def summary(contract: type[Contract]) -> str:
    """Return the first line of a contract's docstring."""
    return (inspect.getdoc(contract) or contract.__name__).splitlines()[0]


def details(contract: type[Contract]) -> str:
    """Return a contract's docstring after its first line."""
    return "\n".join((inspect.getdoc(contract) or "").splitlines()[1:]).strip()


def describe(document: dict[str, Any]) -> dict[str, Any]:
    """Add the relay's headers, the correlation id, names, summaries and examples."""
    _order(document)
    messages = document["components"]["messages"]
    for event_type, contract in CONTRACTS.items():
        message = messages[f"{event_type}:Message"]
        event = sample_event(event_type)
        message["name"] = contract.__name__
        message["summary"] = summary(contract)
        if text := details(contract):
            message["description"] = text
        message["tags"] = [{"name": audience(event_type)}]
        message["contentType"] = "application/json"
        message["headers"] = HEADERS
        message["correlationId"] = {
            "description": "shared by every event of one case: its first event's id",
            "location": "$message.payload#/correlationid",
        }
        message["examples"] = [
            {
                "name": contract.__name__,
                "headers": {"Nats-Msg-Id": str(event.event_id), "traceparent": event.traceparent},
                "payload": event.to_cloudevent(),
            }
        ]
    return document


def _order(document: dict[str, Any]) -> None:
    """Put channels, operations and messages in catalog order, schemas by name.

    FastStream keeps publishers in a set, so its order changes from run to run.
    """
    names = list(CONTRACTS)  # channels are named by type; their address has the namespace
    components = document["components"]
    for parent, key, order in (
        (document, "channels", names),
        (document, "operations", names),
        (components, "messages", [f"{name}:Message" for name in names]),
        (components, "schemas", sorted(components["schemas"])),
    ):
        parent[key] = {name: parent[key][name] for name in order}


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, so descriptions read as written."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # no &id001 anchors: every message spells out its headers


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def render(topology: Topology | None = None) -> str:
    """Return the AsyncAPI document as YAML."""
    topology = topology or Topology()
    app = create_app(topology)
    assert app.schema is not None
    document = describe(app.schema.to_specification().to_jsonable())
    out = StringIO(newline="\n")
    yaml.dump(document, out, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Write (or with --check, verify) docs/asyncapi.yaml and the catalog in docs/events.md."""
    from .event_catalog import CATALOG_PATH, update_catalog

    parser = argparse.ArgumentParser(prog="python -m prokopim_events.asyncapi")
    parser.add_argument("--check", action="store_true", help="fail if a document is stale")
    args = parser.parse_args(argv)
    wanted = {
        ASYNCAPI_PATH: render(),
        CATALOG_PATH: update_catalog(CATALOG_PATH.read_text(encoding="utf-8")),
    }
    stale = [p for p, text in wanted.items() if _read(p) != text]
    for path in stale:
        if args.check:
            print(f"{path} is out of date: run `{REGENERATE}`", file=sys.stderr)
        else:
            path.write_text(wanted[path], encoding="utf-8")
            print(f"wrote {path}")
    return 1 if args.check and stale else 0


def _read(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.exists() else None


if __name__ == "__main__":
    sys.exit(main())
