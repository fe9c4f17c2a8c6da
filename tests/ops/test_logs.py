"""JSON logs: every line of every process parses, and a hand-over's lines carry its ids."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from nats.aio.client import Client as NatsClient
from prokopim_cli.flows import inputs_for, request_body
from prokopim_cli.system import SERVICES, start_system
from prokopim_devstack.infra import Infra
from prokopim_events.logs import configure_logging, log_context
from prokopim_events.topology import Topology
from prokopim_kit.auth import issue_token
from prokopim_sop import load_catalog
from prokopim_testing.ports import free_port

from .conftest import wait_until

BANDUNG = load_catalog().get("bdg-setda-010-2024")


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """A buffer to configure logging with; the configuration is restored afterwards."""
    stream = io.StringIO()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield stream
    root.handlers, root.level = handlers, level
    structlog.reset_defaults()


@pytest.mark.unit
def test_a_json_line_has_time_level_message_the_bound_ids_and_the_exception(
    captured: io.StringIO,
) -> None:
    configure_logging("INFO", "json", captured)
    log = logging.getLogger("prokopim.test")
    case_id = uuid.uuid4()
    with log_context(case_id=case_id, consumer="scheduling", step=3, event_id=None):
        log.info("case %s opened at step %s", case_id, 3)
        try:
            raise LookupError("no such SOP")
        except LookupError:
            log.exception("handler failed")
    log.debug("not at INFO")
    log.warning("outside the context")
    opened, failed, outside = (json.loads(line) for line in captured.getvalue().splitlines())
    assert opened["message"] == f"case {case_id} opened at step 3"
    assert (opened["level"], opened["logger"]) == ("info", "prokopim.test")
    assert opened["timestamp"].endswith("Z") and opened["timestamp"][:4].isdigit()
    assert opened["case_id"] == str(case_id)
    assert (opened["consumer"], opened["step"]) == ("scheduling", 3)
    assert "event_id" not in opened  # None is left out, not written as null
    assert failed["level"] == "error" and "LookupError: no such SOP" in failed["exception"]
    assert "case_id" not in outside and outside["level"] == "warning"


@pytest.mark.unit
def test_text_format_is_one_readable_line(captured: io.StringIO) -> None:
    configure_logging("INFO", "text", captured)
    secret = "s3cr3t-token"  # a local variable a rich traceback would print
    with log_context(case_id="c-1"):
        logging.getLogger("prokopim.test").info("hello")
        try:
            raise ValueError(len(secret))
        except ValueError:
            logging.getLogger("prokopim.test").exception("failed")
    first, *rest = captured.getvalue().splitlines()
    assert "[info" in first and "hello" in first and "case_id=c-1" in first
    assert "Traceback (most recent call last):" in rest[1] and "ValueError: 12" in rest[-1]
    assert secret not in captured.getvalue()


@pytest.fixture
def otlp_sink() -> Iterator[str]:
    """An OTLP/HTTP endpoint that accepts and drops spans: tracing on, nothing to read."""

    class Sink(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Parse every line of a process's log; fail naming a line that is not JSON."""
    parsed = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line!r}") from None
    return parsed


@pytest.mark.e2e
@pytest.mark.timeout(300)  # six processes start at once: slow on a busy 2-core machine
async def test_every_process_logs_json_and_a_hand_over_carries_case_event_trace_and_consumer(
    infra: Infra,
    database_url: str,
    topology: Topology,
    nats_client: NatsClient,
    tmp_path: Path,
    otlp_sink: str,
) -> None:
    secret = secrets.token_urlsafe(40)
    env = {
        "DATABASE_URL": database_url,
        "NATS_URL": infra.nats_url,
        "PROKOPIM_NAMESPACE": topology.namespace,
        "JWT_SECRET": secret,
        "ARCHIVE_DIR": str(tmp_path / "archive"),
        "METRICS_PORT": str(free_port()),
        "METRICS_HOST": "127.0.0.1",
        "LOG_FORMAT": "json",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_sink,
    }
    ports = {name: free_port() for name in SERVICES}
    running = await asyncio.to_thread(
        start_system, env, tmp_path / "logs", ports=ports, ready_within=180
    )
    try:
        case_id = await hand_over_to_scheduling(running.urls, secret)
        conn = await asyncpg.connect(database_url)
        try:
            disposition = await conn.fetchrow(
                "SELECT event_id, metadata->>'traceparent' AS traceparent FROM events"
                " WHERE type = 'prokopim.intake.disposition-given.v1' AND data->>'case_id' = $1",
                case_id,
            )
            assert disposition is not None

            async def opened() -> bool:
                return bool(
                    await conn.fetchval(
                        "SELECT true FROM events WHERE type = $1 AND data->>'case_id' = $2",
                        "prokopim.scheduling.step-opened.v1",
                        case_id,
                    )
                )

            await wait_until(opened, "scheduling opened step 3", 60)
        finally:
            await conn.close()
    finally:
        await asyncio.to_thread(running.stop)

    logs = {name: read_lines(path) for name, path in running.logs.items()}
    assert set(logs) == {"relay", *SERVICES}
    for name, lines in logs.items():
        assert lines, f"{name} logged nothing"
        for line in lines:
            assert {"timestamp", "level", "message"} <= set(line), (name, line)
    [handled] = [
        line
        for line in logs["scheduling"]
        if line.get("case_id") == case_id and "opened at step 3" in line["message"]
    ]
    assert handled["consumer"] == "prokopim-scheduling"
    assert handled["event_id"] == str(disposition["event_id"])
    assert handled["event_type"] == "prokopim.intake.disposition-given.v1"
    assert handled["step"] == 2  # the step the hand-over completed
    assert handled["trace_id"] == disposition["traceparent"].split("-")[1]


async def hand_over_to_scheduling(urls: dict[str, str], secret: str) -> str:
    """Register a Bandung case and give its disposition: intake hands it to scheduling."""

    def auth(step: int) -> dict[str, str]:
        role = BANDUNG.step(step).role
        return {"Authorization": f"Bearer {issue_token(secret, subject='on-call', role=role)}"}

    body = request_body(BANDUNG, "Peresmian Taman Kota", date.today() + timedelta(days=7))
    async with httpx.AsyncClient(base_url=urls["intake"], timeout=30) as http:
        created = await http.post("/cases", json=body, headers=auth(1))
        assert created.status_code == 201, created.text
        case_id: str = created.json()["case_id"]
        given = await http.post(
            f"/cases/{case_id}/disposition",
            json={"instruction": "Tindak lanjuti", "inputs": inputs_for(BANDUNG.step(2))},
            headers=auth(2),
        )
        assert given.status_code < 300, given.text
    return case_id
