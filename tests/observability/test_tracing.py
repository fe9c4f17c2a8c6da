"""One command's trace crosses the services: HTTP, append, relay publish, every consumer.

The services run as processes exporting over OTLP/HTTP to a receiver inside the test; the
command carries a W3C traceparent from its caller, so the test knows the trace id to follow.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import asyncpg
import httpx
import pytest
from prokopim_cli.flows import inputs_for, request_body
from prokopim_kit.auth import issue_token
from prokopim_sop import load_catalog

from .conftest import Launch, Launched
from .otlp import ReceivedSpan, Receiver, otlp_receiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

BANDUNG = load_catalog().get("bdg-setda-010-2024")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as running:
        yield running


def bearer(system: Launched, role: str) -> dict[str, str]:
    token = issue_token(system.secret, subject=f"{role}-1", role=role)
    return {"Authorization": f"Bearer {token}"}


async def give_disposition(system: Launched, headers: dict[str, str]) -> str:
    """Register a Bandung case, then give its disposition (handed over to scheduling)."""
    intake = system.running.urls["intake"]
    body = request_body(BANDUNG, "Jejak", date.today() + timedelta(days=5))
    async with httpx.AsyncClient(timeout=30.0) as http:
        created = await http.post(
            f"{intake}/cases", json=body, headers=bearer(system, BANDUNG.step(1).role)
        )
        assert created.status_code == 201, created.text
        case_id: str = created.json()["case_id"]
        step2 = BANDUNG.step(2)
        given = await http.post(
            f"{intake}/cases/{case_id}/disposition",
            json={"instruction": "Jadwalkan", "inputs": inputs_for(step2)},
            headers={**bearer(system, step2.role), **headers},
        )
        assert given.status_code == 200, given.text
    return case_id


async def wait_for(check: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.2)


async def stored_traceparents(database_url: str, case_id: str) -> dict[str, str | None]:
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT type, metadata->>'traceparent' AS tp FROM events"
            " WHERE stream_id LIKE '%' || $1 ORDER BY global_position",
            case_id,
        )
    finally:
        await conn.close()
    return {row["type"]: row["tp"] for row in rows}


async def test_one_command_is_one_trace_across_the_services(
    launch: Launch, receiver: Receiver
) -> None:
    system = await launch(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "100"}
    )
    trace_id = secrets.token_hex(16)
    case_id = await give_disposition(
        system, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}
    )

    def in_trace() -> list[ReceivedSpan]:
        return [s for s in receiver.snapshot() if s.trace_id == trace_id]

    def consumed_by(service: str) -> list[ReceivedSpan]:
        return [s for s in in_trace() if s.service == service and s.kind == "consumer"]

    def published_by_relay(event_type: str) -> bool:
        return any(
            s.service == "prokopim-relay"
            and s.kind == "producer"
            and s.attributes.get("prokopim.event.type") == event_type
            for s in in_trace()
        )

    # scheduling takes the case up, and its step-opened event reaches production in turn.
    # Each process exports its spans in its own batches: the relay's publish span may
    # arrive after production's, so wait for both.
    await wait_for(
        lambda: (
            any(
                s.attributes.get("prokopim.event.type") == "prokopim.scheduling.step-opened.v1"
                for s in consumed_by("prokopim-production")
            )
            and published_by_relay("prokopim.scheduling.step-opened.v1")
        )
    )
    spans = in_trace()
    by_id = {s.span_id: s for s in spans}
    services = {s.service for s in spans}
    assert {"prokopim-intake", "prokopim-relay", "prokopim-scheduling"} <= services

    server = [s for s in spans if s.service == "prokopim-intake" and s.kind == "server"]
    assert [s.attributes.get("http.route") for s in server] == ["/cases/{case_id}/disposition"]
    publishes = [s for s in spans if s.service == "prokopim-relay" and s.kind == "producer"]
    published = {s.attributes["prokopim.event.type"] for s in publishes}
    assert {
        "prokopim.intake.disposition-given.v1",
        "prokopim.scheduling.step-opened.v1",
    } <= published

    # scheduling consumed the disposition as a child of the relay's publish span ...
    (taken_up,) = [
        s
        for s in consumed_by("prokopim-scheduling")
        if s.attributes["prokopim.event.type"] == "prokopim.intake.disposition-given.v1"
    ]
    assert by_id[taken_up.parent_span_id].service == "prokopim-relay"
    # ... whose parent is in intake, where the command was decided
    publish = by_id[taken_up.parent_span_id]
    assert by_id[publish.parent_span_id].service == "prokopim-intake"
    # scheduling's own append is in the same trace, under its consumer span
    appends = [s for s in spans if s.service == "prokopim-scheduling" and s.name == "append"]
    assert any(by_id.get(a.parent_span_id) == taken_up for a in appends)

    stored = await stored_traceparents(system.database_url, case_id)
    for caused in ("prokopim.intake.disposition-given.v1", "prokopim.scheduling.step-opened.v1"):
        traceparent = stored[caused]
        assert traceparent is not None and traceparent.split("-")[1] == trace_id, caused


@pytest.fixture
def default_collector() -> Iterator[Receiver]:
    """A receiver where an SDK told nothing would export to (localhost:4318)."""
    try:
        collector = otlp_receiver(4318)
        running = collector.__enter__()
    except OSError:
        pytest.skip("port 4318 is in use, so an export there could not be told apart")
    yield running
    collector.__exit__(None, None, None)


async def test_without_an_endpoint_nothing_is_exported(
    launch: Launch, default_collector: Receiver
) -> None:
    system = await launch(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
            "OTEL_SERVICE_NAME": "prokopim-untraced",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
        }
    )
    case_id = await give_disposition(system, {})
    stored: dict[str, str | None] = {}
    deadline = time.monotonic() + 60
    while "prokopim.scheduling.step-opened.v1" not in stored:
        assert time.monotonic() < deadline, "the case never reached scheduling"
        await asyncio.sleep(0.2)
        stored = await stored_traceparents(system.database_url, case_id)
    await asyncio.to_thread(system.running.stop)  # a stopping SDK would flush now

    assert default_collector.requests == 0
    assert set(stored.values()) == {None}  # no trace context is made up either
